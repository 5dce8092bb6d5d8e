"""Packing conv/gemm layers into the accelerator's streams (docs/spec.md section 7).

A packed layer has up to three streams, each densely packed with
:func:`~plutflow.formats.bitpack.pack_fields`:

- ``weights``: one field per weight, in (output channel, kernel taps..., input channel)
  order (channels innermost, matching the golden im2col order). int8 and uniform k-bit
  weights are k-bit two's complement values; pot, upot and plut weights are the k-bit
  sign-magnitude codes.
- ``table`` (plut only): the product table ``T[w_code][a_index]`` as 16-bit two's
  complement fields, row-major by weight code.
- ``requant``: one 64-bit record per output channel: bias (int32, bits 0-31), M0 (bits
  32-47) and n (bits 48-53); bits 54-63 are zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from plutflow.formats.bitpack import pack_fields, packed_bytes, unpack_fields
from plutflow.intmodel.model import IntLayer, IntModel
from plutflow.intmodel.schema import stored_weights, weight_bits, weight_scheme

TABLE_BITS = 16
REQUANT_BITS = 64


@dataclass
class PackedLayer:
    """The streams of one conv/gemm layer and what is needed to read them back."""

    name: str
    op: str
    scheme: str
    weight_bits: int
    weight_shape: tuple[int, ...]  # (M, C/group, *kernel) as in the integer model
    word_bits: int
    weights: np.ndarray
    requant: np.ndarray
    table: np.ndarray | None = None
    table_shape: tuple[int, int] | None = None
    terms: list[list[int]] = field(default_factory=list)

    @property
    def weight_bytes(self) -> int:
        return int(self.weights.nbytes)

    @property
    def table_bytes(self) -> int:
        return 0 if self.table is None else int(self.table.nbytes)

    @property
    def total_bytes(self) -> int:
        # shift schemes also ship their exponent lists: one byte per exponent
        terms = sum(len(t) for t in self.terms)
        return self.weight_bytes + self.table_bytes + int(self.requant.nbytes) + terms


def packed_layer_bytes(
    weight_count: int,
    out_channels: int,
    scheme: str,
    wbits: int,
    abits: int,
    term_count: int = 0,
    word_bits: int = 64,
) -> int:
    """:attr:`PackedLayer.total_bytes` of a layer before it is packed: its weight
    stream, its requant records, a P-LUT layer's product table (``2**wbits`` rows of
    ``2**abits`` entries) and a shift layer's ``term_count`` exponents."""
    total = packed_bytes(weight_count, wbits, word_bits)
    total += packed_bytes(out_channels, REQUANT_BITS, word_bits)
    if scheme == "plut":
        total += packed_bytes((1 << wbits) << abits, TABLE_BITS, word_bits)
    return total + term_count


def _stream_order(a: np.ndarray) -> np.ndarray:
    """(M, C, *k) -> (M, *k, C), the stream order."""
    return np.moveaxis(a, 1, -1) if a.ndim > 2 else a


def _from_stream_order(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if len(shape) <= 2:
        return a.reshape(shape)
    m, c, *k = shape
    return np.moveaxis(a.reshape(m, *k, c), -1, 1)


def pack_requant(
    bias: np.ndarray, mult: np.ndarray, shift: np.ndarray, word_bits: int = 64
) -> np.ndarray:
    """One 64-bit record per channel: bias | M0 << 32 | n << 48."""
    if np.any(mult < 0) or np.any(mult >= 1 << 16) or np.any(shift < 0) or np.any(shift > 63):
        raise ValueError("requant record needs 0 <= M0 < 2**16 and 0 <= n < 64")
    rec = bias.astype(np.int64).astype(np.uint64) & np.uint64(0xFFFFFFFF)
    rec |= mult.astype(np.uint64) << np.uint64(32)
    rec |= shift.astype(np.uint64) << np.uint64(48)
    return pack_fields(rec.view(np.int64), REQUANT_BITS, word_bits)


def unpack_requant(words: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rec = unpack_fields(words, REQUANT_BITS, count).view(np.uint64)
    bias = (rec & np.uint64(0xFFFFFFFF)).astype(np.int64)
    bias = np.where(bias >= 1 << 31, bias - (1 << 32), bias)
    mult = ((rec >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.int64)
    shift = ((rec >> np.uint64(48)) & np.uint64(0x3F)).astype(np.int64)
    return bias, mult, shift


def pack_layer(layer: IntLayer, word_bits: int = 64) -> PackedLayer:
    """Pack one conv/gemm layer of an integer model."""
    if layer.op not in ("conv", "gemm"):
        raise ValueError(f"layer {layer.name} ({layer.op}) has no weights to pack")
    a, p = layer.attrs, layer.params
    scheme, bits, source = weight_scheme(layer), weight_bits(layer), stored_weights(layer)
    weights = pack_fields(_stream_order(source), bits, word_bits)
    table = table_shape = None
    if scheme == "plut":
        t = p["product_table"]
        if np.abs(t).max() >= 1 << (TABLE_BITS - 1):
            raise ValueError(f"layer {layer.name}: product table entries exceed 16 bits")
        table, table_shape = pack_fields(t, TABLE_BITS, word_bits), tuple(t.shape)
    return PackedLayer(
        name=layer.name,
        op=layer.op,
        scheme=scheme,
        weight_bits=bits,
        weight_shape=tuple(source.shape),
        word_bits=word_bits,
        weights=weights,
        requant=pack_requant(p["bias"], p["mult"], p["shift"], word_bits),
        table=table,
        table_shape=table_shape,
        terms=list(a.get("terms", [])),
    )


def unpack_layer(packed: PackedLayer) -> dict[str, np.ndarray]:
    """Read a packed layer back into integer-model arrays (for tests and debugging)."""
    count = int(np.prod(packed.weight_shape))
    signed = packed.scheme in ("int8", "uniform")
    flat = unpack_fields(packed.weights, packed.weight_bits, count, signed=signed)
    m = packed.weight_shape[0]
    order = (
        (m, *packed.weight_shape[2:], packed.weight_shape[1])
        if len(packed.weight_shape) > 2
        else packed.weight_shape
    )
    arr = _from_stream_order(flat.reshape(order), packed.weight_shape)
    out = {"weight" if signed else "weight_codes": arr}
    out["bias"], out["mult"], out["shift"] = unpack_requant(packed.requant, m)
    if packed.table is not None:
        rows, cols = packed.table_shape
        out["product_table"] = unpack_fields(
            packed.table, TABLE_BITS, rows * cols, signed=True
        ).reshape(rows, cols)
    return out


def pack_model(model: IntModel, word_bits: int = 64) -> list[PackedLayer]:
    """Pack every conv/gemm layer of ``model``."""
    return [pack_layer(lay, word_bits) for lay in model.layers if lay.op in ("conv", "gemm")]
