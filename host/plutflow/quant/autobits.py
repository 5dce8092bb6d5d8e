"""Automatic per-layer bit-widths under a memory budget, from measured sensitivity.

The budget counts the bytes ``plutflow quantize`` reports as packed parameters
(:func:`plutflow.report.memory.packed_param_bytes`): each Conv/Gemm's packed streams
(weights in whole words, requant records, P-LUT product tables, shift exponents) and the
other layers' parameters and constants (``other_bytes``), which no weight width changes.
"""

from __future__ import annotations

import fnmatch
import glob
from dataclasses import dataclass

import numpy as np

from plutflow.errors import PlutflowError
from plutflow.formats.layers import packed_layer_bytes
from plutflow.ir.graph import Graph
from plutflow.quant.scheme import LayerScheme, SchemeConfig
from plutflow.quant.weights import quantize_weights
from plutflow.reference.executor import run_float


@dataclass
class Sensitivity:
    """Output error of the float model when one layer's weights use one scheme."""

    layer: str
    scheme: LayerScheme
    packed_bytes: int  # the layer's packed streams with this scheme
    error: float  # mean squared output error, relative to the output's mean square
    weight_count: int = 0
    out_channels: int = 0

    def bytes_with(self, scheme: LayerScheme) -> int:
        """The layer's packed bytes with another (8-bit or uniform) ``scheme``."""
        return packed_layer_bytes(self.weight_count, self.out_channels, scheme.weights,
                                  scheme.wbits, scheme.abits)  # fmt: skip


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
            packed = packed_layer_bytes(w.size, w.shape[0], cand.weights, cand.wbits, cand.abits,
                                        sum(len(t) for t in q.terms))  # fmt: skip
            out.append(Sensitivity(node.name, cand, packed, err, int(w.size), int(w.shape[0])))
    return out


def _fixed_bytes(options: list[Sensitivity], scheme: LayerScheme) -> int:
    """A fixed layer's packed bytes: as measured for that scheme, else computed."""
    same = [o.packed_bytes for o in options if o.scheme == scheme]
    return same[0] if same else options[0].bytes_with(scheme)


def choose_bits(
    sens: list[Sensitivity],
    budget_bytes: int,
    fixed: dict[str, LayerScheme] | None = None,
    other_bytes: int = 0,
) -> dict[str, LayerScheme]:
    """Greedy descent: start every layer at its widest candidate and repeatedly take the
    step to a narrower one with the least added error per byte saved, until the packed
    parameters (the layers' streams and ``other_bytes``) fit ``budget_bytes``. Layers in
    ``fixed`` keep their scheme."""
    fixed = fixed or {}
    by_layer: dict[str, list[Sensitivity]] = {}
    for s in sens:
        by_layer.setdefault(s.layer, []).append(s)
    options = {k: sorted(v, key=lambda s: -s.packed_bytes) for k, v in by_layer.items()}
    pos = {k: 0 for k in options}
    fixed_bytes = other_bytes + sum(_fixed_bytes(options[k], fixed[k]) for k in options
                                    if k in fixed)  # fmt: skip

    def total() -> int:
        return fixed_bytes + sum(options[k][pos[k]].packed_bytes for k in options if k not in fixed)

    while total() > budget_bytes:
        steps = []
        for k, opts in options.items():
            if k in fixed or pos[k] + 1 >= len(opts):
                continue
            cur, nxt = opts[pos[k]], opts[pos[k] + 1]
            saved = cur.packed_bytes - nxt.packed_bytes
            if saved > 0:
                steps.append((max(nxt.error - cur.error, 0.0) / saved, k))
        if not steps:
            raise PlutflowError(
                f"no choice of bit-widths fits {budget_bytes:,} bytes of packed parameters "
                f"(the smallest is {total():,} bytes, {fixed_bytes:,} of them in layers "
                "that keep 8 bits and in other layers' parameters)"
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
    other_bytes: int = 0,
    sens: list[Sensitivity] | None = None,
    rules: tuple[tuple[str, LayerScheme], ...] = (),
    depthwise: LayerScheme | None = None,
) -> tuple[SchemeConfig, list[Sensitivity]]:
    """A :class:`SchemeConfig` with per-layer weight bits chosen so the packed parameters
    (with ``other_bytes`` of non-Conv/Gemm parameters) fit ``budget_bytes``; ``sens``
    reuses sensitivities measured before. Layers that ``rules`` (``(glob, scheme)``, the
    last match wins), the 8-bit ends or a ``depthwise`` scheme name keep that scheme and
    count in the budget."""
    cands = [
        LayerScheme("int8", 8, abits) if b == 8 else LayerScheme(weights, b, abits) for b in bits
    ]
    if sens is None:
        sens = measure_sensitivity(graph, calib, cands)
    nodes = [n for n in graph.nodes if n.op in ("Conv", "Gemm")]
    layers = [n.name for n in nodes]
    pinned = SchemeConfig(LayerScheme(), rules, ends_at_8bit, depthwise)
    fixed = {}
    for i, node in enumerate(nodes):
        dw = graph.is_depthwise(node)
        if (
            (ends_at_8bit and i in (0, len(layers) - 1))
            or (dw and depthwise is not None)
            or any(fnmatch.fnmatchcase(node.name, pattern) for pattern, _ in rules)
        ):
            fixed[node.name] = pinned.for_layer(node.name, i, len(layers), dw)
    chosen = choose_bits(sens, budget_bytes, fixed, other_bytes)
    # one rule per layer, its name escaped so that '[', '*' or '?' in it match literally
    rules = tuple((glob.escape(name), chosen[name]) for name in layers)
    return SchemeConfig(LayerScheme(), rules, ends_at_8bit=False), sens
