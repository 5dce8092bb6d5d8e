"""Float definitions of the elementwise activations plutflow supports.

The float reference executor applies them directly; the quantizer samples them to build
the 256-entry integer tables that the golden model and the hardware use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Activation ops that plutflow fuses into a preceding Conv/Gemm or runs standalone.
ACTIVATION_OPS = (
    "Relu",
    "Clip",
    "LeakyRelu",
    "PRelu",
    "HardSigmoid",
    "HardSwish",
    "Sigmoid",
    "SiLU",
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # split by sign so neither branch overflows
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def apply(op: str, x: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Apply activation ``op`` to ``x``.

    ``params`` holds the op's attributes: ``min``/``max`` for Clip (None means unbounded),
    ``alpha``/``beta`` for LeakyRelu and HardSigmoid, and ``slope`` (an array that
    broadcasts against ``x``) for PRelu.
    """
    if op == "Relu":
        return np.maximum(x, np.zeros((), x.dtype))
    if op == "Clip":
        lo, hi = params.get("min"), params.get("max")
        out = x
        if lo is not None:
            out = np.maximum(out, np.asarray(lo, dtype=x.dtype))
        if hi is not None:
            out = np.minimum(out, np.asarray(hi, dtype=x.dtype))
        return out
    if op == "LeakyRelu":
        alpha = params.get("alpha", 0.01)
        return np.where(x >= 0, x, x * np.asarray(alpha, x.dtype))
    if op == "PRelu":
        slope = np.asarray(params["slope"], dtype=x.dtype)
        return np.where(x >= 0, x, x * slope)
    if op == "HardSigmoid":
        alpha, beta = params.get("alpha", 0.2), params.get("beta", 0.5)
        return np.clip(x * np.asarray(alpha, x.dtype) + np.asarray(beta, x.dtype), 0, 1).astype(
            x.dtype
        )
    if op == "HardSwish":
        return (x * np.clip(x / np.asarray(6, x.dtype) + np.asarray(0.5, x.dtype), 0, 1)).astype(
            x.dtype
        )
    if op == "Sigmoid":
        return _sigmoid(x)
    if op == "SiLU":
        return x * _sigmoid(x)
    raise KeyError(f"unknown activation {op}")
