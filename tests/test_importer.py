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
            ["Conv", "Reshape", "Gemm"],  # the division by 2 folds into the Gemm
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
    y = b.node("Erf", ["x"])
    with pytest.raises(UnsupportedModelError) as err:
        import_onnx(b.build(y))
    assert err.value.node == "Erf_1"
    assert err.value.op == "Erf"
    assert "not supported" in str(err.value) and "Conv" in str(err.value)


def test_reduce_mean_over_space_is_global_pooling(rng) -> None:
    """PyTorch >= 2.9 exports AdaptiveAvgPool2d(1) and x.mean((2, 3)) as ReduceMean."""
    x = rng.normal(size=(2, 3, 6, 5)).astype(np.float32)
    for opset, keep in ((13, 1), (18, 0)):
        b = ModelBuilder((None, 3, 6, 5), opset=opset)
        axes = np.array([-2, -1], np.int64)
        y = b.conv("x", 3, 8, pads=[1, 1, 1, 1])
        if opset >= 18:
            y = b.node("ReduceMean", [y, b.const(axes)], keepdims=keep)
        else:
            y = b.node("ReduceMean", [y], axes=axes.tolist(), keepdims=keep)
        want = ["Conv", "GlobalAveragePool"] + ([] if keep else ["Flatten"])
        _check_vs_ort(b.build(y), x, want)


def test_reduce_mean_over_channels_runs_in_float_but_is_not_quantized(rng) -> None:
    from plutflow.calib import collect_stats
    from plutflow.quant import quantize

    b = ModelBuilder((None, 4, 3, 3))
    y = b.node("ReduceMean", [b.conv("x", 4, 4, pads=[1, 1, 1, 1])], axes=[1], keepdims=1)
    x = rng.normal(size=(2, 4, 3, 3)).astype(np.float32)
    graph = _check_vs_ort(b.build(y), x, ["Conv", "ReduceMean"])
    with pytest.raises(UnsupportedModelError, match="only the mean over all spatial axes"):
        quantize(graph, collect_stats(graph, x, progress=False))


def test_zero_pad_folds_into_the_conv_and_reflect_pad_stays(rng) -> None:
    b = ModelBuilder((None, 3, 7, 7))
    p = b.node("Pad", ["x", b.const(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))])
    y = b.conv(p, 3, 4, pads=[1, 0, 0, 1])
    y = b.node("Pad", [y, b.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))], mode="reflect")
    x = rng.normal(size=(2, 3, 7, 7)).astype(np.float32)
    graph = _check_vs_ort(b.build(y), x, ["Conv", "Pad"])
    assert graph.nodes[0].attrs["pads"] == [2, 2, 2, 2]
    assert graph.nodes[1].attrs == {"pads": [[0, 0], [0, 0], [1, 1], [1, 1]],
                                    "mode": "reflect", "value": 0.0}  # fmt: skip


@pytest.mark.parametrize("coord", ["asymmetric", "half_pixel", "align_corners"])
def test_nearest_resize_and_upsample(rng, coord) -> None:
    b = ModelBuilder((None, 2, 5, 4))
    scales = b.const(np.array([1, 1, 2, 3], np.float32))
    y = b.node("Resize", ["x", "", scales], mode="nearest",
               coordinate_transformation_mode=coord, nearest_mode="floor")  # fmt: skip
    graph = _check_vs_ort(b.build(y), rng.normal(size=(3, 2, 5, 4)).astype(np.float32))
    assert set(graph.nodes[0].attrs["index"]) == {"2", "3"}
    b = ModelBuilder((None, 2, 5, 4), opset=9)
    y = b.node("Upsample", ["x", b.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    _check_vs_ort(b.build(y), rng.normal(size=(1, 2, 5, 4)).astype(np.float32), ["Resize"])


def test_interpolating_resize_is_refused() -> None:
    b = ModelBuilder((None, 2, 5, 4))
    y = b.node("Resize", ["x", "", b.const(np.array([1, 1, 2, 2], np.float32))], mode="linear")
    with pytest.raises(UnsupportedModelError, match="only nearest"):
        import_onnx(b.build(y))


def test_split_and_slice_on_channels(rng) -> None:
    b = ModelBuilder((None, 6, 4, 4), opset=18)
    b.nodes.append(helper.make_node("Split", ["x", b.const(np.array([2, 4], np.int64))],
                                    ["s0", "s1"], name="split", axis=1))  # fmt: skip
    tail = b.node("Slice", ["s1", b.const(np.array([-1], np.int64)),
                            b.const(np.array([-100], np.int64)),
                            b.const(np.array([1], np.int64)),
                            b.const(np.array([-2], np.int64))])  # fmt: skip
    y = b.node("Concat", ["s0", tail], axis=1)
    graph = _check_vs_ort(b.build(y), rng.normal(size=(2, 6, 4, 4)).astype(np.float32),
                          ["Slice", "Slice", "Slice", "Concat"])  # fmt: skip
    assert graph.nodes[2].attrs["slices"] == [[1, 3, -2, 2]]


def test_slice_of_a_symbolic_dimension_names_the_option() -> None:
    b = ModelBuilder((None, 3, "H", "W"))
    bounds = [b.const(np.array([v], np.int64)) for v in (1, 3, 2)]
    y = b.node("Slice", ["x", *bounds])
    with pytest.raises(UnsupportedModelError, match="--input-shape"):
        import_onnx(b.build(y))


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


def test_decomposed_mobilenetv3_pieces_are_reassembled(rng) -> None:
    """What exporters write for a MobileNetV3 block: conv biases as Add nodes, a per-channel
    Mul, HardSwish as Add(3) -> Clip(0, 6) -> Mul -> Div(6) (division last, or the gate
    divided first), the SE gate's HardSigmoid as Add -> Clip -> Div. All become fused ops,
    listed as fusions, and the float model still matches onnxruntime."""
    b = ModelBuilder((None, 4, 6, 6))
    y = b.conv("x", 4, 8, bias=False, pads=[1, 1, 1, 1])
    y = b.node("Add", [y, b.const(rng.normal(size=(1, 8, 1, 1)).astype(np.float32))])
    y = b.node("Mul", [b.const(rng.uniform(0.5, 2, (8, 1, 1)).astype(np.float32)), y])
    gate = b.node("Clip", [b.node("Add", [b.const(np.float32(3)), y]),
                           b.const(np.float32(0)), b.const(np.float32(6))])  # fmt: skip
    y = b.node("Div", [b.node("Mul", [y, gate]), b.const(np.float32(6))])  # HardSwish
    z = b.conv(y, 8, 8, k=1)
    g2 = b.node("Clip", [b.node("Add", [z, b.const(np.float32(3.0))]),
                         b.const(np.float32(0)), b.const(np.float32(6))])  # fmt: skip
    z = b.node("Mul", [z, b.node("Div", [g2, b.const(np.float32(6))])])  # HardSwish, gate first
    s = b.node("GlobalAveragePool", [z])
    s = b.node("Conv", [s, b.const(rng.normal(0, 0.3, (8, 8, 1, 1)).astype(np.float32))],
               kernel_shape=[1, 1])  # fmt: skip
    hs = b.node("Clip", [b.node("Add", [s, b.const(np.float32(3))]),
                         b.const(np.float32(0)), b.const(np.float32(6))])  # fmt: skip
    se = b.node("Mul", [z, b.node("Div", [hs, b.const(np.float32(6))])])  # SE gate
    x = rng.normal(size=(2, 4, 6, 6)).astype(np.float32)
    graph = _check_vs_ort(b.build(se), x, ["Conv", "Conv", "GlobalAveragePool", "Conv", "Mul"])
    acts = [n.attrs.get("act", {}).get("op") for n in graph.nodes]
    assert acts == ["HardSwish", "HardSwish", None, "HardSigmoid", None]
    text = "\n".join(graph.fusions)
    assert "bias Add" in text and "per-channel Mul" in text
    assert text.count("as HardSwish") == 2 and "as HardSigmoid" in text
    assert "fused: " in graph.summary()
    from plutflow.api import quantize_model
    from plutflow.golden import GoldenExecutor

    calib = rng.normal(size=(32, 4, 6, 6)).astype(np.float32)
    model = quantize_model(graph, calib, progress=False)
    assert [lay.op for lay in model.layers] == ["conv", "conv", "global_avgpool", "conv", "mul"]
    out = model.outputs[0]
    codes = GoldenExecutor(model).run({"x": model.tensors["x"].quantize(x)})[out]
    ref = run_float(graph, {"x": x})[out]
    assert np.corrcoef(model.tensors[out].dequantize(codes).ravel(), ref.ravel())[0, 1] > 0.98


def test_lookalikes_are_left_alone(rng) -> None:
    """Add(4) -> Clip(0, 6) / 6 is no HardSigmoid; an Add with a per-pixel constant is no
    bias."""
    b = ModelBuilder((None, 2, 3, 3))
    y = b.conv("x", 2, 2, k=1)
    y = b.node("Add", [y, b.const(rng.normal(size=(1, 2, 3, 3)).astype(np.float32))])
    g = b.node("Clip", [b.node("Add", [y, b.const(np.float32(4))]),
                        b.const(np.float32(0)), b.const(np.float32(6))])  # fmt: skip
    y = b.node("Mul", [g, b.const(np.float32(1 / 6))])
    graph = _check_vs_ort(b.build(y), rng.normal(size=(2, 2, 3, 3)).astype(np.float32))
    assert "HardSigmoid" not in {n.op for n in graph.nodes} and not graph.fusions
