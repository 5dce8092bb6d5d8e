"""How much each low-bit activation costs on its own: the float network with only that
tensor rounded to its integer codes and back, against the float network.

This is the measurement behind choosing activation widths by sensitivity (a tensor whose
rounding alone moves the output keeps more bits); it sees the tensors as the integer model
quantizes them (scale, zero point and width), weights stay float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from plutflow.intmodel.model import IntModel, TensorSpec
from plutflow.ir.graph import Graph
from plutflow.quant.fragile import read_at_8_bits
from plutflow.quant.scheme import SchemeConfig
from plutflow.reference.executor import run_float


@dataclass
class ActivationSensitivity:
    """The network output's change when one activation alone is quantized."""

    tensor: str
    bits: int
    producer: str  # the op that writes the tensor (e.g. "HardSwish", "Conv")
    error: float  # mean squared output change, relative to the output's mean square
    agreement: float  # % of positions where the output's class is unchanged
    #: the error with the tensor at the width it would get instead (``wide``), if measured
    error_wide: float = 0.0

    @property
    def gain(self) -> float:
        """The output error saved by the wider width."""
        return max(self.error - self.error_wide, 0.0)


def activation_sensitivity(
    graph: Graph,
    model: IntModel,
    images: np.ndarray,
    max_bits: int = 7,
    wide: Mapping[str, TensorSpec] | None = None,
) -> list[ActivationSensitivity]:
    """Every activation of ``model`` narrower than ``max_bits + 1`` bits, each rounded to
    its codes alone on ``images`` (preprocessed floats) in the float ``graph``; the most
    sensitive first. With ``wide`` (the specs of a build where these tensors are wider,
    e.g. 8 bits) each is also measured at that width (``error_wide``)."""
    from plutflow.evaluation import agreement

    x = {graph.inputs[0]: images}
    ref = run_float(graph, x)[graph.outputs[0]].astype(np.float64)
    power = float(np.mean(ref**2)) or 1.0
    producers = {out: node.op for node in graph.nodes for out in node.outputs}
    out = []
    for name, spec in model.tensors.items():
        if name in model.constants or spec.bits > max_bits or name not in producers:
            continue

        y = _rounded_alone(graph, x, name, spec)
        error = float(np.mean((y - ref) ** 2)) / power
        wider = (wide or {}).get(name)
        error_wide = 0.0
        if wider is not None and wider.bits > spec.bits:
            error_wide = float(np.mean((_rounded_alone(graph, x, name, wider) - ref) ** 2)) / power
        out.append(ActivationSensitivity(name, spec.bits, producers[name], error,
                                         agreement(ref, y), error_wide))  # fmt: skip
    return sorted(out, key=lambda s: -s.error)


def _rounded_alone(graph: Graph, x: dict, name: str, spec: TensorSpec) -> np.ndarray:
    """The float network's output with only ``name`` rounded to ``spec``'s codes."""

    def one(tensor: str, value: np.ndarray) -> np.ndarray:
        return spec.dequantize(spec.quantize(value)) if tensor == name else value

    return run_float(graph, x, transform=one)[graph.outputs[0]].astype(np.float64)


def keep_at_8_bits(
    graph: Graph, schemes: SchemeConfig, sens: list[ActivationSensitivity], count: int
) -> tuple[SchemeConfig, list[ActivationSensitivity]]:
    """``schemes`` with the ``count`` costliest activations of ``sens`` read at 8 bits
    (:func:`plutflow.quant.fragile.read_at_8_bits`). Returns the new schemes and the
    activations kept."""
    kept = sens[:count]
    schemes, _ = read_at_8_bits(graph, schemes, {s.tensor for s in kept})
    return schemes, kept
