"""``plutflow export``: the integer ONNX graph under onnxruntime equals golden on every
tensor, for every op and weight scheme."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from plutflow.api import QuantOptions, quantize_model
from plutflow.errors import PlutflowError
from plutflow.export import export_integer_onnx
from plutflow.golden import GoldenExecutor
from plutflow.intmodel.model import IntModel
from test_fast import codes_for, conv_model

DATA = Path(__file__).parent / "data"


def assert_export_exact(model: IntModel, codes) -> onnx.ModelProto:
    """Every layer output of the exported graph equals golden's (first difference named)."""
    proto = export_integer_onnx(model, every_tensor=True)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = codes if isinstance(codes, dict) else {model.inputs[0]: codes}
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, feeds), strict=True))
    ref = GoldenExecutor(model).run(feeds, keep=True)
    for lay in model.layers:
        name = lay.outputs[0]
        assert got[name].dtype == ref[name].dtype, (lay.name, got[name].dtype)
        bad = np.argwhere(got[name] != ref[name])
        assert bad.size == 0, (
            f"layer {lay.name} ({lay.op}): first difference at {tuple(bad[0])}: golden "
            f"{ref[name][tuple(bad[0])]}, exported {got[name][tuple(bad[0])]}"
        )
    return proto


@pytest.mark.parametrize("scheme", [None, "pot:4:8", "upot:3:4", "plut:4:4", "uniform:2:4"])
def test_demo_every_scheme(demo, scheme) -> None:
    calib = demo.calib_set()[:96]
    model = quantize_model(demo.model, calib, QuantOptions(scheme=scheme), progress=False)
    proto = assert_export_exact(model, model.tensors[model.inputs[0]].quantize(calib))
    ops = {n.op_type for n in proto.graph.node}
    assert "MatMulInteger" in ops  # convs as im2col (Slice, Concat) x MatMulInteger
    assert not ops & {"QLinearConv", "DequantizeLinear", "QuantizeLinear"}


def test_mobile_like_every_op() -> None:
    """Tables, SE multiply, requantizing concat, average pool and softmax."""
    x = np.random.default_rng(0).normal(size=(32, 3, 32, 32)).astype(np.float32)
    model = quantize_model(DATA / "mobile_like.onnx", x, QuantOptions(scheme="upot:4:8"),
                           progress=False)  # fmt: skip
    ops = {lay.op for lay in model.layers}
    assert ops >= {"conv", "gemm", "mul", "concat", "avgpool", "softmax", "maxpool", "add"}
    assert_export_exact(model, model.tensors[model.inputs[0]].quantize(x))


def test_data_movement_ops() -> None:
    """Split/Slice, concat at offsets and nearest Resize of the PyTorch detector export."""
    x = np.random.default_rng(1).uniform(0, 1, (12, 3, 32, 32)).astype(np.float32)
    model = quantize_model(DATA / "byom_detector.onnx", x, progress=False)
    assert {"slice", "resize_nearest"} <= {lay.op for lay in model.layers}
    assert_export_exact(model, model.tensors[model.inputs[0]].quantize(x))


def test_pad_and_transpose() -> None:
    from builders import ModelBuilder
    from plutflow.ir import import_onnx

    b = ModelBuilder(("N", 3, 10, 10))
    y = b.node("Pad", ["x", b.const(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))],
               mode="reflect")  # fmt: skip
    y = b.conv(y, 3, 4, 3)
    y = b.node("Transpose", [y], perm=[0, 1, 3, 2])
    x = np.random.default_rng(2).normal(size=(6, 3, 10, 10)).astype(np.float32)
    model = quantize_model(import_onnx(b.build(y)), x, progress=False)
    assert {"pad", "transpose"} <= {lay.op for lay in model.layers}
    assert_export_exact(model, model.tensors[model.inputs[0]].quantize(x))


@pytest.mark.parametrize("seed", range(12))
def test_random_layers_with_extreme_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gemm = seed % 3 == 0
    c, group = ((8, 1), (6, 6), (8, 2), (3, 1))[seed % 4]
    m = c if group == c else 16 * group
    k, stride = 1 + seed % 3, 1 + seed % 2
    model = conv_model(rng, c, m, k, stride, 1, 1 if gemm else group, bool(seed % 2),
                       wide=seed % 4 == 1, table=seed % 5 == 2, gemm=gemm)  # fmt: skip
    shape = (3, c) if gemm else (3, c, 7, 8)
    if not gemm and seed % 2:  # static shapes: the im2col x MatMulInteger form
        from plutflow.kernels import windows as win

        a = model.layers[0].attrs
        geom = win.resolve((7, 8), a["kernel"], a["strides"], a["dilations"], a["pads"])
        model.tensors["x"].shape = (None, c, 7, 8)
        model.tensors["y"].shape = (None, m, *geom.out_shape)
    proto = assert_export_exact(model, codes_for(rng, model.tensors["x"], shape))
    ops = {n.op_type for n in proto.graph.node}
    if not gemm:
        static = seed % 2 and model.layers[0].attrs["group"] == 1
        assert ("ConvInteger" not in ops) == bool(static), ops


def test_cli_export(tmp_path, demo, capsys) -> None:
    from plutflow.cli import main

    calib = demo.calib_set()[:64]
    model = quantize_model(demo.model, calib, progress=False)
    path = model.save(tmp_path / "m.pfq")
    out = tmp_path / "m.int.onnx"
    assert main(["export", str(path), "-o", str(out)]) == 0
    assert "equal to golden" in capsys.readouterr().out
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    codes = model.tensors[model.inputs[0]].quantize(calib)
    got = sess.run(None, {model.inputs[0]: codes})[0]
    assert np.array_equal(got, GoldenExecutor(model).run(codes)[model.outputs[0]])
    assert main(["export", str(demo.model), "-o", str(out)]) == 2  # an ONNX, not a .pfq
    assert capsys.readouterr().err.startswith("plutflow: error:")


def test_non_product_plut_table_is_refused(demo) -> None:
    calib = demo.calib_set()[:64]
    model = quantize_model(demo.model, calib, QuantOptions(scheme="plut:4:4"), progress=False)
    lay = next(lay for lay in model.layers if lay.attrs.get("weight_scheme") == "plut")
    lay.params["product_table"] = lay.params["product_table"].copy()
    lay.params["product_table"][1, 1] += 1
    with pytest.raises(PlutflowError, match="not a product"):
        export_integer_onnx(model)
