"""Activation scale and shift chosen by the task loss, when calibration labels exist.

Starting from the adaptive (reconstruction-MSE) ranges, each activation tensor below 8
bits in turn tries the best few (lo, hi) candidates of the MSE grid and the min-max
range, and keeps the one whose integer model has the lowest cross-entropy on the
labelled calibration images (one pass of coordinate descent, in layer order).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from plutflow.calib.observers import TensorStats, adaptive_candidates
from plutflow.fast.engine import executor
from plutflow.intmodel.model import IntModel
from plutflow.ir.graph import Graph
from plutflow.quant.builder import QuantConfig, quantize


def cross_entropy(model: IntModel, x: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of the integer model's dequantized first output."""
    ex = executor(model)
    out = model.outputs[0]
    logits = model.tensors[out].dequantize(ex.run(ex.quantize_inputs(x))[out])
    logits = logits.reshape(len(x), -1)
    if model.layers[-1].op == "softmax":  # already probabilities
        return float(-np.mean(np.log(np.maximum(logits[np.arange(len(x)), labels], 1e-9))))
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-np.mean(logp[np.arange(len(x)), labels]))


def tune_ranges(
    graph: Graph,
    stats: dict[str, TensorStats],
    config: QuantConfig,
    x: np.ndarray,
    labels: np.ndarray,
    candidates: int = 6,
) -> tuple[QuantConfig, list[dict]]:
    """Return ``config`` with task-loss-chosen ranges for every tensor below 8 bits, and a
    log of (tensor, candidate count, loss before, loss after)."""
    cache: dict = {}
    model = quantize(graph, stats, config, cache)
    best_loss = cross_entropy(model, x, labels)
    log = []
    overrides = dict(config.range_overrides)
    low_bit = [
        t for t, s in model.tensors.items() if s.bits < 8 and t in stats and t not in model.inputs
    ]
    for tensor in low_bit:
        bits = model.tensors[tensor].bits
        st = stats[tensor]
        options = adaptive_candidates(st, bits, candidates)
        options.append((min(st.lo, 0.0), max(st.hi, 0.0)))  # min-max
        before = best_loss
        for rng in options:
            trial = replace(config, range_overrides={**overrides, tensor: rng})
            loss = cross_entropy(quantize(graph, stats, trial, cache), x, labels)
            if loss < best_loss:
                best_loss, overrides[tensor] = loss, rng
        log.append({"tensor": tensor, "bits": bits, "loss_before": before, "loss_after": best_loss})
    return replace(config, range_overrides=overrides), log
