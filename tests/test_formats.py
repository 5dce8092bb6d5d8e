"""Packers: exact bit layout and round trips for every width, scheme and awkward shape."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plutflow.formats import pack_fields, pack_layer, unpack_fields, unpack_layer
from plutflow.formats.layers import pack_requant, unpack_requant
from plutflow.intmodel import IntLayer, TensorSpec
from plutflow.quant.tables import product_table
from plutflow.quant.weights import quantize_weights


@settings(max_examples=300)
@given(
    st.integers(1, 20).map(lambda b: b if b <= 16 else {17: 24, 18: 32, 19: 48, 20: 64}[b]),
    st.integers(0, 300),
    st.sampled_from([64, 128]),
    st.booleans(),
    st.data(),
)
def test_fields_round_trip(bits: int, count: int, word_bits: int, signed: bool, data) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if bits == 64:
        lo, hi = (-(2**63), 2**63 - 1) if signed else (0, 2**63 - 1)
    values = rng.integers(lo, hi, count, endpoint=True, dtype=np.int64)
    words = pack_fields(values, bits, word_bits)
    assert words.dtype == np.uint64
    assert words.nbytes % (word_bits // 8) == 0
    assert words.nbytes == -(-count * bits // word_bits) * word_bits // 8  # dense
    assert np.array_equal(unpack_fields(words, bits, count, signed=signed), values)


def test_bit_layout_is_lsb_first_and_straddles_words() -> None:
    words = pack_fields(np.array([1, 2, 3]), 3)
    assert words.tolist() == [1 | 2 << 3 | 3 << 6]
    # field 21 of width 3 covers stream bits 63..65: bit 63 of word 0, bits 0-1 of word 1
    v = np.zeros(22, np.int64)
    v[21] = 0b101
    words = pack_fields(v, 3)
    assert words.tolist() == [1 << 63, 0b10]
    assert pack_fields(np.array([-1, 0]), 4).tolist() == [0xF]  # two's complement
    assert pack_fields(np.arange(3), 8, word_bits=128).size == 2  # a 128-bit word


def test_dense_packing_ratios() -> None:
    w = np.zeros(3 * 64 * 100, np.int8)  # a multiple of 64 weights: no partial word
    float_bytes = w.size * 4
    assert float_bytes / pack_fields(w, 4).nbytes == 8.0
    assert float_bytes / pack_fields(w, 3).nbytes == pytest.approx(32 / 3)


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValueError, match="do not fit 4-bit"):
        pack_fields(np.array([8, -1]), 4)
    with pytest.raises(ValueError, match="do not fit 3-bit"):
        pack_fields(np.array([8]), 3)
    with pytest.raises(ValueError, match="integer"):
        pack_fields(np.array([0.5]), 8)


@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=40), st.data())
def test_requant_records(bias, data) -> None:
    n = len(bias)
    mult = np.array(data.draw(st.lists(st.integers(0, 2**16 - 1), min_size=n, max_size=n)))
    shift = np.array(data.draw(st.lists(st.integers(0, 63), min_size=n, max_size=n)))
    b, m, s = unpack_requant(pack_requant(np.array(bias), mult, shift), n)
    assert b.tolist() == bias and m.tolist() == mult.tolist() and s.tolist() == shift.tolist()


SHAPES = [(3, 5, 3, 3), (7, 1, 3, 3), (5, 3, 1, 1), (1, 1, 1, 1), (9, 13), (2, 7, 5, 2)]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(SHAPES),
    st.sampled_from(["int8", "uniform", "pot", "upot", "plut"]),
    st.integers(2, 8),
    st.sampled_from([64, 128]),
    st.integers(0, 2**32 - 1),
)
def test_layer_round_trip(shape, scheme, bits, word_bits, seed) -> None:
    if scheme == "int8":
        bits = 8
    if (scheme in ("pot", "plut") and bits > 4) or (scheme == "upot" and bits > 5):
        bits = 4
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape)
    q = quantize_weights(w, scheme, bits)
    m = shape[0]
    params = {
        "bias": rng.integers(-(2**31), 2**31, m).astype(np.int32),
        "mult": rng.integers(2**15, 2**16, m).astype(np.int32),
        "shift": rng.integers(0, 63, m).astype(np.int32),
    }
    if q.codes is None:
        params["weight"] = q.values
    else:
        params.update(weight_codes=q.codes, levels=q.levels)
    if scheme == "plut":
        params["product_table"] = product_table(q.levels, bits, TensorSpec((), "uint8", 0, 1.0, 4))
    op = "gemm" if len(shape) == 2 else "conv"
    layer = IntLayer(
        "l",
        op,
        ["x"],
        ["y"],
        {"weight_scheme": q.scheme, "weight_bits": bits, "terms": q.terms},
        params,
    )
    packed = pack_layer(layer, word_bits)
    assert packed.weight_bytes == -(-w.size * bits // word_bits) * word_bits // 8
    back = unpack_layer(packed)
    for key, arr in back.items():
        assert np.array_equal(arr, params[key]), key


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(0, 3000), st.integers(0, 2**31 - 1))
def test_small_field_packer_matches_the_bit_matrix_reference(bits, count, seed) -> None:
    """The byte-wise and SWAR packers of 1..8-bit fields equal np.packbits of the bits."""
    from plutflow.formats.bitpack import _bytes_generic, _bytes_small

    f = np.random.default_rng(seed).integers(0, 1 << bits, count).astype(np.uint8)
    want = _bytes_generic(f, bits)
    got = _bytes_small(f, bits)
    assert np.array_equal(got[: want.size], want) and not got[want.size :].any()


def test_swar_packer_across_chunks() -> None:
    """Enough 3-bit fields for several SWAR chunks (65,536 groups of 8 each)."""
    from plutflow.formats.bitpack import _bytes_generic, _bytes_small

    f = np.random.default_rng(0).integers(0, 8, 8 * 150_001 + 5).astype(np.uint8)
    want = _bytes_generic(f, 3)
    assert np.array_equal(_bytes_small(f, 3)[: want.size], want)
