"""Bring your own model: networks exported by PyTorch's default (dynamo) exporter at
opset 20 (tests/data/byom_*.onnx, written by scripts/export_byom_models.py) through the
whole CLI flow as a user runs it: quantize with no preprocessing config from RGB images,
eval against the float model, compile, selftest on the simulated overlay with the
artifact's own samples, and a simulated run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from plutflow.cli import main
from plutflow.intmodel import IntModel
from plutflow.ir import import_onnx
from plutflow.reference import run_float
from plutflow.runtime import Artifact

DATA = Path(__file__).parent / "data"
SMALL = ["--overlay", "int8", "--array", "8"]
MODELS = {
    "byom_classifier": ([], "GlobalAveragePool"),
    "byom_detector": ([], "Resize"),
    "byom_fcn": (["--input-shape", "x=1x3x32x48"], "Resize"),
    "byom_two_head": ([], "GlobalAveragePool"),
}


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """Unlabelled RGB images (N, H, W, 3) uint8, as a user's .npy would hold them."""
    path = tmp_path_factory.mktemp("data") / "images.npy"
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (40, 8, 12, 3))
    np.save(path, np.repeat(np.repeat(base, 4, axis=1), 4, axis=2).astype(np.uint8))
    return path


@pytest.mark.parametrize("name", list(MODELS))
def test_exporter_graph_matches_onnxruntime(name: str) -> None:
    shape_args, op = MODELS[name]
    model = onnx.load(str(DATA / f"{name}.onnx"))
    shapes = {"x": (1, 3, 32, 48)} if shape_args else None
    graph = import_onnx(model, input_shapes=shapes)
    assert op in [n.op for n in graph.nodes]
    x = np.random.default_rng(1).uniform(0, 1, (1, *graph.shapes["x"][1:])).astype(np.float32)
    got = run_float(graph, {"x": x})
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for name_out, want in zip(graph.outputs, sess.run(None, {"x": x}), strict=True):
        np.testing.assert_allclose(got[name_out], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(MODELS))
def test_user_model_through_the_cli(name: str, images: Path, tmp_path, capsys) -> None:
    shape_args, _ = MODELS[name]
    onnx_path = str(DATA / f"{name}.onnx")
    pfq, pfa = tmp_path / "m.pfq", tmp_path / "m.pfa"
    args = ["quantize", onnx_path, "--calib", str(images), "--num-calib", "32", "-q"]
    assert main([*args, *shape_args, "-o", str(pfq)]) == 0
    assert "inferred from the model input (3 channel(s), NCHW" in capsys.readouterr().err
    model = IntModel.load(pfq)
    assert model.samples["x"].shape[0] == 8
    ev = ["eval", str(pfq), "--data", str(images), "--reference", onnx_path, *shape_args]
    assert main(ev) == 0
    out = capsys.readouterr().out
    agree = float(out.split("same top-1 class as")[1].split(":")[1].split("%")[0])
    assert agree >= 80.0, out
    assert main(["compile", str(pfq), "-o", str(pfa), *SMALL]) == 0
    capsys.readouterr()
    art = Artifact.load(pfa)
    assert set(art.expected) == set(model.outputs)
    conv = [r for r in art.placement if r["op"] == "conv"]
    assert conv and all(r["target"] == "overlay" for r in conv)
    assert main(["selftest", "--artifact", str(pfa), "--backend", "sim"]) == 0
    text = capsys.readouterr().out
    assert "PASS 8 inputs bit-exact with golden" in text and "selftest passed" in text
    run = ["run", str(pfa), "--backend", "sim", "--data", str(images), "--limit", "4", "-q"]
    assert main(run) == 0
