"""A fast scorer for the UPoT level-set search (:func:`plutflow.quant.weights.quantize_upot`).

For one candidate level set, :func:`~plutflow.quant.weights.fit_levels` rounds every
weight magnitude to its nearest level at each of the scale grid's factors and keeps, per
channel, the least importance-weighted squared error. Sorting each channel's magnitudes
once and keeping prefix sums of ``imp``, ``imp * mag`` and ``imp * mag**2`` turns that
error into a sum over levels: the weights nearest level ``L`` at scale ``s`` are one run
of the sorted magnitudes, found by binary search, and contribute
``(L s)**2 W0 - 2 L s W1 + W2``. The cost per channel and factor is O(levels * log n)
instead of O(n).

The result equals fit_levels' error up to float rounding; the search uses it only to
rank candidates, then scores the best ones with fit_levels itself (see quantize_upot).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def prepare(sample: np.ndarray, importance: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sorted magnitudes (M, n) and the prefix sums (M, n + 1) of imp, imp*mag, imp*mag²."""
    mags = np.abs(sample.astype(np.float64))
    order = np.argsort(mags, axis=1, kind="stable")
    mags = np.take_along_axis(mags, order, axis=1)
    imp = np.take_along_axis(importance.astype(np.float64), order, axis=1)
    zero = np.zeros((len(mags), 1))
    sums = [np.concatenate([zero, np.cumsum(v, axis=1)], axis=1)
            for v in (imp, imp * mags, imp * mags * mags)]  # fmt: skip
    return (np.ascontiguousarray(mags), *sums)


@njit(cache=True, nogil=True)
def candidate_errors(mags, w0, w1, w2, base, betas, levels, counts):
    """Per candidate ``c`` (levels ``levels[c, :counts[c]]``, sorted unique), the sum over
    channels of the least error over the scale factors ``base[m] * betas``."""
    n_cand, n_ch, n = levels.shape[0], mags.shape[0], mags.shape[1]
    out = np.zeros(n_cand)
    for c in range(n_cand):
        lv = levels[c, : counts[c]]
        total = 0.0
        for m in range(n_ch):
            row, p0, p1, p2 = mags[m], w0[m], w1[m], w2[m]
            best = np.inf
            for b in range(betas.shape[0]):
                s = base[m] * betas[b]
                err, start = 0.0, 0
                for j in range(lv.shape[0]):
                    end = n if j == lv.shape[0] - 1 else np.searchsorted(
                        row, (lv[j] + lv[j + 1]) / 2.0 * s, side="right")  # fmt: skip
                    if end > start:
                        v = lv[j] * s
                        err += (v * v * (p0[end] - p0[start]) - 2.0 * v * (p1[end] - p1[start])
                                + (p2[end] - p2[start]))  # fmt: skip
                    start = end
                best = min(best, err)
            total += best
        out[c] = total
    return out
