"""Weight preparation for the fast kernels: split, pack and fold the activation offset.

Everything here is done once per layer when a model is compiled into a plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INT32_LIMIT = 2**31


@dataclass
class Epilogue:
    """Per-channel requantization constants in the offset domain (docs/fast.md 2)."""

    bias: np.ndarray  # int64 (M,): bias - (off_in * sum_k w) << f
    mult: np.ndarray  # int64 (M,)
    shift: np.ndarray  # int64 (M,)
    half: np.ndarray  # int64 (M,): 2**(shift-1), or 0
    f: int
    zp: int
    lo: int
    hi: int
    table: np.ndarray  # int64 (M, 256), or (1, 256) zeros without a table
    has_table: bool
    off_out: int

    def vectors(self, width: int) -> np.ndarray:
        """(4, width) int64 rows bias, mult, shift, half, zero past the channels (the tile
        epilogue reads whole 16-lane vectors)."""
        out = np.zeros((4, width), np.int64)
        for i, v in enumerate((self.bias, self.mult, self.shift, self.half)):
            out[i, : v.shape[0]] = v
        return out

    def lut(self) -> np.ndarray:
        """(M, 256) uint8: the output byte for each mid code + 128 (with a table)."""
        return (self.table + self.off_out).astype(np.uint8)


def epilogue(layer, w_sums: np.ndarray, off_in: int, out_zero_point: int, off_out: int) -> Epilogue:
    """The epilogue of a conv/gemm whose input sums are taken over ``u = q + off_in``.

    ``w_sums[m]`` is the sum of channel ``m``'s integer weights; the offset's contribution
    ``off_in * w_sums[m]`` is taken out of the bias so the epilogue sees golden's sum.
    """
    a, p = layer.attrs, layer.params
    m = w_sums.shape[0]
    f = int(a.get("bias_shift", 0))
    bias = np.broadcast_to(np.asarray(p["bias"], np.int64), (m,))
    mult = np.ascontiguousarray(np.broadcast_to(np.asarray(p["mult"], np.int64), (m,)))
    shift = np.ascontiguousarray(np.broadcast_to(np.asarray(p["shift"], np.int64), (m,)))
    half = np.where(shift > 0, np.left_shift(np.int64(1), np.maximum(shift - 1, 0)), 0)
    has_table = "table" in p
    if has_table:
        table = np.asarray(p["table"], np.int64)
        table = np.ascontiguousarray(np.broadcast_to(table.reshape(-1, 256), (m, 256)))
        zp = int(a["mid_zero_point"])
    else:
        table, zp = np.zeros((1, 256), np.int64), int(out_zero_point)
    return Epilogue(
        bias=np.ascontiguousarray(bias - ((off_in * w_sums.astype(np.int64)) << f)),
        mult=mult,
        shift=shift,
        half=half.astype(np.int64),
        f=f,
        zp=zp,
        lo=int(a["lo"]),
        hi=int(a["hi"]),
        table=table,
        has_table=has_table,
        off_out=off_out,
    )


def split_weights(w: np.ndarray) -> list[np.ndarray] | None:
    """``w`` as one int8 part, or as ``[lo, hi]`` with ``w = hi * 128 + lo`` and both in
    int8 (``lo`` in [-64, 63]); None when even that does not fit."""
    w = np.asarray(w, np.int64)
    if w.size == 0 or (w.min() >= -128 and w.max() <= 127):
        return [w]
    lo = ((w + 64) & 127) - 64
    hi = (w - lo) >> 7
    if hi.min() < -128 or hi.max() > 127:
        return None
    return [lo, hi]


def sums_fit_int32(parts: list[np.ndarray], u_max: int) -> bool:
    """Whether every int32 sum ``sum_k w[m, k] * u_k`` with ``0 <= u <= u_max`` is exact:
    ``u_max * max_m sum_k |w[m, k]| < 2**31`` for each part."""
    for part in parts:
        flat = np.abs(part.reshape(part.shape[0], -1))
        if flat.size and u_max * int(flat.sum(axis=1).max()) >= INT32_LIMIT:
            return False
    return True


def pack_dense(parts: list[np.ndarray], cp: int, nr: int) -> np.ndarray:
    """Pack (M, kh, kw, C) weights as ``[m block][part][tap][channel group][NR][4]`` int8,
    channels zero-padded to ``cp`` and output channels to a multiple of ``nr``."""
    m, kh, kw, c = parts[0].shape
    n_mb = -(-m // nr)
    out = np.zeros((n_mb, len(parts), kh * kw, cp // 4, nr, 4), np.int8)
    for i, part in enumerate(parts):
        full = np.zeros((n_mb * nr, kh * kw, cp), np.int8)
        full[:m, :, :c] = part.reshape(m, kh * kw, c)
        blocks = full.reshape(n_mb, nr, kh * kw, cp // 4, 4)
        out[:, i] = blocks.transpose(0, 2, 3, 1, 4)
    return out.reshape(-1)
