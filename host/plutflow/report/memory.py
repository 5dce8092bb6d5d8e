"""Parameter and peak activation memory of the float graph and the integer model."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from plutflow.formats.layers import pack_model
from plutflow.intmodel.model import IntModel
from plutflow.ir.graph import Graph


@dataclass
class MemoryReport:
    float_param_bytes: int
    int_param_bytes: int
    float_peak_activation_bytes: int
    int_peak_activation_bytes: int

    @property
    def param_saving(self) -> float:
        """Fraction of parameter memory saved by the integer model."""
        return 1.0 - self.int_param_bytes / max(self.float_param_bytes, 1)

    @property
    def activation_saving(self) -> float:
        return 1.0 - self.int_peak_activation_bytes / max(self.float_peak_activation_bytes, 1)

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "param_saving": self.param_saving,
            "activation_saving": self.activation_saving,
        }


def _elements(shape: tuple) -> int:
    return int(np.prod([1 if d is None else d for d in shape]))


def peak_live_bytes(
    order: list[tuple[list[str], list[str]]],
    inputs: list[str],
    outputs: list[str],
    nbytes: dict[str, int],
) -> int:
    """Largest sum of live tensor sizes over a schedule of (inputs, outputs) steps, per image."""
    last_use: dict[str, int] = {}
    for i, (ins, _) in enumerate(order):
        for t in ins:
            last_use[t] = i
    live = {t for t in inputs}
    peak = sum(nbytes.get(t, 0) for t in live)
    for i, (_ins, outs) in enumerate(order):
        live |= set(outs)
        peak = max(peak, sum(nbytes.get(t, 0) for t in live))
        live = {t for t in live if last_use.get(t, -1) > i or t in outputs}
    return peak


def packed_param_bytes(model: IntModel) -> int:
    """Parameter bytes as the accelerator receives them: packed conv/gemm streams (weights
    at their bit-width, product tables, requant records) plus every other layer's tables
    and constants at their storage width."""
    return sum(p.total_bytes for p in pack_model(model)) + other_param_bytes(model)


def other_param_bytes(model: IntModel) -> int:
    """The part of :func:`packed_param_bytes` outside the conv/gemm streams: the other
    layers' tables and constants at their storage width."""
    total = sum(a.nbytes for a in model.constants.values())
    for lay in model.layers:
        if lay.op not in ("conv", "gemm"):
            total += sum(a.nbytes for a in lay.params.values())
    return total


def activation_bytes(model: IntModel) -> int:
    """Bytes of every activation tensor of one image at its bit-width, densely packed
    (the model's input and outputs included): what an activation-width budget counts."""
    return sum(tensor_bytes(s.shape, s.bits) for t, s in model.tensors.items()
               if t not in model.constants)  # fmt: skip


def tensor_bytes(shape: tuple, bits: int) -> int:
    """One image's bytes of a tensor of ``shape`` (batch first) at ``bits``, packed."""
    return -(-_elements(shape[1:]) * bits // 8)


def memory_report(graph: Graph, model: IntModel) -> MemoryReport:
    """Parameter bytes and peak activation bytes (batch 1) of float32 vs integer."""
    float_params = sum(  # float32 parameters
        int(v.size) * 4 for v in graph.constants.values() if np.issubdtype(v.dtype, np.floating)
    )
    f_bytes = {t: _elements(s) * 4 for t, s in graph.shapes.items() if t not in graph.constants}
    f_order = [([i for i in n.inputs if i not in graph.constants], n.outputs) for n in graph.nodes]
    i_bytes = {  # activations at their bit-width, densely packed
        t: tensor_bytes(s.shape, s.bits)
        for t, s in model.tensors.items()
        if t not in model.constants
    }
    i_order = [(lay.inputs, lay.outputs) for lay in model.layers]
    return MemoryReport(
        float_param_bytes=float_params,
        int_param_bytes=packed_param_bytes(model),
        float_peak_activation_bytes=peak_live_bytes(f_order, graph.inputs, graph.outputs, f_bytes),
        int_peak_activation_bytes=peak_live_bytes(i_order, model.inputs, model.outputs, i_bytes),
    )
