"""Float reference implementation of every IR op (QONNX style: one function per op).

A fused activation (``node.attrs['act']``) is applied by the executor, not by the op.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from plutflow import activations
from plutflow.ir.graph import Node
from plutflow.kernels import windows as win
from plutflow.kernels.conv import conv
from plutflow.kernels.pool import max_pool, sum_pool
from plutflow.kernels.select import gather_nearest, pad_array, strided_slice

OpFn = Callable[[Node, list[np.ndarray | None]], list[np.ndarray]]


def _float_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a @ b


def _geometry(node: Node, x: np.ndarray, kernel: tuple[int, ...]) -> win.WindowGeometry:
    a = node.attrs
    return win.resolve(
        x.shape[2:],
        kernel,
        a.get("strides"),
        a.get("dilations"),
        a.get("pads"),
        a.get("auto_pad", "NOTSET"),
        bool(a.get("ceil_mode", 0)),
    )


def activation_params(node: Node, ins: list[np.ndarray | None]) -> dict:
    """Activation parameters from a fused ``act`` attribute or a standalone node."""
    params = dict(node.attrs)
    if node.op == "Clip":
        if len(ins) > 1 and ins[1] is not None:
            params["min"] = ins[1]
        if len(ins) > 2 and ins[2] is not None:
            params["max"] = ins[2]
    if node.op == "PRelu":
        params["slope"] = ins[1]
    return params


def op_conv(node: Node, ins: list) -> list[np.ndarray]:
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    geom = _geometry(node, x, tuple(node.attrs.get("kernel_shape") or w.shape[2:]))
    y = conv(x, w, geom, int(node.attrs.get("group", 1)), _float_matmul)
    if b is not None:
        y = y + b.reshape(1, -1, *([1] * (y.ndim - 2)))
    return [y.astype(x.dtype, copy=False)]


def op_gemm(node: Node, ins: list) -> list[np.ndarray]:
    a, b = ins[0], ins[1]
    c = ins[2] if len(ins) > 2 else None
    if node.attrs.get("transA", 0):
        a = a.T
    if node.attrs.get("transB", 0):
        b = b.T
    y = node.attrs.get("alpha", 1.0) * (a @ b)
    if c is not None:
        y = y + node.attrs.get("beta", 1.0) * c
    return [y.astype(a.dtype, copy=False)]


def op_matmul(node: Node, ins: list) -> list[np.ndarray]:
    return [np.matmul(ins[0], ins[1])]


def op_batchnorm(node: Node, ins: list) -> list[np.ndarray]:
    x, scale, bias, mean, var = ins[:5]
    eps = node.attrs.get("epsilon", 1e-5)
    shape = (1, -1, *([1] * (x.ndim - 2)))
    inv = scale / np.sqrt(var + eps)
    return [(x - mean.reshape(shape)) * inv.reshape(shape) + bias.reshape(shape)]


def op_activation(node: Node, ins: list) -> list[np.ndarray]:
    return [activations.apply(node.op, ins[0], activation_params(node, ins))]


def op_maxpool(node: Node, ins: list) -> list[np.ndarray]:
    x = ins[0]
    geom = _geometry(node, x, tuple(node.attrs["kernel_shape"]))
    low = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
    return [max_pool(x, geom, low).astype(x.dtype, copy=False)]


def op_avgpool(node: Node, ins: list) -> list[np.ndarray]:
    x = ins[0]
    geom = _geometry(node, x, tuple(node.attrs["kernel_shape"]))
    total = sum_pool(x, geom)
    counts = win.window_counts(geom, bool(node.attrs.get("count_include_pad", 0)))
    return [(total / counts).astype(x.dtype)]


def op_global_avgpool(node: Node, ins: list) -> list[np.ndarray]:
    x = ins[0]
    return [x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=np.float64).astype(x.dtype)]


def op_add(node: Node, ins: list) -> list[np.ndarray]:
    return [np.add(ins[0], ins[1])]


def op_mul(node: Node, ins: list) -> list[np.ndarray]:
    return [np.multiply(ins[0], ins[1])]


def op_concat(node: Node, ins: list) -> list[np.ndarray]:
    return [np.concatenate(ins, axis=node.attrs["axis"])]


def op_flatten(node: Node, ins: list) -> list[np.ndarray]:
    x = ins[0]
    axis = node.attrs.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    lead = int(np.prod(x.shape[:axis]))
    return [x.reshape(lead, -1) if x.size else x.reshape(lead, int(np.prod(x.shape[axis:])))]


def op_reshape(node: Node, ins: list) -> list[np.ndarray]:
    x, shape = ins[0], [int(s) for s in ins[1]]
    if not node.attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [x.reshape(shape)]


def op_transpose(node: Node, ins: list) -> list[np.ndarray]:
    perm = node.attrs.get("perm")
    return [np.transpose(ins[0], perm)]


def op_slice(node: Node, ins: list) -> list[np.ndarray]:
    return [strided_slice(ins[0], node.attrs["slices"])]


def op_pad(node: Node, ins: list) -> list[np.ndarray]:
    a = node.attrs
    return [pad_array(ins[0], a["pads"], a["mode"], a["value"])]


def op_resize(node: Node, ins: list) -> list[np.ndarray]:
    return [gather_nearest(ins[0], node.attrs["index"])]


def op_reduce_mean(node: Node, ins: list) -> list[np.ndarray]:
    x = ins[0]
    a = node.attrs
    y = x.mean(axis=tuple(a["axes"]), keepdims=bool(a["keepdims"]), dtype=np.float64)
    return [np.asarray(y).astype(x.dtype)]


def op_softmax(node: Node, ins: list) -> list[np.ndarray]:
    x = ins[0]
    axis = node.attrs.get("axis", -1)
    if node.attrs.get("legacy_2d"):
        # opset < 13: softmax over the input flattened to 2-D at ``axis``
        flat = x.reshape(int(np.prod(x.shape[: axis % x.ndim])), -1)
        return [op_softmax(Node("Softmax", "", [], [], {"axis": 1}), [flat])[0].reshape(x.shape)]
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return [e / e.sum(axis=axis, keepdims=True)]


def op_identity(node: Node, ins: list) -> list[np.ndarray]:
    return [ins[0]]


def op_dropout(node: Node, ins: list) -> list[np.ndarray]:
    # inference mode: the identity, and an all-true mask
    return [ins[0], np.ones(ins[0].shape, dtype=bool)]


FLOAT_OPS: dict[str, OpFn] = {
    "Conv": op_conv,
    "Gemm": op_gemm,
    "MatMul": op_matmul,
    "BatchNormalization": op_batchnorm,
    "MaxPool": op_maxpool,
    "AveragePool": op_avgpool,
    "GlobalAveragePool": op_global_avgpool,
    "Add": op_add,
    "Mul": op_mul,
    "Concat": op_concat,
    "Flatten": op_flatten,
    "Reshape": op_reshape,
    "Transpose": op_transpose,
    "Slice": op_slice,
    "Pad": op_pad,
    "Resize": op_resize,
    "ReduceMean": op_reduce_mean,
    "Softmax": op_softmax,
    "Identity": op_identity,
    "Dropout": op_dropout,
    **{op: op_activation for op in activations.ACTIVATION_OPS},
}
