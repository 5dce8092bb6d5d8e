"""Byte layouts of what the overlay reads from memory (``docs/spec.md`` 9.1-9.3):
activation tensors and the parameter block of a tile (requant records, activation tables,
the LUT-RAM P-LUT product table, weight tiles)."""

from __future__ import annotations

import numpy as np

from plutflow.formats.bitpack import pack_fields

RQ_BEATS = 8  # a requant group: P records of 64 bits = 8 beats of 8P bits


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def tensor_to_memory(codes: np.ndarray, p: int) -> np.ndarray:
    """Codes (N, C, H, W) (or (N, C)) to the memory layout: per image, per pixel (row
    major), per channel group, P bytes; lanes past C are 0. Returns uint8 (N, H, W, CG*P)."""
    x = np.asarray(codes)
    if x.ndim == 2:
        x = x[:, :, None, None]
    n, c, h, w = x.shape
    cg = ceil_div(c, p)
    out = np.zeros((n, h, w, cg * p), np.uint8)
    out[..., :c] = np.moveaxis(x, 1, -1).astype(np.int64) & 0xFF
    return out


def memory_to_tensor(raw: np.ndarray, c: int, dtype: np.dtype) -> np.ndarray:
    """The inverse of :func:`tensor_to_memory` for a (N, H, W, CG*P) byte array."""
    codes = np.ascontiguousarray(np.moveaxis(raw[..., :c], -1, 1))
    return codes.view(np.int8).astype(dtype) if np.dtype(dtype) == np.int8 else codes.astype(dtype)


def requant_block(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray, p: int) -> bytes:
    """Records (bias | M0 << 32 | n << 48) of every channel, zero-padded to groups of P."""
    m = len(bias)
    rec = (
        (np.asarray(bias, np.int64) & 0xFFFFFFFF)
        | (np.asarray(mult, np.int64) & 0xFFFF) << 32
        | (np.asarray(shift, np.int64) & 0x3F) << 48
    )
    out = np.zeros(ceil_div(m, p) * p, np.uint64)
    out[:m] = rec.astype(np.uint64)
    return out.astype("<u8").tobytes()


def table_block(tables: np.ndarray, p: int) -> bytes:
    """Activation tables as slots of 256 beats: entry e of slot s is the beat holding the
    entries of channels sP .. sP+P-1. ``tables`` is (256,) (one shared slot, replicated to
    every lane) or (C, 256) (one slot per channel group)."""
    t = np.asarray(tables, np.int64) & 0xFF
    if t.ndim == 1:
        return np.repeat(t[:, None], p, axis=1).astype(np.uint8).tobytes()
    c = t.shape[0]
    g = ceil_div(c, p)
    full = np.zeros((g * p, 256), np.uint8)
    full[:c] = t
    return np.ascontiguousarray(full.reshape(g, p, 256).transpose(0, 2, 1)).tobytes()


def ptab_block(table: np.ndarray, wbits: int, abits: int, p: int) -> bytes:
    """The LUT-RAM P-LUT product table as the PEs hold it: 2^(wbits-1) magnitude rows of
    2^abits 16-bit entries (row-major), zero-padded; ``table`` is (rows, cols) with rows
    and cols at most those."""
    full = np.zeros((1 << (wbits - 1), 1 << abits), np.int64)
    t = np.asarray(table, np.int64)
    full[: t.shape[0], : t.shape[1]] = t
    raw = (full.reshape(-1) & 0xFFFF).astype("<u2").tobytes()
    return raw + bytes((-len(raw)) % p)


def tile_beats(field_w: int, p: int) -> int:
    """Beats of a P x P weight tile of ``field_w``-bit fields (0: int16 depthwise weights,
    P fields of 16 bits)."""
    if field_w == 0:
        return ceil_div(16 * p, 8 * p)
    return ceil_div(p * p * field_w, 8 * p)


def tile_block(fields: np.ndarray, field_w: int, p: int) -> bytes:
    """Weight tiles (T, P, P) of ``field_w``-bit values (two's complement or codes; field
    o*P + i for output lane o, input lane i), or depthwise (T, P) int16 with field_w 0;
    each tile packed LSB-first and padded to whole beats."""
    f = np.asarray(fields, np.int64)
    beats = tile_beats(field_w, p)
    if field_w == 0:
        raw = np.ascontiguousarray(f.reshape(-1, p), dtype="<i2").view(np.uint8).reshape(-1, 2 * p)
        return np.ascontiguousarray(raw).tobytes()
    out = np.zeros((f.shape[0], beats * p), np.uint8)
    flat = f.reshape(f.shape[0], -1)
    if field_w == 8:
        out[:, : p * p] = (flat & 0xFF).astype(np.uint8)
    elif f.shape[0]:
        # every tile is a whole number of bytes (P*P fields, P >= 4): pack all at once
        tile_bytes = p * p * field_w // 8
        packed = pack_fields(flat.reshape(-1), field_w, 64).view(np.uint8)
        out[:, :tile_bytes] = packed[: f.shape[0] * tile_bytes].reshape(-1, tile_bytes)
    return out.tobytes()


def parameter_block(
    rq: bytes = b"", tables: bytes = b"", ptab: bytes = b"", tiles: bytes = b""
) -> bytes:
    """The parameter block of a tile: its sections back to back."""
    return rq + tables + ptab + tiles
