"""Integer reference of every integer-model op (``docs/spec.md`` section 3).

Each op reads integer codes and writes integer codes. Convolutions and matrix products
run on BLAS in float32/float64 only when a static bound proves every partial sum is an
exactly representable integer (see :func:`plutflow.arith.exact_dtype`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from plutflow.arith import (
    code_range,
    exact_dtype,
    requantize,
    requantize_accumulator,
    rounding_shift,
)
from plutflow.intmodel.model import IntLayer, TensorSpec
from plutflow.intmodel.schema import integer_weights, weight_scheme
from plutflow.kernels import windows as win
from plutflow.kernels.conv import conv as conv_kernel
from plutflow.kernels.pool import max_pool, sum_pool
from plutflow.kernels.select import gather_nearest, pad_array, strided_slice

IntOp = Callable[[IntLayer, list[np.ndarray], list[TensorSpec], TensorSpec], np.ndarray]


def _geometry(layer: IntLayer, x: np.ndarray) -> win.WindowGeometry:
    a = layer.attrs
    return win.resolve(
        x.shape[2:],
        a["kernel"],
        a["strides"],
        a["dilations"],
        a["pads"],
        ceil_mode=bool(a.get("ceil_mode", 0)),
    )


def _finish(layer: IntLayer, acc: np.ndarray, out: TensorSpec) -> np.ndarray:
    """Bias, per-channel requantization, clamp and the optional activation table.

    ``acc`` is channels-last (N, ..., M) and holds exact integers (float or int dtype).
    """
    a, p = layer.attrs, layer.params
    zp = a["mid_zero_point"] if "table" in p else out.zero_point
    q = requantize_accumulator(
        acc,
        p["bias"],
        a.get("bias_shift", 0),
        p["mult"],
        p["shift"],
        zp,
        a["lo"],
        a["hi"],
        a["acc_bound"],
    )
    q = q.astype(np.int64 if "table" in p else out.np_dtype)
    if "table" in p:
        q = apply_table(p["table"], q - code_range("int8")[0], channel_axis=-1)
    return q.astype(out.np_dtype, copy=False)


def apply_table(table: np.ndarray, index: np.ndarray, channel_axis: int = 1) -> np.ndarray:
    """``table[index]``; a (C, 256) table is indexed per channel along ``channel_axis``."""
    if table.ndim == 1:
        return table[index]
    shape = [1] * index.ndim
    shape[channel_axis] = -1
    return table[np.arange(table.shape[0]).reshape(shape), index]


def _to_channels_first(y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(y, -1, 1))


def _matmul(layer: IntLayer, in_spec: TensorSpec) -> tuple[Callable, np.ndarray]:
    """The product and the weight operand of a conv/gemm.

    P-LUT layers never multiply: ``acc = sum_k T[w_code[m, k], a_code[p, k] - qmin]``,
    evaluated as one masked sum per activation code (docs/spec.md 6.3).
    """
    dt = exact_dtype(layer.attrs["acc_bound"])
    if weight_scheme(layer) != "plut":
        return (lambda a, b: a.astype(dt) @ b), integer_weights(layer).astype(dt)
    table = layer.params["product_table"]

    def lookup(a: np.ndarray, codes_t: np.ndarray) -> np.ndarray:
        acc = np.zeros((a.shape[0], codes_t.shape[1]), dtype=dt)
        for j in range(table.shape[1]):
            hit = a == in_spec.qmin + j
            if hit.any():
                acc += hit.astype(dt) @ table[codes_t, j].astype(dt)
        return acc

    return lookup, layer.params["weight_codes"]


def op_conv(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    x = ins[0]
    matmul, w = _matmul(layer, in_specs[0])
    acc = conv_kernel(
        x,
        w,
        _geometry(layer, x),
        layer.attrs["group"],
        matmul,
        pad_value=layer.attrs["pad_value"],
        channels_last=True,
        elementwise_depthwise=weight_scheme(layer) != "plut",
    )
    return _to_channels_first(_finish(layer, acc, out))


def op_gemm(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    matmul, w = _matmul(layer, in_specs[0])
    return _finish(layer, matmul(ins[0], w.T), out)


def op_maxpool(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    x = ins[0]
    return max_pool(x, _geometry(layer, x), in_specs[0].qmin).astype(out.np_dtype)


def op_avgpool(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    x = ins[0]
    geom = _geometry(layer, x)
    centred = x.astype(np.int64) - in_specs[0].zero_point  # padding then adds exactly 0
    total = sum_pool(centred, geom, acc_dtype=np.int64)
    counts = win.window_counts(geom, bool(layer.attrs["count_include_pad"]))
    mult = layer.params["mult"][counts]  # indexed by window count
    a = layer.attrs
    return requantize(total, mult, a["shift"], out.zero_point, a["lo"], a["hi"]).astype(
        out.np_dtype
    )


def op_global_avgpool(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    x = ins[0]
    centred = x.astype(np.int64) - in_specs[0].zero_point
    total = centred.sum(axis=tuple(range(2, x.ndim)), keepdims=True)
    a = layer.attrs
    return requantize(total, a["mult"], a["shift"], out.zero_point, a["lo"], a["hi"]).astype(
        out.np_dtype
    )


def op_add(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    a = layer.attrs
    ta = (ins[0].astype(np.int64) - in_specs[0].zero_point) * a["mult_a"]
    tb = (ins[1].astype(np.int64) - in_specs[1].zero_point) * a["mult_b"]
    y = rounding_shift(ta + tb, a["shift"]) + out.zero_point
    return np.clip(y, a["lo"], a["hi"]).astype(out.np_dtype)


def op_mul(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    a = layer.attrs
    prod = (ins[0].astype(np.int64) - in_specs[0].zero_point) * (
        ins[1].astype(np.int64) - in_specs[1].zero_point
    )
    return requantize(prod, a["mult"], a["shift"], out.zero_point, a["lo"], a["hi"]).astype(
        out.np_dtype
    )


def op_concat(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    parts = []
    for x, spec, m, n in zip(
        ins, in_specs, layer.attrs["mults"], layer.attrs["shifts"], strict=True
    ):
        if m is None:  # same quantization as the output: a copy
            parts.append(x.astype(out.np_dtype))
        else:
            centred = x.astype(np.int64) - spec.zero_point
            parts.append(requantize(centred, m, n, out.zero_point, out.qmin, out.qmax))
    return np.concatenate(parts, axis=layer.attrs["axis"]).astype(out.np_dtype)


def op_table(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    x = ins[0]
    return apply_table(layer.params["table"], x.astype(np.int64) - in_specs[0].qmin).astype(
        out.np_dtype
    )


def op_reshape(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    x = ins[0]
    shape = [x.shape[i] if s == 0 else s for i, s in enumerate(layer.attrs["shape"])]
    return x.reshape(shape)


def op_flatten(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    x = ins[0]
    axis = layer.attrs["axis"]
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def op_transpose(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(ins[0], layer.attrs["perm"]))


def op_slice(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    return np.ascontiguousarray(strided_slice(ins[0], layer.attrs["slices"]))


def op_pad(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    a = layer.attrs
    return pad_array(ins[0], a["pads"], a["mode"], a["value"])


def op_resize_nearest(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    return gather_nearest(ins[0], layer.attrs["index"])


def op_softmax(layer: IntLayer, ins, in_specs, out) -> np.ndarray:
    x = ins[0].astype(np.int64)
    axis = layer.attrs["axis"]
    d = x.max(axis=axis, keepdims=True) - x  # 0 .. 255
    e = layer.params["exp_table"].astype(np.int64)[d]
    total = e.sum(axis=axis, keepdims=True)
    y = (2 * 255 * e + total) // (2 * total)  # round(255 * e / total), ties up
    return y.astype(out.np_dtype)


INT_OPS: dict[str, IntOp] = {
    "conv": op_conv,
    "gemm": op_gemm,
    "maxpool": op_maxpool,
    "avgpool": op_avgpool,
    "global_avgpool": op_global_avgpool,
    "add": op_add,
    "mul": op_mul,
    "concat": op_concat,
    "table": op_table,
    "reshape": op_reshape,
    "flatten": op_flatten,
    "transpose": op_transpose,
    "slice": op_slice,
    "pad": op_pad,
    "resize_nearest": op_resize_nearest,
    "softmax": op_softmax,
}
