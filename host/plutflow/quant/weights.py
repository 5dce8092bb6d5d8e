"""Weight quantizers: uniform k-bit, PoT, UPoT and level sets for P-LUT.

Every scheme produces integer weights ``values`` with a real scale per output channel
(``w ≈ scale[m] * values[m]``). The level-based schemes (pot, upot, plut) also produce
sign-magnitude ``codes`` (docs/spec.md section 6): the top bit of a k-bit code is the
sign, the low k-1 bits index ``levels``, a table of integer magnitudes with
``levels[0] == 0``. Shift schemes also record the exponent of each term, so a code's
magnitude is a sum of at most two powers of two.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

WEIGHT_SCHEMES = ("int8", "uniform", "pot", "upot", "plut")
#: Largest exponent of a power-of-two term: magnitudes stay below 2**8 (int16 weights).
MAX_EXPONENT = 7
#: Candidate scale factors, relative to max|w| / max(level), searched per channel.
SCALE_GRID = np.linspace(0.5, 1.15, 27)


@dataclass
class QuantizedWeights:
    """The integer form of one layer's weights."""

    scheme: str
    bits: int
    values: np.ndarray  # integer weights, same shape as the float weight
    scale: np.ndarray  # real scale per output channel
    codes: np.ndarray | None = None  # uint8 sign-magnitude codes (level-based schemes)
    levels: np.ndarray | None = None  # int16 magnitudes, indexed by the code's low bits
    terms: list[list[int]] = field(default_factory=list)  # shift schemes: exponents per term

    def mse(self, w: np.ndarray) -> float:
        recon = self.values.astype(np.float64) * self.scale.reshape(-1, *([1] * (w.ndim - 1)))
        return float(np.mean((w.astype(np.float64) - recon) ** 2))

    def sqnr_db(self, w: np.ndarray) -> float:
        """Signal-to-quantization-noise ratio of the weights, in dB."""
        noise = self.mse(w)
        return float(10 * np.log10(np.mean(w.astype(np.float64) ** 2) / max(noise, 1e-30)))


def quantize_uniform(
    w: np.ndarray, bits: int = 8, importance: np.ndarray | None = None
) -> QuantizedWeights:
    """Symmetric per-channel uniform quantization to [-(2**(b-1)-1), 2**(b-1)-1].

    For 8 bits the scale is max|w|/127 (the INT8-USF rule); below 8 bits the clipping
    scale per channel is searched for the least squared error.
    """
    qmax = 2 ** (bits - 1) - 1
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    amax = np.abs(flat).max(axis=1)
    base = np.where(amax > 0, amax / qmax, 1.0)
    if bits >= 8:
        scale = base
    else:
        imp = np.ones_like(flat) if importance is None else importance.reshape(flat.shape)
        cand = base[:, None] * SCALE_GRID[None, :]  # (M, S)
        q = np.clip(np.rint(flat[:, None, :] / cand[..., None]), -qmax, qmax)
        err = (imp[:, None, :] * (q * cand[..., None] - flat[:, None, :]) ** 2).sum(axis=2)
        scale = cand[np.arange(len(cand)), err.argmin(axis=1)]
    values = np.clip(np.rint(flat / scale[:, None]), -qmax, qmax)
    return QuantizedWeights(
        "int8" if bits == 8 else "uniform", bits, values.reshape(w.shape).astype(np.int8), scale
    )


def _nearest(mags: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Index of the nearest level (levels sorted ascending) for each magnitude."""
    mid = (levels[1:] + levels[:-1]) / 2.0
    if len(mid) > 32:
        return np.searchsorted(mid, mags)
    # = searchsorted(mid, mags): the count of midpoints below each magnitude, by one
    # vectorised comparison per midpoint (much faster for the few levels of a code)
    idx = np.zeros(mags.shape, np.intp)
    for m in mid:
        idx += mags > m
    return idx


def fit_levels(
    w: np.ndarray, levels: np.ndarray, importance: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Quantize ``w`` (M, ...) onto ±``levels`` with the best per-channel scale.

    ``importance`` (shaped like ``w``) weights each weight's squared error; with the mean
    square of the input it multiplies, the error is the diagonal approximation of the
    layer-output error. Returns (signed level indices into the sorted unique levels,
    scale per channel, total weighted squared error).
    """
    uniq = np.unique(levels.astype(np.float64))
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    imp = np.ones_like(flat) if importance is None else importance.reshape(flat.shape)
    mags, sign = np.abs(flat), np.sign(flat)
    amax = mags.max(axis=1)
    base = np.where(amax > 0, amax / uniq[-1], 1.0)
    best_err = np.full(len(flat), np.inf)
    best_scale = base.copy()
    for beta in SCALE_GRID:
        s = base * beta
        idx = _nearest(mags / s[:, None], uniq)
        err = (imp * (uniq[idx] * s[:, None] - mags) ** 2).sum(axis=1)
        better = err < best_err
        best_err[better], best_scale[better] = err[better], s[better]
    idx = _nearest(mags / best_scale[:, None], uniq)
    return (sign * idx).astype(np.int64).reshape(w.shape), best_scale, float(best_err.sum())


def _term_levels(terms: list[list[int]]) -> np.ndarray:
    """Magnitudes indexed by (i1, i2, ...) in row-major order; index 0 of each term is off."""
    per_term = [np.array([0] + [2**e for e in t], dtype=np.int64) for t in terms]
    grid = np.zeros(1, dtype=np.int64)
    for values in per_term:
        grid = (grid[:, None] + values[None, :]).reshape(-1)
    return grid


def _encode(
    w: np.ndarray,
    levels: np.ndarray,
    scheme: str,
    bits: int,
    terms: list[list[int]],
    importance: np.ndarray | None = None,
) -> QuantizedWeights:
    """Fit ``w`` to a level table and produce codes, integer values and scales."""
    signed_idx, scale, _ = fit_levels(w, levels, importance)
    uniq = np.unique(levels)
    values = np.sign(signed_idx) * uniq[np.abs(signed_idx)]
    return encode_levels(values, levels, bits, scheme, scale, terms)


def encode_levels(
    values: np.ndarray,
    levels: np.ndarray,
    bits: int,
    scheme: str,
    scale: np.ndarray,
    terms: list[list[int]],
) -> QuantizedWeights:
    """Sign-magnitude codes of integer weight ``values`` that are each ± an entry of the
    level table (the first entry holding the magnitude; a zero magnitude is never
    negative)."""
    uniq = np.unique(levels)
    first = np.array([int(np.flatnonzero(levels == u)[0]) for u in uniq])
    mag_code = first[np.searchsorted(uniq, np.abs(values))]
    negative = (values < 0) & (mag_code > 0)
    codes = (negative.astype(np.int64) << (bits - 1)) | mag_code
    signed = np.where(negative, -1, 1) * levels[mag_code]
    return QuantizedWeights(
        scheme, bits, signed.astype(np.int16), scale, codes.astype(np.uint8),
        levels.astype(np.int16), terms,
    )  # fmt: skip


def quantize_pot(
    w: np.ndarray, bits: int, importance: np.ndarray | None = None
) -> QuantizedWeights:
    """Power-of-two weights: magnitude code m > 0 stands for 2**(e_m), code 0 for zero.

    The 2**(b-1)-1 exponents are the top ones of 0..7 (b <= 4).
    """
    n = 2 ** (bits - 1) - 1
    if n > MAX_EXPONENT + 1:
        raise ValueError(f"pot supports 2 to 4 bits, not {bits}")
    exps = list(range(MAX_EXPONENT - n + 1, MAX_EXPONENT + 1))
    return _encode(w, _term_levels([exps]), "pot", bits, [exps], importance)


def upot_candidates(bits: int) -> list[list[list[int]]]:
    """Every split of the magnitude bits into two terms, and every exponent subset.

    A split may give the second term no bits (a single-term PoT set), so UPoT is never
    worse than PoT. Sets are normalised to a smallest exponent of 0: scaling every level
    by a power of two changes nothing once the per-channel scale is searched.
    """
    mag_bits = bits - 1
    out: list[list[list[int]]] = []
    exps = range(MAX_EXPONENT + 1)
    for b2 in range(0, mag_bits):
        b1 = mag_bits - b2
        for s1 in itertools.combinations(exps, 2**b1 - 1):
            for s2 in itertools.combinations(exps, 2**b2 - 1):
                if min(s1 + s2) != 0:
                    continue
                out.append([list(s1), list(s2)] if s2 else [list(s1)])
    return out


def quantize_upot(
    w: np.ndarray, bits: int, importance: np.ndarray | None = None
) -> QuantizedWeights:
    """UPoT: each magnitude is a sum of two power-of-two terms, each from its own subset.

    The per-layer search tries every split of the k-1 magnitude bits between the two
    terms and every choice of exponents (0..7) for each, and keeps the one with the least
    weight error after the per-channel scale search.
    """
    if not 2 <= bits <= 5:
        raise ValueError(f"upot supports 2 to 5 bits, not {bits}")
    flat = w.reshape(w.shape[0], -1)
    rng = np.random.default_rng(0)
    cols = np.sort(rng.choice(flat.shape[1], min(flat.shape[1], 512), replace=False))
    imp = np.ones_like(flat) if importance is None else importance.reshape(flat.shape)
    sample, imp_sample = flat[:, cols], imp[:, cols]  # the coarse search runs on a sample
    cands = [t for t in upot_candidates(bits)
             if len(np.unique(_term_levels(t))) >= len(_term_levels(t)) // 2 + 1]  # fmt: skip
    # (sets with mostly duplicate levels waste the code space)
    scored = [(fit_levels(sample, _term_levels(cands[i]), imp_sample)[2], cands[i])
              for i in _shortlist(sample, imp_sample, cands)]  # fmt: skip
    scored.sort(key=lambda t: t[0])
    best = min(scored[:8], key=lambda t: fit_levels(w, _term_levels(t[1]), importance)[2])[1]
    return _encode(w, _term_levels(best), "upot", bits, best, importance)


#: Candidates the fast scorer passes on to the exact one (the final choice is among the
#: best 8 of these by fit_levels, as without the shortlist; see docs/fast.md)
SHORTLIST = 16


def _shortlist(sample: np.ndarray, imp: np.ndarray, cands: list) -> list[int]:
    """Indices (in candidate order) of the candidates worth scoring exactly: all of them
    without numba, else the best :data:`SHORTLIST` by the fast scorer."""
    from plutflow.fast import available

    if not available() or len(cands) <= SHORTLIST:
        return list(range(len(cands)))
    from plutflow.fast.search import candidate_errors, prepare

    uniq = [np.unique(_term_levels(t).astype(np.float64)) for t in cands]
    levels = np.full((len(cands), max(len(u) for u in uniq)), np.inf)
    for i, u in enumerate(uniq):
        levels[i, : len(u)] = u
    counts = np.array([len(u) for u in uniq])
    amax = np.abs(sample.astype(np.float64)).max(axis=1)
    # fit_levels scales by max|w| / top level, which differs per candidate: score each
    # candidate on its own base (grouped by top level, which few candidates share)
    sorted_mags, w0, w1, w2 = prepare(sample, imp)
    errors = np.empty(len(cands))
    for top in sorted({u[-1] for u in uniq}):
        group = np.array([i for i, u in enumerate(uniq) if u[-1] == top])
        base = np.where(amax > 0, amax / top, 1.0)  # fit_levels' base for this top level
        errors[group] = candidate_errors(sorted_mags, w0, w1, w2, base, SCALE_GRID,
                                         levels[group], counts[group])  # fmt: skip
    keep = np.argsort(errors, kind="stable")[:SHORTLIST]
    return sorted(int(i) for i in keep)


def nonuniform_levels(w: np.ndarray, bits: int, grid_max: int = 127, iters: int = 25) -> np.ndarray:
    """Lloyd-Max magnitudes for ``w`` (normalised per channel), on an integer grid.

    Returns 2**(bits-1) distinct integer magnitudes in 0..grid_max, the first 0.
    """
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    amax = np.abs(flat).max(axis=1, keepdims=True)
    mags = (np.abs(flat) / np.where(amax > 0, amax, 1.0)).reshape(-1)
    n = 2 ** (bits - 1)
    centers = np.quantile(mags, np.linspace(0, 1, n + 1)[1:]) if mags.size else np.ones(n)
    centers = np.concatenate([[0.0], np.sort(centers)[1:]])
    for _ in range(iters):
        idx = _nearest(mags, centers)
        for j in range(1, n):
            sel = mags[idx == j]
            if sel.size:
                centers[j] = sel.mean()
        centers = np.sort(centers)
        centers[0] = 0.0
    ints = np.rint(centers / centers[-1] * grid_max).astype(np.int64)
    for j in range(1, n):  # keep the levels distinct and increasing
        ints[j] = max(ints[j], ints[j - 1] + 1)
    return np.minimum(ints, grid_max + n)


def quantize_plut(
    w: np.ndarray, bits: int, base: str = "nonuniform", importance: np.ndarray | None = None
) -> QuantizedWeights:
    """P-LUT weights: codes into a level set (searched non-uniform, PoT or UPoT).

    The integer levels become a product table with the activation codes at build time.
    """
    if base == "pot":
        q = quantize_pot(w, bits, importance)
    elif base == "upot":
        q = quantize_upot(w, bits, importance)
    elif base == "nonuniform":
        q = _encode(w, nonuniform_levels(w, bits), "plut", bits, [], importance)
    else:
        raise ValueError(f"unknown P-LUT level base '{base}'")
    q.scheme = "plut"
    return q


def quantize_weights(
    w: np.ndarray,
    scheme: str = "int8",
    bits: int = 8,
    plut_base: str = "nonuniform",
    importance: np.ndarray | None = None,
) -> QuantizedWeights:
    """Quantize a (M, ...) weight per output channel with ``scheme`` at ``bits``.

    ``importance`` (shaped like ``w``) weights the squared error of each weight in every
    search (scale, level set); the quantizer passes the input's mean square.
    """
    if not 2 <= bits <= 8:
        raise ValueError(f"weight bits must be 2..8, not {bits}")
    if scheme in ("int8", "uniform"):
        return quantize_uniform(w, bits, importance)
    if scheme == "pot":
        return quantize_pot(w, bits, importance)
    if scheme == "upot":
        return quantize_upot(w, bits, importance)
    if scheme == "plut":
        return quantize_plut(w, bits, plut_base, importance)
    raise ValueError(f"unknown weight scheme '{scheme}'; choose one of {WEIGHT_SCHEMES}")
