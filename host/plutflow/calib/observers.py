"""Range observers for calibration: min-max, percentile and MSE-optimal clipping."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OBSERVERS = ("minmax", "percentile", "mse", "adaptive")

#: Values kept per tensor for percentile and MSE search.
SAMPLE_SIZE = 1 << 18


def _channel_sums(x: np.ndarray, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (axis 1) sums of values and of squares, in float64, a few images at a
    time (a whole float64 copy of a large batch costs more than the arithmetic)."""
    n, c = x.shape[0], x.shape[1]
    per = max(1, chunk // max(1, x[0].size))
    csum, csq = np.zeros(c), np.zeros(c)
    buf = np.empty((min(per, n), c, x[0].size // c))
    for i in range(0, n, per):
        part = x[i : i + per].reshape(-1, c, x[0].size // c)
        b = buf[: len(part)]
        np.copyto(b, part)  # exact float64
        csum += b.sum(axis=(0, 2))
        np.multiply(b, b, out=b)
        csq += b.sum(axis=(0, 2))
    return csum, csq


@dataclass
class TensorStats:
    """Running min/max and a uniform random sample of one tensor's values."""

    lo: float = np.inf
    hi: float = -np.inf
    seen: int = 0
    sample: list[np.ndarray] = field(default_factory=list)
    channel_sum: np.ndarray | None = None  # per channel (axis 1): sum of values
    channel_sq: np.ndarray | None = None  # ... and of squares
    channel_count: int = 0
    _kept: int = 0

    def update(self, x: np.ndarray, rng: np.random.Generator) -> None:
        flat = np.asarray(x, dtype=np.float32).reshape(-1)
        if flat.size == 0:
            return
        arr = np.asarray(x)
        if arr.ndim >= 2:
            csum, csq = _channel_sums(arr)
            if self.channel_sum is None or self.channel_sum.shape != csum.shape:
                self.channel_sum, self.channel_sq = np.zeros_like(csum), np.zeros_like(csq)
            self.channel_sum += csum
            self.channel_sq += csq
            self.channel_count += arr.size // arr.shape[1]
        self.lo = min(self.lo, float(flat.min()))
        self.hi = max(self.hi, float(flat.max()))
        self.seen += flat.size
        take = min(flat.size, max(1, SAMPLE_SIZE // 8))
        if self._kept < SAMPLE_SIZE:
            pick = flat if take >= flat.size else rng.choice(flat, take, replace=False)
            self.sample.append(pick)
            self._kept += pick.size
        else:  # replace a random earlier chunk: keeps the sample spread over all batches
            i = int(rng.integers(len(self.sample)))
            self.sample[i] = rng.choice(flat, self.sample[i].size, replace=flat.size < take)

    def channel_moments(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-channel mean and mean square (channel = axis 1), or None."""
        if self.channel_sum is None or self.channel_count == 0:
            return None
        return self.channel_sum / self.channel_count, self.channel_sq / self.channel_count

    def values(self) -> np.ndarray:
        return np.concatenate(self.sample) if self.sample else np.zeros(1, np.float32)


def _fake_quant_error(v: np.ndarray, lo: float, hi: float, levels: int) -> float:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-12) / (levels - 1)
    zp = np.round(-lo / scale)
    q = np.clip(np.round(v / scale) + zp, 0, levels - 1)
    return float(np.mean(((q - zp) * scale - v) ** 2))


def adaptive_candidates(stats: TensorStats, bits: int, count: int = 1) -> list[tuple[float, float]]:
    """Scale and shift searched together: the ``count`` (lo, hi) pairs of a 2-D grid with
    the least reconstruction MSE, best first. For biased (asymmetric) activations this
    moves the zero point as well as the clipping range; a non-negative tensor keeps
    lo = 0."""
    lo, hi = min(stats.lo, 0.0), max(stats.hi, 0.0)
    v = stats.values()
    if v.size > 1 << 15:
        v = v[np.random.default_rng(0).choice(v.size, 1 << 15, replace=False)]
    his = hi * np.linspace(0.2, 1.0, 33)
    los = lo * np.linspace(0.0, 1.0, 21) if lo < 0 else np.zeros(1)
    scored = sorted(
        (_fake_quant_error(v, lo_c, hi_c, 2**bits), float(lo_c), float(hi_c))
        for lo_c in los
        for hi_c in his
    )
    return [(lo_c, hi_c) for _, lo_c, hi_c in scored[:count]]


def choose_range(
    stats: TensorStats, method: str = "minmax", percentile: float = 99.99, bits: int = 8
) -> tuple[float, float]:
    """The real range [lo, hi] (always containing 0) to quantize a tensor over."""
    lo, hi = min(stats.lo, 0.0), max(stats.hi, 0.0)
    if method == "minmax" or not np.isfinite(lo) or not np.isfinite(hi):
        return lo, hi
    v = stats.values()
    if method == "percentile":
        plo = float(np.percentile(v, 100 - percentile)) if lo < 0 else 0.0
        phi = float(np.percentile(v, percentile)) if hi > 0 else 0.0
        return min(plo, 0.0), max(phi, 0.0)
    if method == "mse":
        best, best_err = (lo, hi), np.inf
        for alpha in np.linspace(0.3, 1.0, 57):
            err = _fake_quant_error(v, lo * alpha, hi * alpha, 2**bits)
            if err < best_err:
                best, best_err = (lo * alpha, hi * alpha), err
        return best
    if method == "adaptive":
        return adaptive_candidates(stats, bits)[0]
    raise ValueError(f"unknown observer '{method}'; choose one of {OBSERVERS}")
