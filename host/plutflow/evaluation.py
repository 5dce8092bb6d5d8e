"""Batched predictions (float reference, fake quantization, golden) and the metrics that
compare them: top-1 accuracy and class agreement."""

from __future__ import annotations

import numpy as np

from plutflow.fast.engine import executor
from plutflow.intmodel.model import IntModel
from plutflow.ir.graph import Graph
from plutflow.reference.executor import run_float


def predict_float(graph: Graph, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Float logits of the first output, batched."""
    outs = [
        run_float(graph, {graph.inputs[0]: x[i : i + batch_size]})[graph.outputs[0]]
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(outs)


def predict_fake_quant(
    graph: Graph, model: IntModel, x: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Float logits with every activation the integer model quantizes rounded to its
    codes and back (weights stay float): the activation-quantization loss alone."""

    def fake(name: str, value: np.ndarray) -> np.ndarray:
        spec = model.tensors.get(name)
        return value if spec is None else spec.dequantize(spec.quantize(value))

    outs = [
        run_float(graph, {graph.inputs[0]: x[i : i + batch_size]}, transform=fake)[graph.outputs[0]]
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(outs)


def predict_golden(
    model: IntModel, x: np.ndarray, batch_size: int = 256, engine: str = "auto"
) -> np.ndarray:
    """Golden's integer output codes of the first output for float inputs ``x``, batched;
    computed by the fast engine when available (``engine``: auto, fast or golden)."""
    return _first_output(executor(model, engine), model, x, batch_size)


def _first_output(ex, model: IntModel, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The first output's codes of executor ``ex`` for float inputs ``x``, batched."""
    outs = [ex.run(ex.quantize_inputs(x[i : i + batch_size]))[model.outputs[0]]
            for i in range(0, len(x), batch_size)]  # fmt: skip
    return np.concatenate(outs)


def timed_predict_golden(
    model: IntModel, x: np.ndarray, batch_size: int = 256, engine: str = "auto"
) -> tuple[np.ndarray, float]:
    """:func:`predict_golden` and its steady throughput in images/s: the executor is made
    and run once on one image first, so the one-time work (the fast engine compiles its
    kernels on first use, seconds on a fresh install) is not counted as time per image."""
    import time

    ex = executor(model, engine)
    ex.run(ex.quantize_inputs(x[:1]))
    t0 = time.perf_counter()
    codes = _first_output(ex, model, x, batch_size)
    return codes, len(x) / max(time.perf_counter() - t0, 1e-9)


def classes(scores: np.ndarray) -> np.ndarray:
    """The class each output picks: argmax over axis 1, per image for (N, C) and per
    spatial position for dense (N, C, H, W) outputs; shape (N, positions)."""
    a = np.asarray(scores)
    return a.reshape(len(a), a.shape[1] if a.ndim > 1 else 1, -1).argmax(axis=1)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Percent of positions where two outputs pick the same class (see :func:`classes`)."""
    return float((classes(a) == classes(b)).mean() * 100.0)


def top1(scores: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in percent."""
    return float((scores.reshape(len(scores), -1).argmax(axis=1) == labels).mean() * 100.0)
