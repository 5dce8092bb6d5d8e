"""Low-bit activation ranges chosen by the error of the layers that read them.

The adaptive observer picks each low-bit tensor's (scale, zero point) for the least
error of the tensor itself. What matters is the error the rounding causes downstream:
a channel that barely moves the next layer's output may be clipped hard, a small one
that a large weight amplifies may not. Here each tensor below 8 bits tries the best
(lo, hi) candidates of the adaptive grid and the min-max range; the one kept gives the
least mean squared error of its Conv/Gemm readers' outputs (fused activation applied,
float weights) over the calibration images, relative to each reader's output power.
Tensors are independent: every candidate is tried against the float inputs of the
other tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plutflow.calib.observers import TensorStats, adaptive_candidates
from plutflow.ir.graph import Graph
from plutflow.quant.builder import QuantConfig, quantize
from plutflow.quant.fragile import mac_readers
from plutflow.quant.qparams import spec_from_range
from plutflow.reference.executor import fused_activation, run_float
from plutflow.reference.ops import FLOAT_OPS

#: Candidates of the adaptive grid tried per tensor (the min-max range is added).
CANDIDATES = 12


@dataclass
class RangeChoice:
    """One tensor's search: the range kept and the readers' error before and after."""

    tensor: str
    bits: int
    lo: float
    hi: float
    error_before: float  # the adaptive observer's range
    error_after: float


def consumer_ranges(
    graph: Graph,
    stats: dict[str, TensorStats],
    config: QuantConfig,
    images: np.ndarray,
    candidates: int = CANDIDATES,
) -> list[RangeChoice]:
    """For every activation below 8 bits in the model ``config`` builds, the (lo, hi)
    whose rounding gives its Conv/Gemm readers the least output error on ``images``."""
    model = quantize(graph, stats, config)
    readers = mac_readers(graph)
    low = [t for t, s in model.tensors.items()
           if s.bits < 8 and t in stats and t in readers and t not in model.constants]  # fmt: skip
    wanted = {n.inputs[0] for t in low for n in readers[t]}
    values: dict[str, np.ndarray] = {}

    def keep(name: str, value: np.ndarray) -> None:
        if name in wanted:
            values[name] = value

    run_float(graph, {graph.inputs[0]: images}, observe=keep)  # (inputs observed too)
    out = []
    for tensor in low:
        spec = model.tensors[tensor]
        st = stats[tensor]
        options = adaptive_candidates(st, spec.bits, candidates)
        options.append((min(st.lo, 0.0), max(st.hi, 0.0)))
        nodes = readers[tensor]
        refs = [_run(graph, n, values[n.inputs[0]]).astype(np.float64) for n in nodes]
        errors = []
        for lo, hi in options:
            q = spec_from_range(lo, hi, spec.shape, spec.dtype == "int8", spec.bits)
            errors.append(sum(
                _relative_error(_run(graph, n, q.dequantize(q.quantize(values[n.inputs[0]]))), r)
                for n, r in zip(nodes, refs, strict=True)))  # fmt: skip
        best = int(np.argmin(errors))
        out.append(RangeChoice(tensor, spec.bits, float(options[best][0]),
                               float(options[best][1]), errors[0], errors[best]))  # fmt: skip
    return out


def _relative_error(y: np.ndarray, ref: np.ndarray) -> float:
    """Mean squared error of ``y`` against ``ref``, relative to ``ref``'s mean square."""
    return float(np.mean((y.astype(np.float64) - ref) ** 2)) / (float(np.mean(ref**2)) or 1.0)


def _run(graph: Graph, node, x: np.ndarray) -> np.ndarray:
    """``node`` (a Conv/Gemm) on input ``x`` with its float weights and fused activation."""
    ins = [x, *(graph.constants.get(t) if t else None for t in node.inputs[1:])]
    return fused_activation(graph, node, FLOAT_OPS[node.op](node, ins)[0])
