"""Integer arithmetic primitives of the contract (``docs/spec.md`` section 2).

Every function takes and returns integer arrays and is exact: no float is involved.
"""

from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def rounding_shift(v: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """``round(v / 2**n)`` with ties toward +infinity: ``(v + 2**(n-1)) >> n``.

    ``>>`` is an arithmetic (flooring) shift. ``n == 0`` returns ``v``. ``v`` is int64.
    """
    n = np.asarray(n, dtype=np.int64)
    half = np.where(n > 0, np.left_shift(np.int64(1), np.maximum(n - 1, 0)), 0)
    return np.right_shift(v + half, n)


def requantize(
    acc: np.ndarray,
    mult: np.ndarray | int,
    shift: np.ndarray | int,
    zero_point: int,
    lo: int,
    hi: int,
) -> np.ndarray:
    """The unified scale factor step: ``clamp(rounding_shift(acc * M0, n) + z, lo, hi)``.

    ``acc`` is int64 (it holds an int32 accumulator), ``M0`` < 2**31 and ``n`` <= 62, so the
    product is exact in int64. Per-channel ``mult``/``shift`` broadcast against ``acc``.
    """
    prod = acc.astype(np.int64, copy=False) * np.asarray(mult, dtype=np.int64)
    out = rounding_shift(prod, shift) + np.int64(zero_point)
    return np.clip(out, lo, hi)


def requantize_accumulator(
    sums: np.ndarray,
    bias: np.ndarray,
    bias_shift: int,
    mult: np.ndarray,
    shift: np.ndarray,
    zero_point: int,
    lo: int,
    hi: int,
    bound: int,
) -> np.ndarray:
    """The conv/gemm output step: ``clamp(rshift(((s << f) + bias) * M0, n) + z, lo, hi)``.

    ``sums`` holds exact integer sums of products with ``|s| <= bound`` (any numeric
    dtype); ``bias``, ``mult`` and ``shift`` broadcast per channel (last axis). When
    ``(bound * 2**f + max|bias|) * max(M0) + 2**(n-1) < 2**53`` and ``n <= 52`` it is
    evaluated as ``floor(s * A + C) + z`` with ``A = M0 * 2**(f-n)`` and
    ``C = (bias * M0 + 2**(n-1)) * 2**-n``: both terms and their sum are exactly
    representable float64 values (integers below 2**53 scaled by powers of two), so the
    result equals the integer formula bit for bit. Otherwise it runs in int64.
    """
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    bias = np.asarray(bias, dtype=np.int64)
    total = (bound << bias_shift) + int(np.abs(bias).max(initial=0))
    n_max = int(shift.max(initial=0))
    if n_max > 52 or total * int(mult.max(initial=0)) + 2.0 ** max(n_max - 1, 0) >= 2.0**53:
        acc = (np.asarray(sums).astype(np.int64) << bias_shift) + bias
        return requantize(acc, mult, shift, zero_point, lo, hi)
    scale = np.ldexp(mult.astype(np.float64), (bias_shift - shift).astype(np.int32))
    half = np.where(shift > 0, np.ldexp(1.0, (shift - 1).astype(np.int32)), 0.0)
    offset = np.ldexp(bias * mult.astype(np.float64) + half, (-shift).astype(np.int32))
    v = np.multiply(sums, scale, dtype=np.float64)
    v += offset
    np.floor(v, out=v)
    v += zero_point
    return np.clip(v, lo, hi, out=v)


def code_range(dtype: str, bits: int = 8) -> tuple[int, int]:
    """The code range of an activation tensor: signed ``[-2**(b-1), 2**(b-1)-1]`` or
    unsigned ``[0, 2**b - 1]``."""
    if dtype == "int8":
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if dtype == "uint8":
        return 0, 2**bits - 1
    raise ValueError(f"unknown activation dtype {dtype}")


def exact_dtype(bound: int) -> type:
    """The narrowest dtype in which integer sums with partial sums up to ``bound`` are
    exact: float32 below 2**24, float64 below 2**53, else int64.

    ``bound`` must be at least the largest absolute partial sum (e.g. ``max|a| *
    max_j sum_i |b_ij|`` for ``a @ b``); every partial sum is then an exactly
    representable integer, so BLAS returns the exact result in any summation order.
    """
    if bound < 2**24:
        return np.float32
    if bound < 2**53:
        return np.float64
    return np.int64


def decode_sign_magnitude(codes: np.ndarray, levels: np.ndarray, bits: int) -> np.ndarray:
    """Integer weights of k-bit sign-magnitude codes: the top bit is the sign, the low k-1
    bits index ``levels`` (``levels[0] == 0``; a negative zero decodes to 0)."""
    codes = np.asarray(codes, dtype=np.int64)
    mag = levels.astype(np.int64)[codes & (2 ** (bits - 1) - 1)]
    return np.where(codes >> (bits - 1), -mag, mag)
