"""Pre-quantized models: QDQ (onnxruntime's quantize_static), QCDQ and QONNX Quant.

Their scales, zero points and widths are used as they are; the integer model is checked
against onnxruntime's own execution of the same graph, tensor by tensor."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from plutflow.api import quantize_model
from plutflow.errors import UnsupportedModelError
from plutflow.golden import GoldenExecutor
from plutflow.ir import import_onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import models  # noqa: E402


def _inputs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3, 16, 16)).astype(np.float32)


def _ort_tensors(model: onnx.ModelProto, x: np.ndarray, names: list[str]) -> list[np.ndarray]:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for name in names:
        m.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def _dequantized_names(model: onnx.ModelProto) -> dict[str, str]:
    """Activation tensor -> the DequantizeLinear output that stands for it (QCDQ)."""
    users = {i: n for n in model.graph.node for i in n.input}
    out = {}
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[0].startswith("relu"):
            clip = users[n.output[0]]
            out[n.input[0]] = users[clip.output[0]].output[0]
    return out


def test_qonnx_and_qcdq_give_the_same_integer_model() -> None:
    x = _inputs(16)
    graphs = [import_onnx(models.lowbit_qat_cnn(fmt)) for fmt in ("qonnx", "qcdq")]
    assert [g.quant_hints.kind for g in graphs] == ["QONNX", "QCDQ"]
    for g in graphs:
        bits = {k: (h.bits, h.signed, h.scale) for k, h in g.quant_hints.activations.items()}
        assert sorted(bits.values()) == [(4, False, 0.25)] * 3 + [(8, True, np.float32(1 / 127))]
        assert sorted(h.bits for h in g.quant_hints.weights.values()) == [4, 4, 4, 8]
        assert not {n.op for n in g.nodes} & {"Quant", "QuantizeLinear", "DequantizeLinear"}
    a, b = (quantize_model(g, x, progress=False) for g in graphs)
    assert list(a.meta["quantizer"]["layers"].values()) == [
        "W4A8 uniform", "W4A4 uniform", "W4A4 uniform", "W8A8 int8"]  # fmt: skip
    xa = a.tensors[a.inputs[0]].quantize(_inputs(32, 1))
    ya = GoldenExecutor(a).run({a.inputs[0]: xa})[a.outputs[0]]
    yb = GoldenExecutor(b).run({b.inputs[0]: xa})[b.outputs[0]]
    assert np.array_equal(ya, yb)


def test_qcdq_integer_model_against_onnxruntime() -> None:
    """Every 4-bit activation within one code of onnxruntime's QCDQ execution (rounding
    half up in the requantization against half to even in QuantizeLinear, and the
    16-bit multiplier), and the classes agree."""
    onnx_model = models.lowbit_qat_cnn("qcdq")
    graph = import_onnx(onnx_model)
    model = quantize_model(graph, _inputs(16), progress=False)
    x = _inputs(64, 2)
    names = _dequantized_names(onnx_model)
    got = GoldenExecutor(model).run({"input": model.tensors["input"].quantize(x)}, keep=True)
    ref = _ort_tensors(onnx_model, x, list(names.values()))
    for (act, _), value in zip(names.items(), ref[1:], strict=True):
        spec = model.tensors[act]
        assert spec.bits == 4 and spec.scale == 0.25
        codes = np.rint(value / spec.scale) + spec.zero_point
        diff = np.abs(codes - got[act])
        assert diff.max() <= 1 and diff.mean() < 0.05, act
    out = model.tensors[model.outputs[0]].dequantize(got[model.outputs[0]])
    assert (out.argmax(1) == ref[0].argmax(1)).mean() >= 0.9


@pytest.fixture(scope="module")
def qdq_model(tmp_path_factory) -> Path:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    x = np.repeat(np.repeat(_inputs(32, 3)[:, :, :8, :8], 4, 2), 4, 3)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter({"x": x[i : i + 1]} for i in range(len(x)))

        def get_next(self):
            return next(self.it, None)

    out = tmp_path_factory.mktemp("qdq") / "qdq.onnx"
    quantize_static(str(ROOT / "tests" / "data" / "byom_classifier.onnx"), str(out), Reader(),
                    quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)  # fmt: skip
    return out


def test_quantize_static_qdq_keeps_its_codes(qdq_model: Path) -> None:
    onnx_model = onnx.load(str(qdq_model))
    graph = import_onnx(onnx_model)
    assert graph.quant_hints.kind == "QDQ"
    x = np.repeat(np.repeat(_inputs(48, 4)[:, :, :8, :8], 4, 2), 4, 3)
    model = quantize_model(graph, x[:16], progress=False)
    # every layer's weight codes are the QDQ file's own int8 codes
    inits = {i.name: numpy_helper.to_array(i) for i in onnx_model.graph.initializer}
    int_weights = [v for k, v in inits.items() if v.dtype == np.int8 and v.ndim >= 2]
    convs = [lay for lay in model.layers if lay.op in ("conv", "gemm")]
    assert len(int_weights) == len(convs) == 4
    for lay in convs:
        w = lay.params["weight"]
        match = [c for c in int_weights if c.shape == w.shape or c.T.shape == w.shape]
        assert any(np.array_equal(np.clip(c if c.shape == w.shape else c.T, -127, 127), w)
                   for c in match), lay.name  # fmt: skip
    sess = ort.InferenceSession(str(qdq_model), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": x[16:]})[0]
    spec = model.tensors[model.outputs[0]]
    got = GoldenExecutor(model).run({"x": model.tensors["x"].quantize(x[16:])})[model.outputs[0]]
    assert np.abs(np.rint(ref / spec.scale) + spec.zero_point - got).max() <= 2


def _qdq_graph(weight_zp: int = 0, feed_conv_directly: bool = False) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 2, 4, 4])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    inits = [
        numpy_helper.from_array(np.array(0.1, np.float32), "s"),
        numpy_helper.from_array(np.array(0, np.int8), "z"),
        numpy_helper.from_array(np.ones((2, 2, 1, 1), np.int8), "w"),
        numpy_helper.from_array(np.array(0.05, np.float32), "ws"),
        numpy_helper.from_array(np.array(weight_zp, np.int8), "wz"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
        helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wf"]),
    ]
    if feed_conv_directly:
        nodes.append(helper.make_node("Conv", ["xq", "wf"], ["y"], kernel_shape=[1, 1]))
    else:
        nodes.append(helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xf"]))
        nodes.append(helper.make_node("Conv", ["xf", "wf"], ["y"], kernel_shape=[1, 1]))
    g = helper.make_graph(nodes, "t", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_unsupported_quantization_is_refused_with_the_reason() -> None:
    import_onnx(_qdq_graph())
    with pytest.raises(UnsupportedModelError, match="non-zero zero point"):
        import_onnx(_qdq_graph(weight_zp=3))
    with pytest.raises(UnsupportedModelError, match="must feed DequantizeLinear"):
        import_onnx(_qdq_graph(feed_conv_directly=True))
