"""Data movement without arithmetic: strided slices, padding and nearest-neighbour resize.

The float reference and the integer golden share these kernels, so an integer model
moves exactly the codes the float model moves values. The importer brings every form of
the ONNX ops (``Slice``, ``Split``, ``Pad``, ``Resize``, ``Upsample``) to the canonical
attributes these functions take (``docs/spec.md`` section 3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Pad modes, named as in ONNX and numpy alike.
PAD_MODES = ("constant", "reflect", "edge", "wrap")
#: Resize coordinate transformations computed here (``tf_crop_and_resize`` is not).
COORDINATE_MODES = (
    "half_pixel",
    "half_pixel_symmetric",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
)
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def slice_params(start: int, end: int, step: int, dim: int) -> tuple[int, int, int]:
    """ONNX ``Slice`` bounds of one axis as ``(start, step, count)``: the elements
    ``start + step * i`` for ``i < count``."""
    if step == 0:
        raise ValueError("a slice step of 0")
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        count = max(0, -(-(end - start) // step))
    else:
        start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
        count = max(0, -(-(start - end) // -step))
    return start, step, count


def strided_slice(x: np.ndarray, slices: Sequence[Sequence[int]]) -> np.ndarray:
    """``x`` restricted along each ``(axis, start, step, count)`` of ``slices``."""
    index: list[slice] = [slice(None)] * x.ndim
    for axis, start, step, count in slices:
        stop = start + step * count
        index[axis] = slice(start, stop if stop >= 0 else None, step)
    return x[tuple(index)]


def pad_array(
    x: np.ndarray, pads: Sequence[Sequence[int]], mode: str, value: float | int = 0
) -> np.ndarray:
    """``x`` padded by ``pads[axis] = (before, after)`` (non-negative) in ONNX ``mode``."""
    widths = [(int(b), int(a)) for b, a in pads]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.asarray(value, x.dtype))
    return np.pad(x, widths, mode=mode)


def nearest_index(
    in_len: int, out_len: int, scale: float, coordinate_mode: str, nearest_mode: str
) -> list[int]:
    """Source index of every output position of a nearest-neighbour ``Resize`` axis,
    computed by the ONNX formulas (coordinate transformation, then rounding, then a
    clamp to the input)."""
    out: list[int] = []
    for x in range(out_len):
        if coordinate_mode == "half_pixel":
            src = (x + 0.5) / scale - 0.5
        elif coordinate_mode == "half_pixel_symmetric":
            adjustment = out_len / (scale * in_len)
            centre = in_len / 2
            src = centre * (1 - adjustment) + (x + 0.5) / scale - 0.5
        elif coordinate_mode == "pytorch_half_pixel":
            src = (x + 0.5) / scale - 0.5 if out_len > 1 else 0.0
        elif coordinate_mode == "align_corners":
            src = 0.0 if out_len == 1 else x * (in_len - 1) / (out_len - 1)
        elif coordinate_mode == "asymmetric":
            src = x / scale
        else:
            raise ValueError(f"coordinate_transformation_mode={coordinate_mode}")
        frac = src - math.floor(src)
        if nearest_mode == "floor":
            i = math.floor(src)
        elif nearest_mode == "ceil":
            i = math.ceil(src)
        elif nearest_mode == "round_prefer_ceil":
            i = math.ceil(src) if frac == 0.5 else round(src)
        elif nearest_mode == "round_prefer_floor":
            i = math.floor(src) if frac == 0.5 else round(src)
        else:
            raise ValueError(f"nearest_mode={nearest_mode}")
        out.append(min(max(int(i), 0), in_len - 1))
    return out


def gather_nearest(x: np.ndarray, index: dict[int, Sequence[int]] | dict[str, Sequence[int]]):
    """``x`` with each listed axis replaced by the source positions in ``index[axis]``."""
    for axis, idx in index.items():
        x = np.take(x, np.asarray(idx, dtype=np.intp), axis=int(axis))
    return x
