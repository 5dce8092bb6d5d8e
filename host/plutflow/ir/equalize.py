"""Cross-layer equalisation: per-channel scales moved between consecutive layers so that
weight and activation ranges even out, exact in float (Nagel et al., "Data-free
quantization through weight equalization and bias correction", 2019).

For a Conv/Gemm ``A`` whose output is read only by a Conv/Gemm ``B`` (ungrouped, or
depthwise over ``A``'s channels), through no activation or a positively homogeneous one
(Relu, LeakyRelu, PRelu: ``f(x / s) = f(x) / s`` for ``s > 0``), output channel ``i`` of
``A`` (weights and bias) is divided by ``s_i`` and input channel ``i`` of ``B`` multiplied
by it. The network computes the same function. With ``r1_i`` the largest weight
magnitude of ``A``'s channel ``i`` and ``r2_i`` that of ``B``'s input channel ``i``,
``s_i = sqrt(r1_i / r2_i)`` makes both ``sqrt(r1_i r2_i)``: a channel whose weights (and
so activations) dwarf the others' is shrunk, and the per-tensor activation scale between
the two layers is no longer set by it. Chains (A -> B -> C) are swept until the scales
settle.
"""

from __future__ import annotations

import numpy as np

from plutflow.ir.graph import Graph, Node

#: How each equalised pair is named in :attr:`Graph.fusions`.
FUSION = "cross-layer equalisation"
#: Activations with f(x / s) = f(x) / s for every s > 0.
HOMOGENEOUS = (None, "Relu", "LeakyRelu", "PRelu")
#: Sweeps over the pairs, and the scale change below which a sweep ends them.
SWEEPS = 20
SETTLED = 1e-3
#: Scales are kept within [1/LIMIT, LIMIT] (a dead channel has no range to equalise).
LIMIT = 1e4


def equalize(graph: Graph) -> int:
    """Equalise every eligible pair of ``graph`` in place; record each in
    :attr:`Graph.fusions` and return how many pairs there were."""
    pairs = [(a, b) for a in graph.nodes if (b := _partner(graph, a)) is not None]
    for _ in range(SWEEPS):
        change = 0.0
        for a, b in pairs:
            change = max(change, _equalize_pair(graph, a, b))
        if change < SETTLED:
            break
    for a, b in pairs:
        graph.fusions.append(f"{FUSION}: {a.name} -> {b.name}")
    return len(pairs)


def _partner(graph: Graph, a: Node) -> Node | None:
    """The layer ``B`` that ``a`` can be equalised with, or None."""
    if a.op not in ("Conv", "Gemm") or not _own_constants(graph, a):
        return None
    act = a.attrs.get("act")
    if (act or {}).get("op") not in HOMOGENEOUS:
        return None
    out = a.outputs[0]
    readers = graph.consumers(out)
    if out in graph.outputs or len(readers) != 1:
        return None
    b = readers[0]
    if b.op not in ("Conv", "Gemm") or b.inputs[0] != out or not _own_constants(graph, b):
        return None
    channels = graph.const(a.inputs[1]).shape[0]
    wb = graph.const(b.inputs[1])
    if b.op == "Gemm":
        fits = len(graph.shapes.get(out) or ()) == 2 and wb.shape[1] == channels
    elif graph.is_depthwise(b):
        fits = int(b.attrs["group"]) == channels == wb.shape[0]
    else:
        fits = int(b.attrs.get("group", 1)) == 1 and wb.shape[1] == channels
    return b if fits else None


def _own_constants(graph: Graph, node: Node) -> bool:
    """The node's weight (and bias) are constants no other node reads."""
    params = [t for t in node.inputs[1:] if t]
    if not params or not all(graph.is_constant(t) for t in params):
        return False
    return all(sum(t in n.references() for n in graph.nodes) == 1 for t in params)


def _equalize_pair(graph: Graph, a: Node, b: Node) -> float:
    """Move scales between ``a``'s output channels and ``b``'s input channels; return the
    largest relative change of a scale."""
    wa = graph.const(a.inputs[1]).astype(np.float64)
    wb = graph.const(b.inputs[1]).astype(np.float64)
    depthwise = graph.is_depthwise(b)
    r1 = np.abs(wa.reshape(wa.shape[0], -1)).max(axis=1)
    if depthwise:
        r2 = np.abs(wb.reshape(wb.shape[0], -1)).max(axis=1)
    else:
        r2 = np.abs(np.moveaxis(wb, 1, 0).reshape(wb.shape[1], -1)).max(axis=1)
    alive = (r1 > 0) & (r2 > 0)
    s = np.ones_like(r1)
    s[alive] = np.clip(np.sqrt(r1[alive] / r2[alive]), 1 / LIMIT, LIMIT)
    shape_a = (-1,) + (1,) * (wa.ndim - 1)
    _set(graph, a.inputs[1], wa / s.reshape(shape_a))
    if len(a.inputs) > 2 and a.inputs[2]:
        _set(graph, a.inputs[2], graph.const(a.inputs[2]).astype(np.float64) / s)
    if depthwise:
        _set(graph, b.inputs[1], wb * s.reshape((-1,) + (1,) * (wb.ndim - 1)))
    else:
        _set(graph, b.inputs[1], wb * s.reshape((1, -1) + (1,) * (wb.ndim - 2)))
    return float(np.max(np.abs(s - 1.0))) if s.size else 0.0


def _set(graph: Graph, name: str, value: np.ndarray) -> None:
    graph.constants[name] = value.astype(graph.constants[name].dtype)
