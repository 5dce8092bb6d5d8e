"""Automatic per-layer bit-widths under a memory budget, from measured sensitivity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plutflow.errors import PlutflowError
from plutflow.ir.graph import Graph
from plutflow.quant.scheme import LayerScheme, SchemeConfig
from plutflow.quant.weights import quantize_weights
from plutflow.reference.executor import run_float


@dataclass
class Sensitivity:
    """Output error of the float model when one layer's weights use one scheme."""

    layer: str
    scheme: LayerScheme
    weight_bytes: int
    error: float  # mean squared output error, relative to the output's mean square


def packed_weight_bytes(w: np.ndarray, bits: int) -> int:
    return -(-w.size * bits // 8)


def measure_sensitivity(
    graph: Graph, calib: np.ndarray, candidates: list[LayerScheme], images: int = 128
) -> list[Sensitivity]:
    """For every Conv/Gemm and candidate scheme: quantize that layer's weights alone (to
    their dequantized float values) and measure the change of the model output."""
    x = calib[:images]
    ref = run_float(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    power = float(np.mean(ref.astype(np.float64) ** 2)) or 1.0
    out = []
    for node in graph.nodes:
        if node.op not in ("Conv", "Gemm"):
            continue
        name = node.inputs[1]
        w = graph.constants[name]
        for cand in candidates:
            q = quantize_weights(w.astype(np.float64), cand.weights, cand.wbits, cand.plut_base)
            deq = q.values * q.scale.reshape(-1, *([1] * (w.ndim - 1)))
            graph.constants[name] = deq.astype(w.dtype)
            try:
                y = run_float(graph, {graph.inputs[0]: x})[graph.outputs[0]]
            finally:
                graph.constants[name] = w
            err = float(np.mean((y.astype(np.float64) - ref) ** 2)) / power
            out.append(Sensitivity(node.name, cand, packed_weight_bytes(w, cand.wbits), err))
    return out


def choose_bits(
    sens: list[Sensitivity], budget_bytes: int, fixed: dict[str, LayerScheme] | None = None
) -> dict[str, LayerScheme]:
    """Greedy descent: start every layer at its widest candidate and repeatedly take the
    step to a narrower one with the least added error per byte saved, until the packed
    weights fit ``budget_bytes``. Layers in ``fixed`` keep their scheme."""
    fixed = fixed or {}
    by_layer: dict[str, list[Sensitivity]] = {}
    for s in sens:
        by_layer.setdefault(s.layer, []).append(s)
    options = {k: sorted(v, key=lambda s: -s.weight_bytes) for k, v in by_layer.items()}
    pos = {k: 0 for k in options}
    # a fixed layer's bytes: its weight count (the 8-bit candidate's bytes) at its width
    fixed_bytes = sum(
        -(-options[k][0].weight_bytes * fixed[k].wbits // 8) for k in options if k in fixed
    )

    def total() -> float:
        return fixed_bytes + sum(options[k][pos[k]].weight_bytes for k in options if k not in fixed)

    while total() > budget_bytes:
        steps = []
        for k, opts in options.items():
            if k in fixed or pos[k] + 1 >= len(opts):
                continue
            cur, nxt = opts[pos[k]], opts[pos[k] + 1]
            saved = cur.weight_bytes - nxt.weight_bytes
            if saved > 0:
                steps.append((max(nxt.error - cur.error, 0.0) / saved, k))
        if not steps:
            raise PlutflowError(
                f"no choice of bit-widths fits {budget_bytes} bytes of "
                f"weights (smallest: {int(total())} bytes)"
            )
        _, k = min(steps)
        pos[k] += 1
    chosen = {k: opts[pos[k]].scheme for k, opts in options.items() if k not in fixed}
    chosen.update(fixed)
    return chosen


def auto_scheme_config(
    graph: Graph,
    calib: np.ndarray,
    budget_bytes: int,
    weights: str = "upot",
    bits: tuple[int, ...] = (8, 4, 3, 2),
    abits: int = 8,
    ends_at_8bit: bool = True,
) -> tuple[SchemeConfig, list[Sensitivity]]:
    """A :class:`SchemeConfig` with per-layer weight bits chosen under ``budget_bytes``."""
    cands = [
        LayerScheme("int8", 8, abits) if b == 8 else LayerScheme(weights, b, abits) for b in bits
    ]
    sens = measure_sensitivity(graph, calib, cands)
    layers = [n.name for n in graph.nodes if n.op in ("Conv", "Gemm")]
    fixed = (
        {layers[0]: LayerScheme("int8", 8, 8), layers[-1]: LayerScheme("int8", 8, 8)}
        if ends_at_8bit and layers
        else {}
    )
    chosen = choose_bits(sens, budget_bytes, fixed)
    rules = tuple((name, chosen[name]) for name in layers)
    return SchemeConfig(LayerScheme(), rules, ends_at_8bit=False), sens
