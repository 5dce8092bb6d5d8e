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
    bound: int  # max |sum_k w[m, k] * u_k| over channels and inputs

    @property
    def exact_in_float64(self) -> bool:
        """Whether ``floor(s * A + C)`` in float64 equals the integer formula: every term
        is an integer multiple of ``2**-shift`` below ``2**53`` in magnitude (the bound of
        :func:`plutflow.arith.requantize_accumulator`)."""
        n_max = int(self.shift.max(initial=0))
        total = (self.bound << self.f) + int(np.abs(self.bias).max(initial=0))
        return n_max <= 52 and total * int(self.mult.max(initial=0)) + 2**n_max < 2**53

    @property
    def float_form(self) -> bool:
        """Whether the kernels use ``floor(fma(s, A, C))``: exact in float64
        (:attr:`exact_in_float64`) and, for every reachable sum, an int32 before the clamp
        (``bound * max|A| + max|C| + 1 < 2**31``), so the clamp runs on 16 int32 lanes
        after the conversion."""
        if not self.exact_in_float64:
            return False
        a, c = self.float_constants()
        top = self.bound * float(np.abs(a).max(initial=0)) + float(np.abs(c).max(initial=0))
        return top + 1 < 2**31

    def vectors(self, width: int) -> np.ndarray:
        """(6, width) int64 rows bias, mult, shift, half and the float64 bits of
        ``A = mult * 2**(f - shift)`` and ``C = (bias * mult + half) * 2**-shift``, zero
        past the channels (the tile epilogue reads whole 16-lane vectors)."""
        out = np.zeros((6, width), np.int64)
        for i, v in enumerate((self.bias, self.mult, self.shift, self.half)):
            out[i, : v.shape[0]] = v
        if self.float_form:
            a, c = self.float_constants()
            out[4, : a.size], out[5, : c.size] = a.view(np.int64), c.view(np.int64)
        return out

    def float_constants(self) -> tuple[np.ndarray, np.ndarray]:
        """Per channel ``A = mult * 2**(f - shift)`` and ``C = (bias * mult + half) *
        2**-shift`` (float64) of the form ``floor(s * A + C)``, exact when
        :attr:`exact_in_float64`."""
        n = self.shift.astype(np.int32)
        a = np.ldexp(self.mult.astype(np.float64), self.f - n)
        c = np.ldexp((self.bias * self.mult + self.half).astype(np.float64), -n)
        return a, c

    def scalars(self) -> np.ndarray:
        """``(f, zp, lo, hi, off, float_form)``; with a table the kernel writes the mid code
        + 128, which :meth:`lut` turns into output bytes."""
        off = 128 if self.has_table else self.off_out
        return np.array([self.f, self.zp, self.lo, self.hi, off, int(self.float_form)])

    def lut(self) -> np.ndarray:
        """(M, 256) uint8: the output byte for each mid code + 128 (with a table)."""
        return (self.table + self.off_out).astype(np.uint8)


def epilogue(
    layer, w: np.ndarray, off_in: int, u_max: int, out_zero_point: int, off_out: int
) -> Epilogue:
    """The epilogue of a conv/gemm whose input sums are taken over ``u = q + off_in``.

    ``w`` holds the integer weights (output channels first); the offset's contribution
    ``off_in * sum_k w[m, k]`` is taken out of the bias so the epilogue sees golden's sum.
    Inputs lie in ``[0, u_max]``.
    """
    a, p = layer.attrs, layer.params
    flat = np.asarray(w, np.int64).reshape(w.shape[0], -1)
    w_sums = flat.sum(axis=1)
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
        bound=u_max * int(np.abs(flat).sum(axis=1).max(initial=0)),
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
