"""ONNX import: folding, fusion and clear errors; float reference vs onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from builders import ModelBuilder, run_ort
from plutflow.errors import PlutflowError, ShapeError, UnsupportedModelError
from plutflow.ir import import_onnx
from plutflow.reference import run_float


def _check_vs_ort(model: onnx.ModelProto, x: np.ndarray, ops: list[str] | None = None):
    graph = import_onnx(model)
    got = run_float(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    np.testing.assert_allclose(got, run_ort(model, x), rtol=1e-4, atol=1e-4)
    if ops is not None:
        assert [n.op for n in graph.nodes] == ops
    return graph


def test_conv_bn_relu_folds_and_fuses(rng) -> None:
    b = ModelBuilder((None, 3, 9, 9))
    y = b.node("Relu", [b.bn(b.conv("x", 3, 8, bias=False, pads=[1, 1, 1, 1]), 8)])
    y = b.node(
        "Clip",
        [
            b.bn(b.conv(y, 8, 8, group=8, pads=[1, 1, 1, 1]), 8),
            b.const(np.float32(0)),
            b.const(np.float32(6)),
        ],
    )
    graph = _check_vs_ort(
        b.build(y), rng.normal(size=(2, 3, 9, 9)).astype(np.float32), ["Conv", "Conv"]
    )
    assert graph.nodes[0].attrs["act"]["op"] == "Relu"
    assert graph.nodes[1].attrs["act"] == {"op": "Clip", "min": 0.0, "max": 6.0}


def test_pytorch_style_flatten_shape_arithmetic(rng) -> None:
    """x.view(x.size(0), -1) as exported: Shape, Gather, Unsqueeze, Concat, Reshape."""
    b = ModelBuilder((None, 4, 3, 3))
    y = b.conv("x", 4, 4, pads=[1, 1, 1, 1])
    shape = b.node("Shape", [y])
    n = b.node("Gather", [shape, b.const(np.array(0, np.int64))], axis=0)
    n = b.node("Unsqueeze", [n, b.const(np.array([0], np.int64))])
    target = b.node("Concat", [n, b.const(np.array([-1], np.int64))], axis=0)
    y = b.node("Reshape", [y, target])
    y = b.node("Div", [b.gemm(y, 36, 5), b.const(np.float32(2.0))])
    model = b.build(y)
    for batch in (1, 5):
        graph = _check_vs_ort(
            model,
            rng.normal(size=(batch, 4, 3, 3)).astype(np.float32),
            ["Conv", "Reshape", "Gemm", "Mul"],
        )
    assert graph.constants[graph.nodes[1].inputs[1]].tolist() == [0, -1]


def test_matmul_add_becomes_gemm_and_silu_is_detected(rng) -> None:
    b = ModelBuilder((None, 6))
    y = b.node("MatMul", ["x", b.const(rng.normal(size=(6, 4)).astype(np.float32))])
    y = b.node("Add", [y, b.const(rng.normal(size=4).astype(np.float32))])
    y = b.node("Mul", [y, b.node("Sigmoid", [y])])
    graph = _check_vs_ort(b.build(y), rng.normal(size=(3, 6)).astype(np.float32), ["Gemm"])
    assert graph.nodes[0].attrs["act"]["op"] == "SiLU"


def test_channels_last_input_and_identity_dropout(rng) -> None:
    b = ModelBuilder((None, 8, 8, 3))
    y = b.node("Transpose", ["x"], perm=[0, 3, 1, 2])
    y = b.node("Identity", [y])
    y = b.node("Dropout", [b.conv(y, 3, 4)])
    y = b.node("GlobalAveragePool", [y])
    _check_vs_ort(
        b.build(y),
        rng.normal(size=(2, 8, 8, 3)).astype(np.float32),
        ["Transpose", "Conv", "GlobalAveragePool"],
    )


def test_standalone_bn_becomes_depthwise_conv(rng) -> None:
    b = ModelBuilder((None, 3, 5, 5))
    y = b.bn(b.node("MaxPool", ["x"], kernel_shape=[2, 2]), 3)
    _check_vs_ort(b.build(y), rng.normal(size=(2, 3, 5, 5)).astype(np.float32), ["MaxPool", "Conv"])


def test_unsupported_op_names_the_node() -> None:
    b = ModelBuilder((None, 3, 4, 4))
    y = b.node("Resize", ["x", "", b.const(np.array([1, 1, 2, 2], np.float32))])
    with pytest.raises(UnsupportedModelError) as err:
        import_onnx(b.build(y))
    assert err.value.node == "Resize_2"
    assert err.value.op == "Resize"
    assert "not supported" in str(err.value) and "Conv" in str(err.value)


def test_runtime_shape_op_is_refused() -> None:
    b = ModelBuilder((None, 3))
    y = b.node("Cast", ["x"], to=TensorProto.FLOAT16)
    with pytest.raises(UnsupportedModelError, match="could not be folded"):
        import_onnx(b.build(y))


def test_batch_dependent_shape_used_elsewhere_is_refused() -> None:
    b = ModelBuilder((None, 3))
    shape = b.node("Shape", ["x"])
    y = b.node("Expand", [b.const(np.ones((1, 3), np.float32)), shape])
    with pytest.raises(UnsupportedModelError, match="depends on the batch"):
        import_onnx(b.build(b.node("Add", ["x", y])))


def test_sub_with_runtime_operand_is_refused() -> None:
    b = ModelBuilder((None, 3))
    with pytest.raises(UnsupportedModelError, match="constant second operand"):
        import_onnx(b.build(b.node("Sub", ["x", "x"])))


def test_bad_files(tmp_path) -> None:
    with pytest.raises(PlutflowError, match="not found"):
        import_onnx(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(PlutflowError):
        import_onnx(bad)


def test_wrong_input_shape_is_a_clear_error(demo) -> None:
    graph = import_onnx(demo.model)
    with pytest.raises(ShapeError, match=r"expects \(N, 1, 28, 28\)"):
        run_float(graph, {"image": np.zeros((2, 1, 27, 28), np.float32)})
    with pytest.raises(ShapeError, match="missing input"):
        run_float(graph, {})


def test_demo_model_matches_onnxruntime(demo) -> None:
    x, _ = demo.test_set()
    model = onnx.load(str(demo.model))
    graph = _check_vs_ort(model, x[:64])
    assert [n.op for n in graph.nodes].count("BatchNormalization") == 0


def test_opset11_clip_and_legacy_softmax(rng) -> None:
    b = ModelBuilder((None, 6), opset=11)
    y = b.node("Clip", [b.gemm("x", 6, 6), b.const(np.float32(-1)), b.const(np.float32(1))])
    y = b.node("Softmax", [y], axis=1)
    _check_vs_ort(b.build(y), rng.normal(size=(4, 6)).astype(np.float32))


def test_model_with_initializers_listed_as_inputs(rng) -> None:
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], rng.normal(size=6).tolist())
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3]),
            helper.make_tensor_value_info("w", TensorProto.FLOAT, [2, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    _check_vs_ort(model, rng.normal(size=(2, 3)).astype(np.float32), ["Gemm"])
