"""Structural checks of an ONNX graph before plutflow reads it: what ONNX requires and
exporters occasionally get wrong, refused (or repaired) with a message naming the node.

* nodes out of topological order are put in order (ONNX requires it; some tools write
  graphs unsorted); a cycle, a self-loop, or an input that nothing produces is an error;
* a graph output that no node, input or initializer produces is an error;
* control flow (``If``, ``Loop``, ``Scan``: attributes holding subgraphs) is refused;
* an initializer whose data does not match its dims, or that holds NaN or infinity, is
  refused by name.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from plutflow.errors import UnsupportedModelError


def _subgraph_attr(node: onnx.NodeProto) -> bool:
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for a in node.attribute)  # fmt: skip


def check_initializers(graph: onnx.GraphProto) -> None:
    """Every initializer decodes to its declared dims and holds finite values."""
    for init in graph.initializer:
        try:
            arr = numpy_helper.to_array(init)
        except Exception as exc:  # dims that disagree with the data, unknown types
            raise UnsupportedModelError(init.name, "initializer",
                                        f"its data does not match dims {list(init.dims)}: "
                                        f"{exc}") from None  # fmt: skip
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise UnsupportedModelError(init.name, "initializer",
                                        "holds NaN or infinite values")  # fmt: skip


def sort_and_check(graph: onnx.GraphProto) -> None:
    """Put the nodes in topological order (in place), refusing cycles, inputs nothing
    produces, subgraphs and outputs nothing produces."""
    available = {vi.name for vi in graph.input} | {i.name for i in graph.initializer} | {""}
    producers: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        if _subgraph_attr(node):
            raise UnsupportedModelError(node.name or node.output[0], node.op_type,
                                        "control flow with subgraphs is not supported")  # fmt: skip
        for out in node.output:
            if out in producers or (out and out in available):
                raise UnsupportedModelError(node.name or out, node.op_type,
                                            f"tensor '{out}' is produced twice")  # fmt: skip
            producers[out] = i
    for node in graph.node:
        for name in node.input:
            if name not in available and name not in producers:
                raise UnsupportedModelError(node.name or node.output[0], node.op_type,
                                            f"input '{name}' is produced by nothing")  # fmt: skip
    order, done, state = [], set(), {}  # depth first; state: 1 visiting, 2 done

    for start in range(len(graph.node)):
        stack = [(start, 0)]
        while stack:
            i, k = stack.pop()
            if state.get(i) == 2:
                continue
            state[i] = 1
            node = graph.node[i]
            deps = [producers[n] for n in node.input if n in producers]
            if k < len(deps):
                stack.append((i, k + 1))
                j = deps[k]
                if state.get(j) == 1:
                    why = "the graph has a cycle through this node"
                    raise UnsupportedModelError(node.name or node.output[0], node.op_type, why)
                if state.get(j) != 2:
                    stack.append((j, 0))
                continue
            state[i] = 2
            if i not in done:
                done.add(i)
                order.append(i)
    if order != list(range(len(graph.node))):
        nodes = [onnx.NodeProto() for _ in order]
        for dst, i in zip(nodes, order, strict=True):
            dst.CopyFrom(graph.node[i])
        del graph.node[:]
        graph.node.extend(nodes)
    known = available | set(producers)
    for vi in graph.output:
        if vi.name not in known:
            raise UnsupportedModelError(vi.name, "output", "no node, input or initializer "
                                        "produces this graph output")  # fmt: skip


def check_conv_channels(graph) -> None:
    """A Conv's weight must hold input channels / group channels per filter."""
    for node in graph.nodes:
        if node.op != "Conv" or node.inputs[1] not in graph.constants:
            continue
        shape = graph.shapes.get(node.inputs[0])
        c = shape[1] if shape and len(shape) > 1 else None
        w = graph.constants[node.inputs[1]]
        group = int(node.attrs.get("group", 1))
        if isinstance(c, int) and w.ndim > 1 and w.shape[1] * group != c:
            raise UnsupportedModelError(
                node.name, node.op, f"its weight holds {w.shape[1]} x {group} input channels "
                f"but its input has {c}",
            )  # fmt: skip
