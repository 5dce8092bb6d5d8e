"""Grouped N-d convolution by im2col, parameterised by the matrix product.

The float reference passes an ordinary float matmul; the golden executor passes an
exact integer matmul. Both therefore see the same windows in the same order.

Columns are gathered tap by tap from a channels-last copy of the padded input, so each
copy moves contiguous channel vectors; the weight is permuted to the same (taps, C)
order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from plutflow.kernels.windows import WindowGeometry

MatMul = Callable[[np.ndarray, np.ndarray], np.ndarray]


def im2col(
    x: np.ndarray, geom: WindowGeometry, pad_value: float | int, dtype: np.dtype | None = None
) -> np.ndarray:
    """Columns of shape (N * prod(out), prod(kernel), C), in ``dtype`` (default: x's)."""
    n, c = x.shape[:2]
    nd = len(geom.kernel)
    xl = np.moveaxis(x, 1, -1)  # (N, *S, C) view
    widths = (
        [(0, 0)]
        + [
            (b, e + x_)
            for b, e, x_ in zip(geom.pads_begin, geom.pads_end, geom.extra_end, strict=True)
        ]
        + [(0, 0)]
    )
    xp = np.pad(xl, widths, constant_values=pad_value) if any(sum(w) for w in widths) else xl
    out = geom.out_shape
    cols = np.empty((n, *out, *geom.kernel, c), dtype=dtype or x.dtype)
    for tap in itertools.product(*(range(k) for k in geom.kernel)):
        src = (
            slice(None),
            *(
                slice(t * d, t * d + s * (o - 1) + 1, s)
                for t, d, s, o in zip(tap, geom.dilations, geom.strides, out, strict=True)
            ),
        )
        cols[(slice(None),) * (1 + nd) + tap] = xp[src]
    return cols.reshape(n * int(np.prod(out)), int(np.prod(geom.kernel)), c)


def conv(
    x: np.ndarray,
    w: np.ndarray,
    geom: WindowGeometry,
    group: int,
    matmul: MatMul,
    pad_value: float | int = 0,
    col_dtype: np.dtype | None = None,
    channels_last: bool = False,
    elementwise_depthwise: bool = True,
) -> np.ndarray:
    """Correlate ``x`` (N, C, *S) with ``w`` (M, C/group, *k); returns (N, M, *out), no bias
    (or (N, *out, M) with ``channels_last``).

    Depthwise convolutions use an elementwise product unless ``elementwise_depthwise`` is
    off, in which case every product goes through ``matmul`` (table-lookup products).

    ``col_dtype`` is the dtype of the gathered columns (default: x's dtype); ``matmul``
    receives them with the weight in the same dtype as given.
    """
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    cols = im2col(x, geom, pad_value, col_dtype)  # (P, K, C)
    k = cols.shape[1]
    # weight (M, Cg, *k) -> (G, K * Cg, Mg) in (tap, channel) order
    wt = np.moveaxis(w.reshape(group, mg, cg, k), 2, 3).reshape(group, mg, k * cg)
    if group == 1:
        out = matmul(cols.reshape(-1, k * c), wt[0].T)
    elif mg == 1 and cg == 1 and elementwise_depthwise:
        # depthwise: one product per channel, then a tap reduction
        out = np.einsum("pkc,ck->pc", cols, wt[:, 0, :])
    else:
        cg_cols = cols.reshape(-1, k, group, cg)
        out = np.concatenate(
            [matmul(cg_cols[:, :, g, :].reshape(-1, k * cg), wt[g].T) for g in range(group)],
            axis=1,
        )
    out = out.reshape(n, *geom.out_shape, m)
    return out if channels_last else np.moveaxis(out, -1, 1)
