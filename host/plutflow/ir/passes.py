"""IR rewrites: canonical forms, then fusion and folding that keep float semantics."""

from __future__ import annotations

import numpy as np

from plutflow.activations import ACTIVATION_OPS
from plutflow.errors import UnsupportedModelError
from plutflow.ir.graph import Graph, Node
from plutflow.ir.movement import fold_pad_into_conv
from plutflow.ir.patterns import reassemble

#: Activations that are a pure clamp and may also fuse into a residual Add.
CLAMP_ACTIVATIONS = ("Relu", "Clip")


def _replace_uses(graph: Graph, old: str, new: str) -> None:
    for n in graph.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]


def _add_const(graph: Graph, base: str, value: np.ndarray, taken: set | None = None) -> str:
    """Add a constant under a fresh name (``taken``: the names in use, kept by a pass that
    adds many, so each addition is O(1))."""
    name = graph.unique_name(base, taken)
    if taken is not None:
        taken.add(name)
    graph.constants[name] = value
    graph.shapes[name] = tuple(value.shape)
    graph.dtypes[name] = value.dtype
    return name


def _single_consumer(graph: Graph, tensor: str) -> Node | None:
    if tensor in graph.outputs:
        return None
    users = graph.consumers(tensor)
    return users[0] if len(users) == 1 else None


def canonicalise(graph: Graph) -> None:
    """Sub/Div by a constant become Add/Mul; constant Clip bounds become attributes;
    Gemm with constant weights becomes ``x @ W.T + b`` with alpha = beta = 1."""
    for node in graph.nodes:
        if node.op in ("Sub", "Div"):
            a, b = node.inputs
            if not graph.is_constant(b) or graph.is_constant(a):
                raise UnsupportedModelError(
                    node.name, node.op, "only supported with a constant second operand"
                )
            c = graph.const(b)
            if not np.issubdtype(c.dtype, np.floating):
                raise UnsupportedModelError(node.name, node.op, "only floating-point operands")
            value = -c if node.op == "Sub" else (1.0 / c).astype(c.dtype)
            node.inputs = [a, _add_const(graph, f"{node.name}_operand", value)]
            node.op = "Add" if node.op == "Sub" else "Mul"
        elif node.op == "Clip" and len(node.inputs) > 1:
            bounds = node.inputs[1:]
            if all(not b or graph.is_constant(b) for b in bounds):
                for key, b in zip(("min", "max"), bounds, strict=False):
                    if b:
                        node.attrs[key] = float(graph.const(b))
                node.inputs = node.inputs[:1]
        elif node.op == "Gemm":
            _canonical_gemm(graph, node)


def _canonical_gemm(graph: Graph, node: Node) -> None:
    a = node.attrs
    if a.get("transA", 0) or not graph.is_constant(node.inputs[1]):
        return
    w = graph.const(node.inputs[1]).astype(np.float32)
    w = w if a.get("transB", 0) else w.T  # (M, K)
    m = w.shape[0]
    bias = np.zeros(m, np.float32)
    if len(node.inputs) > 2 and node.inputs[2]:
        if not graph.is_constant(node.inputs[2]):
            return
        c = graph.const(node.inputs[2]).astype(np.float32)
        if c.size not in (1, m) or (c.ndim == 2 and c.shape[0] != 1):
            return
        bias = np.broadcast_to(c.reshape(-1), (m,)) * np.float32(a.get("beta", 1.0))
    w = w * np.float32(a.get("alpha", 1.0))
    node.inputs = [
        node.inputs[0],
        _add_const(graph, f"{node.name}_W", np.ascontiguousarray(w)),
        _add_const(graph, f"{node.name}_b", np.ascontiguousarray(bias, np.float32)),
    ]
    node.attrs = {"transB": 1}


def remove_identities(graph: Graph) -> None:
    """Drop Identity, and Dropout whose mask output is unused."""
    for node in list(graph.nodes):
        if node.op not in ("Identity", "Dropout"):
            continue
        if len([o for o in node.outputs if o]) > 1 and any(graph.consumers(node.outputs[1])):
            continue
        if node.op == "Dropout" and len(node.outputs) > 1 and node.outputs[1] in graph.outputs:
            continue
        src, dst = node.inputs[0], node.outputs[0]
        if dst in graph.outputs:
            prod = graph.producer(src)
            if prod is None or src in graph.outputs or len(graph.consumers(src)) > 1:
                continue
            prod.outputs = [dst if o == src else o for o in prod.outputs]
        else:
            _replace_uses(graph, dst, src)
        graph.nodes.remove(node)


def matmul_add_to_gemm(graph: Graph) -> None:
    """MatMul(x, W) [+ Add(b)] with 2-D ``x`` and constant W becomes a Gemm."""
    for node in list(graph.nodes):
        if node.op != "MatMul" or node not in graph.nodes:
            continue
        x, w = node.inputs
        if not graph.is_constant(w) or graph.const(w).ndim != 2:
            continue
        if len(graph.shapes.get(x, ())) != 2:
            continue
        weight = graph.const(w)
        bias = np.zeros(weight.shape[1], np.float32)
        out = node.outputs[0]
        add = _single_consumer(graph, out)
        if add is not None and add.op == "Add":
            other = add.inputs[1] if add.inputs[0] == out else add.inputs[0]
            if graph.is_constant(other) and graph.const(other).size == weight.shape[1]:
                bias = graph.const(other).reshape(-1).astype(np.float32)
                out = add.outputs[0]
                graph.nodes.remove(add)
        node.op = "Gemm"
        node.inputs = [
            x,
            _add_const(graph, f"{node.name}_W", np.ascontiguousarray(weight.T, np.float32)),
            _add_const(graph, f"{node.name}_b", bias),
        ]
        node.outputs = [out]
        node.attrs = {"transB": 1}


def _bn_params(graph: Graph, bn: Node) -> tuple[np.ndarray, np.ndarray] | None:
    names = bn.inputs[1:5]
    if not all(graph.is_constant(n) for n in names):
        return None
    gamma, beta, mean, var = (graph.const(n).astype(np.float64) for n in names)
    scale = gamma / np.sqrt(var + bn.attrs.get("epsilon", 1e-5))
    return scale, beta - mean * scale


def fold_batchnorm(graph: Graph) -> None:
    """Fold BatchNormalization into the preceding Conv or canonical Gemm; a BN on its own
    over (N, C, H, W) becomes a depthwise 1x1 Conv."""
    taken = graph.names()
    producer = {o: n for n in graph.nodes for o in n.outputs}
    readers: dict[str, int] = {}
    for n in graph.nodes:
        for i in n.inputs:
            readers[i] = readers.get(i, 0) + 1
    removed = set()
    for bn in list(graph.nodes):
        if bn.op != "BatchNormalization":
            continue
        params = _bn_params(graph, bn)
        if params is None:
            continue
        scale, shift = params
        prod = producer.get(bn.inputs[0])
        foldable = (
            prod is not None
            and prod.op in ("Conv", "Gemm")
            and not prod.attrs.get("act")
            and bn.inputs[0] not in graph.outputs
            and readers.get(bn.inputs[0], 0) == 1
            and all(graph.is_constant(i) for i in prod.inputs[1:])
            and (prod.op == "Conv" or (prod.attrs.get("transB") == 1 and len(prod.attrs) == 1))
        )
        if foldable:
            w = graph.const(prod.inputs[1]).astype(np.float64)
            m = w.shape[0]
            b = (
                graph.const(prod.inputs[2]).astype(np.float64)
                if len(prod.inputs) > 2 and prod.inputs[2]
                else np.zeros(m)
            )
            w = w * scale.reshape(m, *([1] * (w.ndim - 1)))
            b = b * scale + shift
            prod.inputs = [
                prod.inputs[0],
                _add_const(graph, f"{prod.name}_W", w.astype(np.float32), taken),
                _add_const(graph, f"{prod.name}_b", b.astype(np.float32), taken),
            ]
            prod.outputs = list(bn.outputs[:1])
            producer[prod.outputs[0]] = prod
            removed.add(id(bn))
        elif len(graph.shapes.get(bn.inputs[0], ())) == 4:
            c = scale.shape[0]
            bn.op = "Conv"
            bn.inputs = [
                bn.inputs[0],
                _add_const(
                    graph, f"{bn.name}_W", scale.reshape(c, 1, 1, 1).astype(np.float32), taken
                ),
                _add_const(graph, f"{bn.name}_b", shift.astype(np.float32), taken),
            ]
            bn.outputs = bn.outputs[:1]
            bn.attrs = {"kernel_shape": [1, 1], "group": c}
    graph.nodes[:] = [n for n in graph.nodes if id(n) not in removed]


def detect_silu(graph: Graph) -> None:
    """Mul(x, Sigmoid(x)) becomes a single SiLU activation."""
    for mul in list(graph.nodes):
        if mul.op != "Mul":
            continue
        for sig_out, other in (mul.inputs, mul.inputs[::-1]):
            sig = graph.producer(sig_out)
            if (
                sig is not None
                and sig.op == "Sigmoid"
                and sig.inputs[0] == other
                and _single_consumer(graph, sig_out) is mul
            ):
                graph.nodes.remove(sig)
                mul.op, mul.inputs, mul.attrs = "SiLU", [other], {}
                break


def fuse_activations(graph: Graph) -> None:
    """Fuse an activation into the Conv/Gemm (any activation) or Add (Relu/Clip) before it.

    One pass with a producer and consumer index (linear in the node count)."""
    producer = {o: n for n in graph.nodes for o in n.outputs}
    readers: dict[str, int] = {}
    for n in graph.nodes:
        for i in n.inputs:
            readers[i] = readers.get(i, 0) + 1
    outputs, removed = set(graph.outputs), set()
    for act in graph.nodes:
        if act.op not in ACTIVATION_OPS:
            continue
        prod = producer.get(act.inputs[0])
        if (
            prod is None
            or prod.attrs.get("act")
            or act.inputs[0] in outputs
            or readers.get(act.inputs[0], 0) != 1
        ):
            continue
        if prod.op not in ("Conv", "Gemm", "Add"):
            continue
        if prod.op == "Add" and act.op not in CLAMP_ACTIVATIONS:
            continue
        spec: dict = {"op": act.op}
        if act.op == "Clip":
            if len(act.inputs) > 1:
                continue  # run-time bounds
            spec["min"], spec["max"] = act.attrs.get("min"), act.attrs.get("max")
        elif act.op in ("LeakyRelu", "HardSigmoid"):
            spec.update({k: float(v) for k, v in act.attrs.items()})
        elif act.op == "PRelu":
            if not graph.is_constant(act.inputs[1]):
                continue
            spec["slope"] = act.inputs[1]
        prod.attrs["act"] = spec
        prod.outputs = list(act.outputs)
        for o in act.outputs:
            producer[o] = prod
        removed.add(id(act))
    graph.nodes[:] = [n for n in graph.nodes if id(n) not in removed]


def optimise(graph: Graph) -> None:
    """Run every fusion pass in a fixed order."""
    remove_identities(graph)
    fold_pad_into_conv(graph)
    matmul_add_to_gemm(graph)
    fold_batchnorm(graph)
    reassemble(graph)
    detect_silu(graph)
    fuse_activations(graph)
