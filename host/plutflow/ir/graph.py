"""The intermediate representation: a small, ONNX-like dataflow graph.

Activations flow between :class:`Node` objects by name; weights and other constants live
in :attr:`Graph.constants`. Shapes use ``None`` for the symbolic batch dimension.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Shape = tuple[int | None, ...]


@dataclass
class Node:
    """One operation. ``inputs`` may name activations or constants; an empty name is an
    omitted optional input, as in ONNX."""

    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)

    def references(self) -> list[str]:
        """Every tensor the node reads: its inputs and a fused PRelu's slope constant."""
        act = self.attrs.get("act")
        return self.inputs + ([act["slope"]] if act and "slope" in act else [])

    def __repr__(self) -> str:
        return f"Node({self.op} '{self.name}': {self.inputs} -> {self.outputs})"


@dataclass
class Graph:
    """A topologically ordered graph with named inputs, outputs and constants."""

    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    constants: dict[str, np.ndarray]
    shapes: dict[str, Shape]
    dtypes: dict[str, np.dtype] = field(default_factory=dict)
    name: str = "model"
    #: fixed quantization read from a pre-quantized (QDQ/QCDQ/QONNX) model, if any
    quant_hints: Any = None
    #: what the importer reassembled (decomposed activations, folded bias/scale nodes)
    fusions: list[str] = field(default_factory=list)

    def producer(self, tensor: str) -> Node | None:
        """The node that writes ``tensor``, or None for graph inputs and constants."""
        for node in self.nodes:
            if tensor in node.outputs:
                return node
        return None

    def consumers(self, tensor: str) -> list[Node]:
        """Every node that reads ``tensor``."""
        return [n for n in self.nodes if tensor in n.inputs]

    def is_depthwise(self, node: Node) -> bool:
        """A Conv with more than one group and one input channel per group."""
        if node.op != "Conv" or int(node.attrs.get("group", 1)) <= 1:
            return False
        w = self.constants.get(node.inputs[1]) if len(node.inputs) > 1 else None
        return w is not None and w.ndim >= 2 and w.shape[1] == 1

    def is_constant(self, tensor: str) -> bool:
        return tensor in self.constants

    def const(self, tensor: str) -> np.ndarray:
        return self.constants[tensor]

    def used_elsewhere(self, tensor: str, besides: Node) -> bool:
        """True if ``tensor`` is a graph output or read by a node other than ``besides``."""
        if tensor in self.outputs:
            return True
        return any(n is not besides for n in self.consumers(tensor))

    def names(self) -> set[str]:
        """Every name in use: constants, tensors and nodes."""
        taken = set(self.constants) | {t for n in self.nodes for t in (*n.inputs, *n.outputs)}
        return taken | {n.name for n in self.nodes}

    def unique_name(self, base: str, taken: set[str] | None = None) -> str:
        """``base``, or ``base_<i>`` if that is taken (``taken``: :meth:`names`, when the
        caller keeps it up to date)."""
        taken = self.names() if taken is None else taken
        if base not in taken:
            return base
        i = 1
        while f"{base}_{i}" in taken:
            i += 1
        return f"{base}_{i}"

    def prune_constants(self) -> None:
        """Drop constants that no node reads any more."""
        used = {t for n in self.nodes for t in n.references()} | set(self.outputs)
        for name in [c for c in self.constants if c not in used]:
            del self.constants[name]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def summary(self) -> str:
        """A human-readable, one line per node listing."""
        lines = [f"graph '{self.name}': inputs {self.inputs} -> outputs {self.outputs}"]
        for n in self.nodes:
            shape = self.shapes.get(n.outputs[0]) if n.outputs else None
            attrs = ", ".join(f"{k}={v}" for k, v in n.attrs.items() if k != "act")
            act = n.attrs.get("act")
            extra = f" +{act['op']}" if act else ""
            lines.append(f"  {n.name:<28} {n.op + extra:<22} {fmt_shape(shape)}  {attrs}")
        lines += [f"fused: {f}" for f in self.fusions]
        return "\n".join(lines)


def fmt_shape(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"
