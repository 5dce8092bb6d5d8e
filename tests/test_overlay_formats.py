"""The overlay's memory formats, property-tested: the program codec (descriptor fields from
the contract), weight tiles as the loader expands them, requant records, activation
tables and tensors, and the register view of a configuration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.contract import CONTRACT
from plutflow.overlay.emulator import Emulator
from plutflow.overlay.pack import (
    memory_to_tensor,
    requant_block,
    table_block,
    tensor_to_memory,
    tile_beats,
    tile_block,
)
from plutflow.overlay.program import DESC_BYTES, Descriptor, decode, encode

FIELDS = CONTRACT.fields
SETTABLE = sorted(set(FIELDS) - {"MAGIC", "VERSION", "KIND", "FLAGS"})


@st.composite
def descriptors(draw) -> Descriptor:
    kind = draw(st.sampled_from(sorted(CONTRACT.kinds)))
    flags = draw(st.sets(st.sampled_from(sorted(CONTRACT.flags))))
    names = draw(st.lists(st.sampled_from(SETTABLE), unique=True, max_size=20))
    values = {}
    for n in names:
        f = FIELDS[n]
        lo, hi = (-(1 << (f.width - 1)), (1 << (f.width - 1)) - 1) if f.signed else (
            0, (1 << f.width) - 1)  # fmt: skip
        values[n] = draw(st.integers(lo, hi))
    return Descriptor(kind, flags, values)


@settings(max_examples=200, deadline=None)
@given(st.lists(descriptors(), min_size=1, max_size=5))
def test_program_codec_round_trip(descs: list[Descriptor]) -> None:
    raw = encode(descs)
    assert len(raw) == DESC_BYTES * len(descs)
    back = decode(raw)
    for a, b in zip(descs, back, strict=True):
        assert b.kind == a.kind and b.flags == a.flags
        for name in SETTABLE:
            assert b[name] == a[name], name


def test_codec_refuses_bad_words() -> None:
    raw = bytearray(encode([Descriptor("CONV")]))
    raw[0] ^= 1  # magic
    with pytest.raises(ValueError, match="magic"):
        decode(bytes(raw))
    with pytest.raises(ValueError, match="kind"):
        Descriptor("WINOGRAD")
    with pytest.raises(ValueError, match="flags"):
        Descriptor("CONV", {"FAST"})
    f = FIELDS["OH"]
    with pytest.raises(ValueError):
        Descriptor("CONV", values={"OH": 1 << f.width}).words()


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8), st.sampled_from([4, 8, 16]), st.integers(1, 5), st.data())
def test_weight_tiles_expand_to_their_fields(wbits: int, p: int, ntiles: int, data) -> None:
    """tile_block packs fields LSB-first per tile; the loader (emulator) expands them to
    the same fields, lane (o, i) at o*P + i."""
    hi = (1 << wbits) - 1
    fields = np.array(data.draw(st.lists(st.integers(0, hi), min_size=ntiles * p * p,
                                         max_size=ntiles * p * p)))  # fmt: skip
    fields = fields.reshape(ntiles, p, p)
    raw = np.frombuffer(tile_block(fields, wbits, p), np.uint8)
    assert raw.size == ntiles * tile_beats(wbits, p) * p
    cfg = OverlayConfig.for_pe("shift" if wbits < 8 else "int8", p=p,
                               **({"wbits": wbits, "b2": 0} if wbits < 8 else {}))  # fmt: skip
    emu = Emulator(cfg, np.zeros(16, np.uint8))
    tiles = np.zeros((ntiles, p * p), np.uint8)
    tb = tile_beats(wbits, p)
    tiles[:, : tb * p] = raw.reshape(ntiles, tb * p)
    lanes = emu._expand(tiles, wbits)
    assert np.array_equal(lanes.reshape(ntiles, p, p), fields & 0xFF)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 40), st.sampled_from([4, 16]), st.data())
def test_requant_records_and_tables(m: int, p: int, data) -> None:
    bias = np.array(data.draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=m, max_size=m)))
    mult = np.array(data.draw(st.lists(st.integers(0, 2**16 - 1), min_size=m, max_size=m)))
    shift = np.array(data.draw(st.lists(st.integers(0, 63), min_size=m, max_size=m)))
    rec = np.frombuffer(requant_block(bias, mult, shift, p), "<u8").astype(np.int64)
    assert rec.size == -(-m // p) * p and not rec[m:].any()
    assert np.array_equal(((rec[:m] & 0xFFFFFFFF) ^ (1 << 31)) - (1 << 31), bias)
    assert np.array_equal((rec[:m] >> 32) & 0xFFFF, mult)
    assert np.array_equal((rec[:m] >> 48) & 0x3F, shift)
    seed = data.draw(st.integers(0, 2**32 - 1))
    tables = np.random.default_rng(seed).integers(-128, 128, (m, 256))
    blk = np.frombuffer(table_block(tables, p), np.uint8).reshape(-1, 256, p)
    for c in range(m):  # slot c // P, beat e, lane c % P
        assert np.array_equal(blk[c // p, :, c % p].view(np.int8), tables[c])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 3), st.integers(1, 37), st.integers(1, 6), st.integers(1, 6),
       st.sampled_from([4, 16]), st.booleans())  # fmt: skip
def test_tensor_layout_round_trip(n: int, c: int, h: int, w: int, p: int, signed: bool) -> None:
    rng = np.random.default_rng(c * h + w)
    dt = np.int8 if signed else np.uint8
    x = rng.integers(np.iinfo(dt).min, np.iinfo(dt).max + 1, (n, c, h, w)).astype(dt)
    mem = tensor_to_memory(x, p)
    assert mem.shape == (n, h, w, -(-c // p) * p) and not mem[..., c:].any()
    assert np.array_equal(memory_to_tensor(mem, c, dt), x)


@pytest.mark.parametrize("name", [*CONTRACT.overlay_names, "small"])
def test_configuration_registers_round_trip(name: str) -> None:
    cfg = OverlayConfig.named(name)
    r = cfg.registers()
    assert OverlayConfig.from_registers(r["PE_CONFIG"], r["BUF_CONFIG"], r["BUF_CONFIG2"]) == cfg
