"""Integer lookup tables for nonlinear activations and the integer softmax."""

from __future__ import annotations

import numpy as np

from plutflow import activations
from plutflow.arith import decode_sign_magnitude
from plutflow.intmodel.model import IntLayer, TensorSpec
from plutflow.intmodel.schema import weight_bits


def activation_table(
    op: str, params: dict, in_spec: TensorSpec, out_spec: TensorSpec
) -> np.ndarray:
    """Entry ``i`` holds the output code for input code ``in_spec.qmin + i``.

    Returns shape (256,), or (C, 256) when ``params['slope']`` (PRelu) varies per channel.
    """
    codes = np.arange(in_spec.qmin, in_spec.qmax + 1, dtype=np.float64)
    real = (codes - in_spec.zero_point) * in_spec.scale
    params = dict(params)
    slope = params.get("slope")
    if slope is not None and np.asarray(slope).size > 1:
        slope = np.asarray(slope, np.float64).reshape(-1, 1)
        real = np.broadcast_to(real, (slope.shape[0], real.size))
        params["slope"] = slope
    y = activations.apply(op, np.array(real, dtype=np.float64), params)
    q = np.rint(y / out_spec.scale) + out_spec.zero_point
    return np.clip(q, out_spec.qmin, out_spec.qmax).astype(out_spec.np_dtype)


def softmax_exp_table(in_spec: TensorSpec) -> np.ndarray:
    """``round(2**16 * exp(-scale * d))`` for code distances ``d`` = 0..255 (int32)."""
    d = np.arange(256, dtype=np.float64)
    return np.rint(np.exp(-in_spec.scale * d) * 2.0**16).astype(np.int32)


def product_table(levels: np.ndarray, bits: int, act: TensorSpec) -> np.ndarray:
    """P-LUT table ``T[w_code][i] = value(w_code) * (act.qmin + i)`` (int32), shape
    (2**wbits, 2**abits): the product of every weight code with every activation code."""
    a = np.arange(act.qmin, act.qmax + 1, dtype=np.int64)
    values = decode_sign_magnitude(np.arange(2**bits), levels, bits)
    return (values[:, None] * a[None, :]).astype(np.int32)


def table_is_product(layer: IntLayer, in_spec: TensorSpec) -> bool:
    """Whether a P-LUT layer's product table equals decoded weight x activation code, so
    its sums can be formed by multiplying (the int8 path, the P-LUT PEs, the fast engine)
    instead of by lookup."""
    p = layer.params
    k = weight_bits(layer)
    values = decode_sign_magnitude(np.arange(1 << k), np.asarray(p["levels"]), k)
    codes = np.arange(in_spec.qmin, in_spec.qmin + p["product_table"].shape[1])
    return np.array_equal(np.asarray(p["product_table"], np.int64), values[:, None] * codes)
