"""Sliding-window geometry: output sizes, padding resolution and window extraction."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class WindowGeometry:
    """How a k-dimensional window slides over the spatial dims of an (N, C, *S) tensor.

    ``pads_begin``/``pads_end`` are the declared pads (they count towards an average
    pool's divisor when ``count_include_pad`` is set); ``extra_end`` is padding added only
    so that ceil-mode windows stay in bounds.
    """

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads_begin: tuple[int, ...]
    pads_end: tuple[int, ...]
    extra_end: tuple[int, ...]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def span(self) -> tuple[int, ...]:
        """Extent of a dilated window."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilations, strict=True))


def resolve(
    in_shape: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    auto_pad: str = "NOTSET",
    ceil_mode: bool = False,
) -> WindowGeometry:
    """Resolve ONNX Conv/pool attributes to a :class:`WindowGeometry`."""
    nd = len(kernel)
    strides = tuple(strides or (1,) * nd)
    dilations = tuple(dilations or (1,) * nd)
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    in_shape = tuple(int(s) for s in in_shape)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [math.ceil(i / s) for i, s in zip(in_shape, strides, strict=True)]
        total = [
            max(0, (o - 1) * s + w - i)
            for o, s, w, i in zip(out, strides, span, in_shape, strict=True)
        ]
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        begin, end = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
        extra = [0] * nd
    elif auto_pad == "VALID":
        begin, end = [0] * nd, [0] * nd
        out = [(i - w) // s + 1 for i, w, s in zip(in_shape, span, strides, strict=True)]
        extra = [0] * nd
    else:
        pads = list(pads or [0] * (2 * nd))
        begin, end = pads[:nd], pads[nd:]
        out, extra = [], []
        for i, w, s, b, e in zip(in_shape, span, strides, begin, end, strict=True):
            avail = i + b + e - w
            o = (-(-avail // s) if ceil_mode else avail // s) + 1
            # ONNX: a ceil-mode window must start inside the input or the begin padding
            if ceil_mode and (o - 1) * s >= i + b:
                o -= 1
            out.append(o)
            extra.append(max(0, (o - 1) * s + w - (i + b + e)))
    return WindowGeometry(
        kernel=tuple(kernel),
        strides=strides,
        dilations=dilations,
        pads_begin=tuple(begin),
        pads_end=tuple(end),
        extra_end=tuple(extra),
        in_shape=in_shape,
        out_shape=tuple(int(o) for o in out),
    )


def pad(x: np.ndarray, geom: WindowGeometry, value: float | int) -> np.ndarray:
    """Pad the spatial dims of ``x`` (N, C, *S) by the declared and ceil-mode pads."""
    widths = [(0, 0), (0, 0)] + [
        (b, e + x_) for b, e, x_ in zip(geom.pads_begin, geom.pads_end, geom.extra_end, strict=True)
    ]
    if not any(w for pair in widths for w in pair):
        return x
    return np.pad(x, widths, mode="constant", constant_values=value)


def windows(xp: np.ndarray, geom: WindowGeometry) -> np.ndarray:
    """A strided view (N, C, *out, *kernel) of the windows of a padded tensor."""
    nd = len(geom.kernel)
    axes = tuple(range(2, 2 + nd))
    view = sliding_window_view(xp, geom.span, axis=axes)
    index = (slice(None), slice(None))
    index += tuple(slice(0, o * s, s) for o, s in zip(geom.out_shape, geom.strides, strict=True))
    index += tuple(slice(None, None, d) for d in geom.dilations)
    return view[index]


def window_counts(geom: WindowGeometry, include_pad: bool) -> np.ndarray:
    """How many positions each output window covers, shape ``out_shape``.

    With ``include_pad`` the declared pads count but ceil-mode overhang does not.
    """
    counts = np.ones((), dtype=np.int64)
    for dim in range(len(geom.kernel)):
        start = np.arange(geom.out_shape[dim]) * geom.strides[dim] - geom.pads_begin[dim]
        taps = start[:, None] + np.arange(geom.kernel[dim]) * geom.dilations[dim]
        lo = -geom.pads_begin[dim] if include_pad else 0
        hi = geom.in_shape[dim] + (geom.pads_end[dim] if include_pad else 0)
        c = ((taps >= lo) & (taps < hi)).sum(axis=1)
        counts = np.multiply.outer(counts, c)
    return counts
