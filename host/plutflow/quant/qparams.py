"""Choosing activation quantization parameters from a real range."""

from __future__ import annotations

import numpy as np

from plutflow.intmodel.model import TensorSpec


def spec_from_range(
    lo: float, hi: float, shape: tuple, signed: bool | None = None, bits: int = 8
) -> TensorSpec:
    """Asymmetric ``bits``-bit quantization of ``[lo, hi]`` (widened to contain 0).

    Non-negative ranges become unsigned codes with zero point 0 unless ``signed`` is set;
    others become signed codes with the zero point that maps ``lo`` to the lowest code.
    """
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    if signed is None:
        signed = lo < 0
    steps = 2**bits - 1
    scale = (hi - lo) / steps
    zp = int(np.clip(np.rint(-lo / scale), 0, steps))
    if not signed:
        return TensorSpec(tuple(shape), "uint8", zp, scale, bits)
    return TensorSpec(tuple(shape), "int8", zp - 2 ** (bits - 1), scale, bits)


def clamp_codes(spec: TensorSpec, lo_real: float | None, hi_real: float | None) -> tuple[int, int]:
    """Code bounds for a fused clamp activation ([lo_real, hi_real] in real units)."""
    lo, hi = spec.qmin, spec.qmax
    if lo_real is not None and np.isfinite(lo_real):
        lo = max(lo, int(np.rint(lo_real / spec.scale)) + spec.zero_point)
    if hi_real is not None and np.isfinite(hi_real):
        hi = min(hi, int(np.rint(hi_real / spec.scale)) + spec.zero_point)
    return lo, max(lo, hi)
