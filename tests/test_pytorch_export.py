"""A real PyTorch export (tests/data/mobile_like.onnx, made by scripts/export_test_models.py):
import, float reference vs onnxruntime, and every quantization scheme end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from builders import run_ort
from plutflow.calib import collect_stats
from plutflow.golden import GoldenExecutor
from plutflow.ir import import_onnx
from plutflow.quant import LayerScheme, QuantConfig, SchemeConfig, quantize
from plutflow.reference import run_float

MODEL = Path(__file__).parent / "data" / "mobile_like.onnx"


@pytest.fixture(scope="module")
def setup():
    graph = import_onnx(MODEL)
    x = np.random.default_rng(0).normal(size=(48, 3, 32, 32)).astype(np.float32)
    return graph, x, collect_stats(graph, x, progress=False)


def test_exporter_graph_imports_and_matches_onnxruntime(setup) -> None:
    graph, x, _ = setup
    ops = [n.op for n in graph.nodes]
    # BN folded, shape arithmetic folded, activations fused, SE and residual kept
    assert "BatchNormalization" not in ops and "Shape" not in ops and "Gather" not in ops
    assert ops.count("Conv") == 6 and "Mul" in ops and "Concat" in ops and ops[-1] == "Softmax"
    acts = {n.attrs["act"]["op"] for n in graph.nodes if n.attrs.get("act")}
    assert acts >= {"HardSwish", "Clip", "Relu", "HardSigmoid", "SiLU", "LeakyRelu", "PRelu"}
    got = run_float(graph, {"x": x})["probs"]
    np.testing.assert_allclose(got, run_ort(onnx.load(str(MODEL)), x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scheme", ["int8", "upot:4:8", "plut:4:4", "uniform:3:3"])
def test_every_scheme_runs_end_to_end(setup, scheme: str) -> None:
    graph, x, stats = setup
    model = quantize(graph, stats, QuantConfig(schemes=SchemeConfig(LayerScheme.parse(scheme))))
    ex = GoldenExecutor(model)
    env = ex.run(ex.quantize_inputs(x), keep=True)
    for name, spec in model.tensors.items():  # codes stay inside each tensor's bit-width
        if name in env and name not in model.constants:
            assert spec.qmin <= env[name].min() and env[name].max() <= spec.qmax, name
    for lay in model.layers:  # layout ops and max-pool keep their input's quantization
        if lay.op in ("reshape", "flatten", "transpose", "maxpool"):
            a, b = model.tensors[lay.inputs[0]], model.tensors[lay.outputs[0]]
            assert (a.dtype, a.bits, a.zero_point, a.scale) == (
                b.dtype,
                b.bits,
                b.zero_point,
                b.scale,
            )
    # the logits (softmax input) against float: relative error grows as bits shrink
    floats: dict[str, np.ndarray] = {}
    run_float(graph, {"x": x}, observe=floats.__setitem__)
    logits = [n for n in graph.nodes if n.op == "Gemm"][-1].outputs[0]
    got = model.tensors[logits].dequantize(env[logits])
    rel = np.linalg.norm(got - floats[logits]) / np.linalg.norm(floats[logits])
    # measured 0.013, 0.034, 0.078, 0.17
    limit = {"int8": 0.02, "upot:4:8": 0.05, "plut:4:4": 0.12, "uniform:3:3": 0.25}[scheme]
    assert rel < limit, rel
    probs = model.tensors["probs"].dequantize(env["probs"])
    assert np.abs(probs - run_float(graph, {"x": x})["probs"]).max() <= 1 / 255
