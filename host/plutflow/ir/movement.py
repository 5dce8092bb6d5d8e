"""Canonical forms of the data-movement and reduction ops exporters write.

* ``Split`` becomes one ``Slice`` per output;
* ``Slice`` with constant bounds gets ``slices = [[axis, start, step, count], ...]``;
* ``Pad`` with constant pads gets ``pads = [[before, after], ...]`` (every axis), ``mode``
  and ``value``; a zero ``constant`` pad of the spatial axes folds into the next Conv;
* ``Resize`` and ``Upsample`` in nearest mode get ``index = {axis: [source, ...]}``: the
  source position of every output position, computed once from the static shape;
* ``ReduceMean`` over the spatial axes becomes ``GlobalAveragePool`` (and a ``Flatten``
  without ``keepdims``); over other axes it keeps ``axes`` and ``keepdims`` and runs in
  float only.

Every rewrite keeps the float semantics of the ONNX op exactly; what cannot be expressed
raises :class:`~plutflow.errors.UnsupportedModelError` naming the node and the reason.
"""

from __future__ import annotations

import numpy as np

from plutflow.errors import UnsupportedModelError
from plutflow.ir.graph import Graph, Node
from plutflow.kernels.select import (
    COORDINATE_MODES,
    NEAREST_MODES,
    PAD_MODES,
    nearest_index,
    slice_params,
)


def _const_input(graph: Graph, node: Node, index: int, what: str) -> np.ndarray | None:
    """The constant value of optional input ``index``, or None when it is omitted."""
    if len(node.inputs) <= index or not node.inputs[index]:
        return None
    name = node.inputs[index]
    if not graph.is_constant(name):
        raise UnsupportedModelError(node.name, node.op, f"{what} must be a constant")
    return graph.const(name)


def _static_shape(graph: Graph, node: Node, tensor: str, axes: list[int]) -> tuple:
    shape = graph.shapes.get(tensor)
    if shape is None:
        raise UnsupportedModelError(node.name, node.op, f"the shape of '{tensor}' is unknown")
    for a in axes:
        if shape[a] is None:
            what = "the batch dimension" if a == 0 else f"axis {a}, of unknown size"
            raise UnsupportedModelError(
                node.name,
                node.op,
                f"cannot work on {what} (give the input a static shape with --input-shape)",
            )
    return shape


def _axes(values, rank: int, node: Node) -> list[int]:
    out = [int(a) + rank if int(a) < 0 else int(a) for a in values]
    if any(not 0 <= a < rank for a in out) or len(set(out)) != len(out):
        raise UnsupportedModelError(node.name, node.op, f"invalid axes {list(values)}")
    return out


def _slice(graph: Graph, node: Node) -> None:
    x = node.inputs[0]
    rank = len(graph.shapes.get(x, ()))
    starts = _const_input(graph, node, 1, "starts")
    ends = _const_input(graph, node, 2, "ends")
    if starts is None or ends is None:  # opset < 10: attributes
        starts, ends = node.attrs.get("starts"), node.attrs.get("ends")
        axes_v, steps = node.attrs.get("axes"), None
    else:
        axes_v = _const_input(graph, node, 3, "axes")
        steps = _const_input(graph, node, 4, "steps")
    if starts is None or ends is None:
        raise UnsupportedModelError(node.name, node.op, "starts and ends are missing")
    starts = [int(s) for s in np.ravel(starts)]
    ends = [int(e) for e in np.ravel(ends)]
    axes = _axes(np.ravel(axes_v) if axes_v is not None else range(len(starts)), rank, node)
    steps_l = [int(s) for s in np.ravel(steps)] if steps is not None else [1] * len(starts)
    shape = graph.shapes.get(x) or (None,) * rank
    slices = []
    for axis, s, e, st in zip(axes, starts, ends, steps_l, strict=True):
        if st == 0:
            raise UnsupportedModelError(node.name, node.op, "a slice step of 0")
        if shape[axis] is None and (s, st) == (0, 1) and e >= 2**31 - 1:
            continue  # the whole of a symbolic axis (the batch)
        _static_shape(graph, node, x, [axis])
        begin, step, count = slice_params(s, e, st, shape[axis])
        if (begin, step, count) != (0, 1, shape[axis]):
            slices.append([axis, begin, step, count])
    node.inputs, node.attrs = [x], {"slices": slices}


def _split(graph: Graph, node: Node, opset: int) -> list[Node]:
    x = node.inputs[0]
    rank = len(graph.shapes.get(x, ()))
    axis = _axes([node.attrs.get("axis", 0)], rank, node)[0]
    dim = _static_shape(graph, node, x, [axis])[axis]
    sizes = _const_input(graph, node, 1, "split") if opset >= 13 else None
    if sizes is None:
        sizes = node.attrs.get("split")
    n = len(node.outputs)
    if sizes is None:
        parts = node.attrs.get("num_outputs", n)
        each = -(-dim // parts)
        sizes = [min(each, max(0, dim - i * each)) for i in range(parts)]
    sizes = [int(s) for s in np.ravel(sizes)]
    if len(sizes) != n or sum(sizes) != dim or min(sizes, default=0) < 0:
        raise UnsupportedModelError(
            node.name, node.op, f"split sizes {sizes} do not divide axis {axis} of size {dim}"
        )
    out, begin = [], 0
    for i, (size, name) in enumerate(zip(sizes, node.outputs, strict=True)):
        if name:
            sl = [[axis, begin, 1, size]] if (begin, size) != (0, dim) else []
            out.append(Node("Slice", f"{node.name}:{i}", [x], [name], {"slices": sl}))
        begin += size
    return out


def _pad(graph: Graph, node: Node, opset: int) -> None:
    x = node.inputs[0]
    rank = len(graph.shapes.get(x, ()))
    mode = node.attrs.get("mode", "constant")
    if mode not in PAD_MODES:
        raise UnsupportedModelError(node.name, node.op, f"mode={mode} is not supported")
    if opset >= 11:
        pads = _const_input(graph, node, 1, "pads")
        value = _const_input(graph, node, 2, "constant_value")
        axes_v = _const_input(graph, node, 3, "axes")
    else:
        pads, value, axes_v = node.attrs.get("pads"), node.attrs.get("value", 0.0), None
    if pads is None:
        raise UnsupportedModelError(node.name, node.op, "pads are missing")
    pads = [int(p) for p in np.ravel(pads)]
    axes = _axes(np.ravel(axes_v) if axes_v is not None else range(rank), rank, node)
    if len(pads) != 2 * len(axes):
        raise UnsupportedModelError(node.name, node.op, f"{len(pads)} pads for {len(axes)} axes")
    if min(pads, default=0) < 0:
        raise UnsupportedModelError(node.name, node.op, "negative pads (cropping)")
    full = [[0, 0] for _ in range(rank)]
    for i, a in enumerate(axes):
        full[a] = [pads[i], pads[i + len(axes)]]
    padded = [a for a in range(rank) if full[a] != [0, 0]]
    shape = graph.shapes.get(x)
    if shape and 0 in padded and shape[0] is None:
        raise UnsupportedModelError(node.name, node.op, "padding the batch dimension")
    v = float(np.ravel(value)[0]) if value is not None and np.size(value) else 0.0
    node.inputs, node.attrs = [x], {"pads": full, "mode": mode, "value": v}


def _resize(graph: Graph, node: Node, opset: int) -> None:
    x = node.inputs[0]
    shape = graph.shapes.get(x) or ()
    rank = len(shape)
    a = node.attrs
    mode = a.get("mode", "nearest")
    if mode != "nearest":
        raise UnsupportedModelError(
            node.name, node.op, f"mode={mode}: only nearest resizing is supported"
        )
    if node.op == "Upsample":
        coord, rounding = "asymmetric", "floor"
        scales = a.get("scales") if opset < 9 else _const_input(graph, node, 1, "scales")
        sizes, axes = None, list(range(rank))
    else:
        coord = a.get("coordinate_transformation_mode", "half_pixel")
        rounding = a.get("nearest_mode", "round_prefer_floor")
        if opset < 11:
            coord, rounding = "asymmetric", "floor"
            scales, sizes = _const_input(graph, node, 1, "scales"), None
        else:
            scales = _const_input(graph, node, 2, "scales")
            sizes = _const_input(graph, node, 3, "sizes")
        axes = _axes(a.get("axes", range(rank)), rank, node)
    if coord not in COORDINATE_MODES:
        raise UnsupportedModelError(
            node.name, node.op, f"coordinate_transformation_mode={coord} is not supported"
        )
    if rounding not in NEAREST_MODES:
        raise UnsupportedModelError(node.name, node.op, f"nearest_mode={rounding}")
    if scales is not None and np.size(scales):
        factors = [float(s) for s in np.ravel(scales)]
        if len(factors) != len(axes) or min(factors) <= 0:
            raise UnsupportedModelError(node.name, node.op, f"invalid scales {factors}")
        kept = [(ax, f) for ax, f in zip(axes, factors, strict=True) if not (
            ax == 0 and f == 1.0 and shape and shape[0] is None)]  # fmt: skip
        axes, factors = [ax for ax, _ in kept], [f for _, f in kept]
        shape = _static_shape(graph, node, x, axes)
        out_len = [int(np.floor(shape[ax] * f)) for ax, f in zip(axes, factors, strict=True)]
    elif sizes is not None and np.size(sizes):
        out_len = [int(s) for s in np.ravel(sizes)]
        if len(out_len) != len(axes):
            raise UnsupportedModelError(node.name, node.op, "sizes do not match the axes")
        shape = _static_shape(graph, node, x, axes)
        factors = [o / shape[ax] for ax, o in zip(axes, out_len, strict=True)]
        policy = a.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            f = min(factors) if policy == "not_larger" else max(factors)
            factors = [f] * len(axes)
            out_len = [int(np.floor(shape[ax] * f + 0.5)) for ax in axes]
    else:
        raise UnsupportedModelError(node.name, node.op, "neither scales nor sizes is given")
    index: dict[str, list[int]] = {}
    for ax, f, n in zip(axes, factors, out_len, strict=True):
        idx = nearest_index(shape[ax], n, f, coord, rounding)
        if idx != list(range(shape[ax])):
            index[str(ax)] = idx
    node.op, node.inputs, node.attrs = "Resize", [x], {"index": index}


def _reduce_mean(graph: Graph, node: Node, opset: int) -> list[Node]:
    x = node.inputs[0]
    rank = len(graph.shapes.get(x, ()))
    axes_v = _const_input(graph, node, 1, "axes") if opset >= 18 else node.attrs.get("axes")
    keep = int(node.attrs.get("keepdims", 1))
    if axes_v is None or np.size(axes_v) == 0:
        if node.attrs.get("noop_with_empty_axes", 0):
            node.op, node.inputs, node.attrs = "Identity", [x], {}
            return [node]
        axes = list(range(rank))
    else:
        axes = sorted(_axes(np.ravel(axes_v), rank, node))
    if rank >= 3 and axes == list(range(2, rank)):
        if keep:
            return [Node("GlobalAveragePool", node.name, [x], list(node.outputs))]
        mid = graph.unique_name(f"{node.name}_pooled")
        shape = graph.shapes.get(x)
        if shape is not None:
            graph.shapes[mid] = (*shape[:2], *([1] * (rank - 2)))
        return [
            Node("GlobalAveragePool", node.name, [x], [mid]),
            Node("Flatten", f"{node.name}_flatten", [mid], list(node.outputs), {"axis": 1}),
        ]
    node.inputs, node.attrs = [x], {"axes": axes, "keepdims": keep}
    return [node]


def canonicalise_movement(graph: Graph, opset: int) -> None:
    """Rewrite every Slice, Split, Pad, Resize, Upsample and ReduceMean in place."""
    nodes: list[Node] = []
    for node in graph.nodes:
        if node.op == "Slice":
            _slice(graph, node)
        elif node.op == "Split":
            nodes += _split(graph, node, opset)
            continue
        elif node.op == "Pad":
            _pad(graph, node, opset)
        elif node.op in ("Resize", "Upsample"):
            _resize(graph, node, opset)
        elif node.op == "ReduceMean":
            nodes += _reduce_mean(graph, node, opset)
            continue
        nodes.append(node)
    graph.nodes = nodes


def fold_pad_into_conv(graph: Graph) -> None:
    """A zero constant Pad of the spatial axes read only by a Conv becomes the Conv's pads."""
    for pad in list(graph.nodes):
        if pad.op != "Pad" or pad.attrs["mode"] != "constant" or pad.attrs["value"] != 0.0:
            continue
        full = pad.attrs["pads"]
        if len(full) < 3 or full[0] != [0, 0] or full[1] != [0, 0]:
            continue
        users = graph.consumers(pad.outputs[0])
        if pad.outputs[0] in graph.outputs or len(users) != 1 or users[0].op != "Conv":
            continue
        conv = users[0]
        if conv.inputs[0] != pad.outputs[0] or conv.attrs.get("auto_pad", "NOTSET") != "NOTSET":
            continue
        nd = len(full) - 2
        old = conv.attrs.get("pads") or [0] * (2 * nd)
        conv.attrs["pads"] = [old[i] + full[2 + i][0] for i in range(nd)] + [
            old[nd + i] + full[2 + i][1] for i in range(nd)
        ]
        conv.inputs[0] = pad.inputs[0]
        graph.nodes.remove(pad)
