"""Reassembling what exporters write in pieces (MobileNetV3-style blocks).

* ``HardSigmoid``: ``Clip(x + 3, 0, 6) / 6`` (or ``* (1/6)``, constants as ints or
  floats, the 3 on either side);
* ``HardSwish``: ``x * HardSigmoid(x)``, also written ``x * Clip(x + 3, 0, 6) / 6`` with
  the division last;
* a constant ``Add`` after a Conv/Gemm (a bias exported as its own node) folds into the
  bias; a constant per-channel (or scalar) ``Mul`` after a Conv/Gemm folds into the
  weights and bias.

Every rewrite is exact in real arithmetic (float results agree within rounding) and is
recorded in :attr:`Graph.fusions`, which ``plutflow inspect`` lists.
"""

from __future__ import annotations

import numpy as np

from plutflow.ir.graph import Graph, Node

#: Relative tolerance when matching exporters' constants (3 vs 3.0, 1/6 vs 0.16666667).
RTOL = 1e-5


def _const_operand(graph: Graph, node: Node) -> tuple[str, np.ndarray] | None:
    """(the other input, the constant) of a binary node with one constant operand."""
    if len(node.inputs) != 2:
        return None
    a, b = node.inputs
    if graph.is_constant(b) and not graph.is_constant(a):
        return a, graph.const(b)
    if graph.is_constant(a) and not graph.is_constant(b):
        return b, graph.const(a)
    return None


def _is_scalar(value: np.ndarray, target: float) -> bool:
    v = np.asarray(value, np.float64)
    return v.size == 1 and bool(np.isclose(float(v.reshape(-1)[0]), target, rtol=RTOL, atol=0))


def _only_reader(graph: Graph, tensor: str) -> Node | None:
    if tensor in graph.outputs:
        return None
    users = graph.consumers(tensor)
    return users[0] if len(users) == 1 else None


def _clip_of_x_plus_3(graph: Graph, clip: Node | None) -> str | None:
    """x, when ``clip`` is Clip(x + 3, 0, 6) with its Add read only by it."""
    if clip is None or clip.op != "Clip" or len(clip.inputs) != 1:
        return None
    if not (_is_scalar(clip.attrs.get("min", np.nan), 0.0)
            and _is_scalar(clip.attrs.get("max", np.nan), 6.0)):  # fmt: skip
        return None
    add = graph.producer(clip.inputs[0])
    if add is None or add.op != "Add" or _only_reader(graph, add.outputs[0]) is not clip:
        return None
    operand = _const_operand(graph, add)
    if operand is None or not _is_scalar(operand[1], 3.0):
        return None
    return operand[0]


def _sixths(graph: Graph) -> list[tuple[Node, str]]:
    """Every ``Mul(t, 1/6)`` (a division by 6 after canonicalisation) with its ``t``."""
    out = []
    for mul in graph.nodes:
        operand = _const_operand(graph, mul) if mul.op == "Mul" else None
        if operand is not None and _is_scalar(operand[1], 1.0 / 6.0):
            out.append((mul, operand[0]))
    return out


def _hard_sigmoid(graph: Graph) -> None:
    """Mul(Clip(x + 3, 0, 6), 1/6) -> HardSigmoid(x, alpha=1/6, beta=0.5)."""
    for mul, t in _sixths(graph):
        if mul not in graph.nodes:
            continue
        clip = graph.producer(t)
        x = _clip_of_x_plus_3(graph, clip)
        if x is None or _only_reader(graph, clip.outputs[0]) is not mul:
            continue
        add = graph.producer(clip.inputs[0])
        graph.nodes.remove(add)
        graph.nodes.remove(clip)
        mul.op, mul.inputs, mul.attrs = "HardSigmoid", [x], {"alpha": 1.0 / 6.0, "beta": 0.5}
        graph.fusions.append(f"{mul.name}: Add(+3) -> Clip(0, 6) -> /6 as HardSigmoid")


def _hard_swish(graph: Graph) -> None:
    """Mul(x, HardSigmoid(x)) and Mul(Mul(x, Clip(x + 3, 0, 6)), 1/6) -> HardSwish(x)."""
    for mul in list(graph.nodes):
        if mul.op != "Mul" or mul not in graph.nodes or len(mul.inputs) != 2:
            continue
        for gate_out, x in (mul.inputs, mul.inputs[::-1]):
            gate = graph.producer(gate_out)
            if (gate is not None and gate.op == "HardSigmoid" and gate.inputs[0] == x
                    and np.isclose(gate.attrs.get("alpha", 0.2), 1 / 6, rtol=RTOL)
                    and np.isclose(gate.attrs.get("beta", 0.5), 0.5, rtol=RTOL)
                    and _only_reader(graph, gate_out) is mul):  # fmt: skip
                graph.nodes.remove(gate)
                mul.op, mul.inputs, mul.attrs = "HardSwish", [x], {}
                graph.fusions.append(f"{mul.name}: x * HardSigmoid(x) as HardSwish")
                break
    for last, t in _sixths(graph):  # the division last: (x * Clip(x + 3, 0, 6)) / 6
        if last not in graph.nodes:
            continue
        inner = graph.producer(t)
        if inner is None or inner.op != "Mul" or _only_reader(graph, inner.outputs[0]) is not last:
            continue
        for clip_out, x in (inner.inputs, inner.inputs[::-1]):
            clip = graph.producer(clip_out)
            if _clip_of_x_plus_3(graph, clip) == x and _only_reader(graph, clip_out) is inner:
                graph.nodes.remove(graph.producer(clip.inputs[0]))
                graph.nodes.remove(clip)
                graph.nodes.remove(inner)
                last.op, last.inputs, last.attrs = "HardSwish", [x], {}
                graph.fusions.append(f"{last.name}: x * Clip(x + 3, 0, 6) / 6 as HardSwish")
                break


def _per_channel(graph: Graph, prod: Node, value: np.ndarray) -> np.ndarray | None:
    """``value`` as one number per output channel of ``prod`` (Conv: broadcast over
    (N, M, ...); Gemm: over (N, M)), or None if it varies along another axis."""
    w = graph.const(prod.inputs[1])
    m = w.shape[0]
    rank = len(graph.shapes.get(prod.outputs[0], ())) or (2 if prod.op == "Gemm" else w.ndim)
    v = np.asarray(value, np.float64)
    if v.size == 1:
        return np.full(m, float(v.reshape(-1)[0]))
    if v.ndim > rank:
        return None
    shape = (1,) * (rank - v.ndim) + v.shape
    if len(shape) < 2 or shape[1] != m or any(d != 1 for i, d in enumerate(shape) if i != 1):
        return None
    return v.reshape(m)


def _fold_affine(graph: Graph) -> None:
    """Conv/Gemm followed by a constant Add (bias) or Mul (scale) per channel."""
    from plutflow.ir.passes import _add_const  # the pass helpers' constant naming

    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if node.op not in ("Add", "Mul") or node not in graph.nodes:
                continue
            operand = _const_operand(graph, node)
            if operand is None:
                continue
            prod = graph.producer(operand[0])
            if (prod is None or prod.op not in ("Conv", "Gemm") or prod.attrs.get("act")
                    or _only_reader(graph, prod.outputs[0]) is not node
                    or not all(graph.is_constant(i) for i in prod.inputs[1:] if i)
                    or (prod.op == "Gemm" and prod.attrs != {"transB": 1})):  # fmt: skip
                continue
            c = _per_channel(graph, prod, operand[1])
            if c is None:
                continue
            w = graph.const(prod.inputs[1]).astype(np.float64)
            m = w.shape[0]
            b = (graph.const(prod.inputs[2]).astype(np.float64)
                 if len(prod.inputs) > 2 and prod.inputs[2] else np.zeros(m))  # fmt: skip
            if node.op == "Add":
                b = b + c
                what = "bias Add"
            else:
                w = w * c.reshape(m, *([1] * (w.ndim - 1)))
                b = b * c
                what = "per-channel Mul"
            prod.inputs = [
                prod.inputs[0],
                _add_const(graph, f"{prod.name}_W", w.astype(np.float32)),
                _add_const(graph, f"{prod.name}_b", b.astype(np.float32)),
            ]
            prod.outputs = list(node.outputs)
            graph.nodes.remove(node)
            graph.fusions.append(f"{prod.name}: constant {what} {node.name} folded")
            changed = True


def reassemble(graph: Graph) -> None:
    """Run every pattern of this module (before activation fusion). The activations come
    first: their ``+ 3`` would otherwise look like a bias of the layer before."""
    _hard_sigmoid(graph)
    _hard_swish(graph)
    _fold_affine(graph)
