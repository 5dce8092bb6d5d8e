"""Whole networks on the overlay: small ResNet-18- and MobileNetV2-style networks (the
bench runs them at 224 x 224) and tests/data/mobile_like.onnx, every layer placed on the
overlay, every tensor bit-exact with golden on the simulated RTL, in int8 and in a
low-bit mixed-precision recipe (8-bit first and last layers on the int8 path)."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from plutflow.api import quantize_model
from plutflow.golden.executor import GoldenExecutor
from plutflow.ir.importer import import_onnx
from plutflow.overlay.config import OverlayConfig
from plutflow.quant.builder import QuantConfig
from plutflow.quant.scheme import LayerScheme, SchemeConfig
from plutflow.runtime import Accelerator, Artifact

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import models  # noqa: E402

HOST_OK = {"softmax"}  # the only op the overlay has no kind for (a final softmax)


@cache
def network(name: str):
    if name == "resnet":
        return import_onnx(models.resnet18(size=32, width=16, classes=10))
    if name == "mobilenet":
        return import_onnx(models.mobilenet_v2(size=32, width=0.35, classes=10))
    if name == "detector":
        return import_onnx(models.detector_like(size=32, width=16))
    return import_onnx(str(ROOT / "tests" / "data" / f"{name}.onnx"))


@cache
def quantized(name: str, scheme: str):
    graph = network(name)
    shape = graph.shapes[graph.inputs[0]]
    calib = np.random.default_rng(0).uniform(0, 1, (16, *shape[1:])).astype(np.float32)
    cfg = None
    if scheme != "int8":
        cfg = QuantConfig(schemes=SchemeConfig(default=LayerScheme.parse(scheme)))
    return quantize_model(graph, calib, cfg, progress=False)


def images(model, n: int) -> np.ndarray:
    shape = model.tensors[model.inputs[0]].shape
    return np.random.default_rng(1).uniform(0, 1, (n, *shape[1:])).astype(np.float32)


@pytest.mark.parametrize(
    ("name", "scheme", "overlay"),
    [
        ("resnet", "int8", "int8"),
        ("resnet", "pot:4", "shift"),
        ("mobilenet", "int8", "int8"),
        ("mobilenet", "plut:4:4", "plut"),
        ("mobile_like", "int8", "int8"),
    ],
)
def test_network_runs_whole_on_the_simulated_overlay(name: str, scheme: str, overlay: str):
    model = quantized(name, scheme)
    art = Artifact.compile(model, OverlayConfig.for_pe(overlay, p=8))
    host = [r for r in art.placement if r["target"] == "host" and r["op"] not in HOST_OK]
    assert not host, host
    x = images(model, 3)
    with Accelerator(art, "sim") as acc:
        got = acc.run(x, keep=True).tensors
    want = GoldenExecutor(model).run(model.tensors[model.inputs[0]].quantize(x), keep=True)
    for lay in model.layers:
        o = lay.outputs[0]
        assert np.array_equal(got[o], want[o]), f"{name} {scheme}: layer {lay.name}"


def test_detector_with_data_movement_ops_is_bit_exact() -> None:
    """A YOLO-style network: channel Split/Slice, nearest Resize and a reflect Pad run on
    the host between overlay layers; every tensor still equals golden, and the float
    and integer models agree."""
    from plutflow.reference import run_float

    model = quantized("detector", "int8")
    ops = {lay.op for lay in model.layers}
    assert {"slice", "resize_nearest", "pad", "concat", "maxpool"} <= ops
    art = Artifact.compile(model, OverlayConfig.for_pe("int8", p=8))
    where = {r["op"]: r["target"] for r in art.placement}
    assert where["conv"] == "overlay" and where["resize_nearest"] == "host"
    x = images(model, 2)
    with Accelerator(art, "sim") as acc:
        got = acc.run(x, keep=True).tensors
    golden = GoldenExecutor(model)
    want = golden.run(model.tensors[model.inputs[0]].quantize(x), keep=True)
    for lay in model.layers:
        o = lay.outputs[0]
        assert np.array_equal(got[o], want[o]), f"detector: layer {lay.name}"
    out = model.outputs[0]
    real = model.tensors[out].dequantize(want[out])
    ref = run_float(network("detector"), {network("detector").inputs[0]: x})[out]
    assert np.corrcoef(real.ravel(), ref.ravel())[0, 1] > 0.99


def test_the_board_code_path_runs_a_network() -> None:
    """The PYNQ driver path (pynq_port) on the PYNQ stand-in over the simulated RTL."""
    model = quantized("resnet", "int8")
    art = Artifact.compile(model, OverlayConfig.for_pe("int8", p=8))
    x = images(model, 2)
    with Accelerator(art, "pynq-sim", max_batch=2) as acc:
        out = acc.run(x).outputs
    want = GoldenExecutor(model).run(model.tensors[model.inputs[0]].quantize(x))
    assert all(np.array_equal(out[k], want[k]) for k in out)
