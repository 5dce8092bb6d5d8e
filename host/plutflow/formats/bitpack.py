"""Dense bit packing of fixed-width fields into 64- or 128-bit little-endian words.

Field ``i`` of width ``b`` occupies bits ``[i*b, (i+1)*b)`` of one little-endian bit
stream (bit 0 = the least significant bit of byte 0). Fields may straddle word
boundaries. The stream is zero-padded to a whole number of words; a 128-bit word is two
64-bit words, low half first, so the byte stream is the same for both word sizes apart
from the final padding. Signed values are stored as two's complement fields.
"""

from __future__ import annotations

import numpy as np

WORD_BITS = (64, 128)


def _check(bits: int, word_bits: int) -> None:
    if not 1 <= bits <= 64:
        raise ValueError(f"field width must be 1..64 bits, not {bits}")
    if word_bits not in WORD_BITS:
        raise ValueError(f"word width must be 64 or 128 bits, not {word_bits}")


def _field_dtype(bits: int) -> type:
    return next(
        t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.dtype(t).itemsize * 8 >= bits
    )


def _fields(values: np.ndarray, bits: int) -> np.ndarray:
    """Values as unsigned ``bits``-wide fields (two's complement for negatives), in the
    narrowest unsigned dtype that holds them."""
    v = np.asarray(values).reshape(-1)
    if v.dtype.kind not in "iub":
        raise ValueError(f"only integer values can be packed, not {v.dtype}")
    if v.size:
        vmin, vmax = int(v.min()), int(v.max())
        lo = -(1 << (bits - 1)) if vmin < 0 else 0
        hi = (1 << (bits - 1)) - 1 if vmin < 0 else (1 << bits) - 1
        if vmin < lo or vmax > hi:
            raise ValueError(f"values {vmin}..{vmax} do not fit {bits}-bit fields")
    dt = _field_dtype(bits)
    if v.dtype.itemsize == np.dtype(dt).itemsize and v.dtype.kind in "iu":
        v = v.view(dt)  # same width: two's complement is already the field, no copy
        return v & dt((1 << bits) - 1) if bits < v.dtype.itemsize * 8 else v.copy()
    f = v.astype(dt)  # two's complement wrap of negatives
    if bits < np.dtype(dt).itemsize * 8:
        f &= dt((1 << bits) - 1)
    return f


def _bytes_small(f: np.ndarray, bits: int) -> np.ndarray:
    """Pack uint8 fields of 1..8 bits: groups of 8 fields make ``bits`` bytes."""
    n = f.size
    groups = -(-n // 8)
    if n != groups * 8:
        f = np.concatenate([f, np.zeros(groups * 8 - n, np.uint8)])
    if 8 % bits == 0:  # 1, 2, 4, 8: whole fields per byte, uint8 arithmetic
        per = 8 // bits
        c8 = f.reshape(-1, per)
        out = c8[:, 0].copy()
        for j in range(1, per):
            out |= c8[:, j] << np.uint8(j * bits)
        return out
    # SWAR: 8 fields in the 8 bytes of one uint64 are merged pairwise in place (bytes ->
    # 2b bits per 16 -> 4b bits per 32 -> 8b bits), then the low ``bits`` bytes are kept;
    # in chunks that stay in cache
    words = f.view("<u8")
    out = np.empty((groups, bits), np.uint8)
    chunk = 1 << 16
    x, high = np.empty(chunk, np.uint64), np.empty(chunk, np.uint64)
    for start in range(0, groups, chunk):
        n = min(chunk, groups - start)
        xs, hs = x[:n], high[:n]
        xs[:] = words[start : start + n]
        for step, mask in ((8, 0x00FF00FF00FF00FF), (16, 0x0000FFFF0000FFFF), (32, 0xFFFFFFFF)):
            np.right_shift(xs, np.uint64(step), out=hs)
            np.bitwise_and(hs, np.uint64(mask), out=hs)
            np.bitwise_and(xs, np.uint64(mask), out=xs)
            np.left_shift(hs, np.uint64(bits * step // 8), out=hs)  # after the half's bits
            np.bitwise_or(xs, hs, out=xs)
        out[start : start + n] = xs.view(np.uint8).reshape(n, 8)[:, :bits]
    return out.reshape(-1)


def _bytes_generic(f: np.ndarray, bits: int) -> np.ndarray:
    f = f.astype(np.uint64)
    bit_matrix = ((f[:, None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bit_matrix.reshape(-1), bitorder="little")


def packed_bytes(count: int, bits: int, word_bits: int = 64) -> int:
    """Bytes that :func:`pack_fields` makes of ``count`` fields of ``bits`` (whole words)."""
    word_bytes = word_bits // 8
    used = -(-count * bits // 8)
    return -(-used // word_bytes) * word_bytes


def pack_fields(values: np.ndarray, bits: int, word_bits: int = 64) -> np.ndarray:
    """Pack integer ``values`` into ``bits``-wide fields; returns uint64 words (a 128-bit
    word is two consecutive uint64, low half first)."""
    _check(bits, word_bits)
    f = _fields(values, bits)
    if bits <= 8:
        stream = _bytes_small(f, bits)
    elif bits in (16, 32, 64):
        stream = f.astype(f"<u{bits // 8}", copy=False).view(np.uint8)
    else:
        stream = _bytes_generic(f, bits)
    used = -(-f.size * bits // 8)
    total = packed_bytes(f.size, bits, word_bits)
    if stream.size == total:
        return stream.view("<u8")
    out = np.zeros(total, dtype=np.uint8)
    out[:used] = stream[:used]
    return out.view("<u8")


def unpack_fields(words: np.ndarray, bits: int, count: int, signed: bool = False) -> np.ndarray:
    """Inverse of :func:`pack_fields`: the first ``count`` fields, as int64."""
    stream = np.ascontiguousarray(words, dtype="<u8").view(np.uint8)
    need = -(-count * bits // 8)
    if stream.size < need:
        raise ValueError(f"{stream.size} bytes hold fewer than {count} {bits}-bit fields")
    if bits in (8, 16, 32, 64):
        f = stream[: count * bits // 8].view(f"<u{bits // 8}").astype(np.uint64)
    elif bits < 8:
        groups = -(-count // 8)
        raw = np.zeros((groups, 8), dtype=np.uint8)
        chunk = stream[: groups * bits]
        if chunk.size < groups * bits:
            chunk = np.concatenate([chunk, np.zeros(groups * bits - chunk.size, np.uint8)])
        raw[:, :bits] = chunk.reshape(groups, bits)
        acc = raw.view("<u8").reshape(groups)
        shifts = np.arange(8, dtype=np.uint64) * np.uint64(bits)
        f = ((acc[:, None] >> shifts) & np.uint64((1 << bits) - 1)).reshape(-1)[:count]
    else:
        bit_stream = np.unpackbits(stream, bitorder="little")[: count * bits]
        weights = np.uint64(1) << np.arange(bits, dtype=np.uint64)
        f = (bit_stream.reshape(count, bits).astype(np.uint64) * weights).sum(
            axis=1, dtype=np.uint64
        )
    out = f.astype(np.int64) if bits < 64 else f.view(np.int64)
    if signed and bits < 64:
        out = np.where(out >= 1 << (bits - 1), out - (1 << bits), out)
    return out
