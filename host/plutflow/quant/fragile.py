"""Activations known to be fragile at low bits, found from the graph's structure.

MobileNet-family networks lose most of their low-bit accuracy in a few kinds of tensor
(issue 16; the rule is in docs/spec.md, section 4):

- ``se``: the squeeze-and-excitation path, the pooled vector and the excitation's hidden
  tensor, whose few values each scale a whole channel;
- ``hardswish-depthwise``: HardSwish outputs read by a depthwise convolution, which sums
  only a kernel's worth of them (no averaging of the rounding error over channels), with
  HardSwish's biased range (-0.375 .. 6) spending codes on its negative dip;
- ``residual``: tensors read by a residual ``Add``, whose rounding error is carried
  through every block that follows.

An ``A4`` request keeps these at 8 bits unless told otherwise
(``QuantOptions.fragile_low_bits``); :func:`read_at_8_bits` turns a set of tensors into
per-layer rules. Only tensors some Conv/Gemm reads can be below 8 bits (the width of a
tensor is the widest its MAC readers request), so only those are listed.
"""

from __future__ import annotations

import fnmatch
import glob
from dataclasses import dataclass, replace

from plutflow.ir.graph import Graph, Node
from plutflow.quant.builder import root_tensor
from plutflow.quant.scheme import UPOT_MAX_BITS, LayerScheme, SchemeConfig

#: The kinds of fragile tensor, in the order they are reported.
FRAGILE_KINDS = ("se", "hardswish-depthwise", "residual")
_POOLS = ("GlobalAveragePool", "ReduceMean")


@dataclass(frozen=True)
class FragileTensor:
    """A tensor read by Conv/Gemm layers that is fragile at low bits, and why."""

    tensor: str
    kind: str  # one of FRAGILE_KINDS


def mac_readers(graph: Graph) -> dict[str, list[Node]]:
    """The Conv/Gemm layers reading each tensor (through layout and max-pool ops, whose
    output shares their input's quantization)."""
    out: dict[str, list[Node]] = {}
    for node in graph.nodes:
        if node.op in ("Conv", "Gemm"):
            out.setdefault(root_tensor(graph, node.inputs[0]), []).append(node)
    return out


def fragile_activations(graph: Graph) -> list[FragileTensor]:
    """Every tensor of ``graph`` a Conv/Gemm reads that is fragile at low bits, each once
    (the first kind that applies), in graph order within each kind."""
    readers = mac_readers(graph)
    found: dict[str, str] = {}

    def add(tensor: str, kind: str) -> None:
        root = root_tensor(graph, tensor)
        if root in readers and root not in found:
            found[root] = kind

    for tensor in _se_tensors(graph):
        add(tensor, "se")
    for root, nodes in readers.items():
        prod = graph.producer(root)
        hardswish = prod is not None and _writes_hardswish(prod)
        if hardswish and any(graph.is_depthwise(n) for n in nodes):
            add(root, "hardswish-depthwise")
    for node in graph.nodes:
        if node.op in ("Add", "Sum") and _residual(graph, node):
            for tensor in node.inputs:
                add(tensor, "residual")
    order = {name: i for i, name in enumerate(_tensor_order(graph))}
    return sorted((FragileTensor(t, k) for t, k in found.items()),
                  key=lambda f: (FRAGILE_KINDS.index(f.kind), order.get(f.tensor, 0)))  # fmt: skip


def read_at_8_bits(
    graph: Graph, schemes: SchemeConfig, tensors: set[str], leave: tuple[str, ...] = ()
) -> tuple[SchemeConfig, list[str]]:
    """``schemes`` with every Conv/Gemm reading one of ``tensors`` given 8-bit
    activations at its weight format and width (P-LUT, whose table takes at most 4-bit
    activations, becomes UPoT at the same weight width); layers whose names match a glob
    pattern of ``leave`` keep their scheme. Returns the schemes and the tensors that now
    read at 8 bits where they did not before."""
    layers = [n for n in graph.nodes if n.op in ("Conv", "Gemm")]
    rules, changed = [], []
    for i, node in enumerate(layers):
        root = root_tensor(graph, node.inputs[0])
        if root not in tensors:
            continue
        if any(fnmatch.fnmatchcase(node.name, p) for p in leave):
            continue
        s = schemes.for_layer(node.name, i, len(layers), graph.is_depthwise(node))
        if s.abits >= 8:
            continue
        weights = "upot" if s.weights == "plut" else s.weights
        wbits = min(s.wbits, UPOT_MAX_BITS) if weights == "upot" else s.wbits
        rules.append((glob.escape(node.name), LayerScheme(weights, wbits, 8, s.plut_base)))
        if root not in changed:
            changed.append(root)
    return replace(schemes, rules=schemes.rules + tuple(rules)), changed


# ---------------------------------------------------------------- graph patterns
def _spatial(graph: Graph, tensor: str) -> tuple | None:
    shape = graph.shapes.get(tensor)
    return tuple(shape[2:]) if shape is not None and len(shape) >= 3 else None


def _writes_hardswish(node: Node) -> bool:
    act = node.attrs.get("act")
    return node.op == "HardSwish" or (bool(act) and act.get("op") == "HardSwish")


def _residual(graph: Graph, node: Node) -> bool:
    """An Add of two computed tensors of the same shape (a skip connection; a bias Add
    has a constant operand)."""
    ins = [t for t in node.inputs if t and not graph.is_constant(t)]
    if len(ins) != 2:
        return False
    a, b = (graph.shapes.get(t) for t in ins)
    return a is not None and a == b


def _se_tensors(graph: Graph) -> list[str]:
    """The tensors of every squeeze-and-excitation path: for a channel-wise ``Mul`` of a
    feature map by a 1 x 1 gate, the 1 x 1 tensors between the gate and the global pool
    that squeezes the map (the pooled vector included)."""
    out: list[str] = []
    for node in graph.nodes:
        if node.op != "Mul":
            continue
        ins = [t for t in node.inputs if t and not graph.is_constant(t)]
        if len(ins) != 2:
            continue
        sp = [_spatial(graph, t) for t in ins]
        if None in sp:
            continue
        ones = [s is not None and all(d == 1 for d in s) for s in sp]
        if ones.count(True) != 1 or all(d == 1 for d in sp[ones.index(False)] or ()):
            continue
        stack, seen = [ins[ones.index(True)]], set()
        path: list[str] = []
        squeezed = False
        while stack:
            t = stack.pop()
            if t in seen or graph.is_constant(t):
                continue
            seen.add(t)
            s = _spatial(graph, t)
            if s is None or any(d != 1 for d in s):
                continue
            path.append(t)
            prod = graph.producer(t)
            if prod is None:
                continue
            if prod.op in _POOLS:
                squeezed = True
                continue
            stack.extend(i for i in prod.inputs if i)
        if squeezed:
            out.extend(t for t in path if t not in out)
    return out


def _tensor_order(graph: Graph) -> list[str]:
    return [*graph.inputs, *(t for n in graph.nodes for t in n.outputs)]
