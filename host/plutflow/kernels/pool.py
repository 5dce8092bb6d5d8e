"""Max and sum pooling over any number of spatial dims."""

from __future__ import annotations

import numpy as np

from plutflow.kernels.windows import WindowGeometry, pad, windows


def max_pool(x: np.ndarray, geom: WindowGeometry, pad_value: float | int) -> np.ndarray:
    """Window maximum; ``pad_value`` must not exceed any real value (-inf, or the lowest code)."""
    w = windows(pad(x, geom, pad_value), geom)
    nd = len(geom.kernel)
    return w.max(axis=tuple(range(-nd, 0)))


def sum_pool(x: np.ndarray, geom: WindowGeometry, acc_dtype: type = np.float64) -> np.ndarray:
    """Window sum with zero padding, accumulated in ``acc_dtype``."""
    w = windows(pad(x.astype(acc_dtype, copy=False), geom, 0), geom)
    nd = len(geom.kernel)
    return w.sum(axis=tuple(range(-nd, 0)), dtype=acc_dtype)
