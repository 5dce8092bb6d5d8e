"""The integer arithmetic of the contract, against Python's unbounded integers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from plutflow.arith import (
    exact_dtype,
    requantize,
    requantize_accumulator,
    rounding_shift,
)
from plutflow.quant.usf import quantize_multiplier, shared_shift

int32s = st.integers(-(2**31), 2**31 - 1)


def ref_requant(acc: int, m0: int, n: int, zp: int, lo: int, hi: int) -> int:
    v = acc * m0
    r = (v + (1 << (n - 1))) >> n if n > 0 else v  # Python >> floors
    return max(lo, min(hi, r + zp))


@given(st.integers(-(2**55), 2**55), st.integers(0, 62))
def test_rounding_shift_is_round_half_up(v: int, n: int) -> None:
    got = int(rounding_shift(np.array([v], np.int64), n)[0])
    # exact rational rounding: floor(v / 2**n + 1/2)
    assert got == (2 * v + (1 << n)) // (1 << (n + 1)) if n > 0 else got == v


@given(
    int32s,
    st.integers(0, 2**16 - 1),
    st.integers(0, 62),
    st.integers(-128, 127),
    st.sampled_from([(-128, 127), (0, 255), (0, 127), (-20, 30)]),
)
def test_requantize_matches_reference(acc, m0, n, zp, bounds) -> None:
    lo, hi = bounds
    got = int(requantize(np.array([acc], np.int64), m0, n, zp, lo, hi)[0])
    assert got == ref_requant(acc, m0, n, zp, lo, hi)


@given(st.floats(1e-9, 1e4, allow_nan=False))
def test_quantize_multiplier_precision(m: float) -> None:
    m0, n = quantize_multiplier(m)
    m0, n = int(m0), int(n)
    assert 2**15 <= m0 < 2**16 or n == 62
    assert 0 <= n <= 62
    assert abs(m0 / 2.0**n - m) <= m * 2.0**-15


def test_quantize_multiplier_zero_and_vector() -> None:
    m0, n = quantize_multiplier(np.array([0.0, 0.5, 0.25]))
    assert m0.tolist() == [0, 2**15, 2**15]
    assert n.tolist() == [0, 16, 17]


def test_shared_shift_keeps_ratio() -> None:
    mults, n = shared_shift([0.3, 0.1])
    assert max(mults) < 2**16
    assert abs(mults[0] / 2**n - 0.3) < 0.3 * 2**-14
    assert abs(mults[1] / 2**n - 0.1) < 0.1 * 2**-13


@settings(max_examples=50)
@given(
    st.integers(1, 40),
    st.integers(1, 300),
    st.integers(1, 20),
    st.sampled_from([127, 255]),
    st.data(),
)
def test_exact_dtype_matmul(m, k, n, amax, data) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = rng.integers(-amax, amax + 1, (m, k))
    b = rng.integers(-127, 128, (k, n))
    bound = amax * int(np.abs(b).sum(axis=0).max())
    for bnd in (bound, 2**60):
        dt = exact_dtype(bnd)
        assert np.array_equal((a.astype(dt) @ b.astype(dt)).astype(np.int64), a @ b)
    assert exact_dtype(bound) is np.float32  # every case here stays below 2**24
    assert exact_dtype(2**24) is np.float64 and exact_dtype(2**53) is np.int64


@settings(max_examples=300)
@given(
    st.integers(1, 40),
    st.integers(0, 7),
    st.integers(0, 62),
    st.integers(-128, 255),
    st.sampled_from([np.float32, np.float64, np.int64]),
    st.data(),
)
def test_requantize_accumulator_is_bit_exact(m, f, n, zp, dtype, data) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    bound = int(data.draw(st.sampled_from([2**10, 2**20, 2**23 - 1, 2**30])) >> f)
    if dtype is np.float32:
        bound = min(bound, 2**24 - 1)  # float32 sums are exact only below 2**24
    sums = rng.integers(-bound, bound + 1, (7, m))
    bias = rng.integers(-(2**30) + (bound << f), 2**30 - (bound << f) + 1, m)
    mult = rng.integers(0, 2**16, m)
    shift = np.minimum(rng.integers(0, 63, m), n if n else 62)
    lo, hi = sorted(rng.integers(-300, 300, 2).tolist())
    got = requantize_accumulator(sums.astype(dtype), bias, f, mult, shift, zp, lo, hi, bound)
    for idx in np.ndindex(sums.shape):
        acc = (int(sums[idx]) << f) + int(bias[idx[1]])
        want = ref_requant(acc, int(mult[idx[1]]), int(shift[idx[1]]), zp, lo, hi)
        assert int(got[idx]) == want
