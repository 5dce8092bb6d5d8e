"""Does evaluation data look like the calibration data?

Quantization ranges come from the calibration images. Data preprocessed differently (no
normalisation, another scale, swapped channels) runs without error and gives wrong
answers, so the calibration input's statistics travel with the model and every
evaluation compares its own input against them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: A channel mean this many calibration standard deviations away is called a shift.
MEAN_SHIFT = 1.0
#: Evaluation values beyond the calibration range by this share of its width.
RANGE_SLACK = 0.5


def input_summary(x: np.ndarray) -> dict[str, Any]:
    """Range and per-channel mean and standard deviation of a float input batch."""
    x = np.asarray(x, np.float64)
    reduce = tuple(i for i in range(x.ndim) if not (x.ndim == 4 and i == 1))  # NCHW: per C
    return {
        "min": float(x.min()) if x.size else 0.0,
        "max": float(x.max()) if x.size else 0.0,
        "mean": np.atleast_1d(x.mean(axis=reduce)).tolist() if x.size else [],
        "std": np.atleast_1d(x.std(axis=reduce)).tolist() if x.size else [],
    }


def drift_warning(calib: dict[str, Any] | None, x: np.ndarray) -> str | None:
    """A sentence saying how ``x`` differs from the calibration input, or None."""
    if not calib or not np.asarray(x).size:
        return None
    now = input_summary(x)
    problems = []
    lo, hi = calib["min"], calib["max"]
    width = max(hi - lo, 1e-12)
    if now["min"] < lo - RANGE_SLACK * width or now["max"] > hi + RANGE_SLACK * width:
        problems.append(
            f"values span [{now['min']:.3g}, {now['max']:.3g}], calibration [{lo:.3g}, {hi:.3g}]"
        )
    if len(now["mean"]) == len(calib["mean"]):
        for c, (m, cm, cs) in enumerate(zip(now["mean"], calib["mean"], calib["std"],
                                            strict=True)):  # fmt: skip
            if abs(m - cm) > MEAN_SHIFT * max(cs, 1e-12):
                problems.append(f"channel {c} mean {m:.3g}, calibration {cm:.3g} ± {cs:.3g}")
                break
    if not problems:
        return None
    return (
        "the input does not look like the calibration data ("
        + "; ".join(problems)
        + "): check the preprocessing (--preprocess) matches the one used to quantize"
    )
