"""INT8-USF quantization end to end: every op, integer-only models, accuracy bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import ModelBuilder
from plutflow.calib import collect_stats
from plutflow.errors import UnsupportedModelError
from plutflow.golden import GoldenExecutor
from plutflow.ir import import_onnx
from plutflow.quant import QuantConfig, quantize_int8, quantize_weights
from plutflow.reference import run_float


def zoo_backbone() -> ModelBuilder:
    """Strided SAME conv + LeakyRelu, dilated depthwise + HardSwish, pools, 1x1 + Sigmoid."""
    b = ModelBuilder((None, 3, 16, 16))
    y = b.node(
        "LeakyRelu",
        [b.conv("x", 3, 8, stride_s := 3, strides=[2, 2], auto_pad="SAME_UPPER")],
        alpha=0.1,
    )
    del stride_s
    y = b.node("HardSwish", [b.conv(y, 8, 8, group=8, dilations=[2, 2], pads=[2, 2, 2, 2])])
    y = b.node("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    y = b.node("AveragePool", [y], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    y = b.node("Sigmoid", [b.conv(y, 8, 12, k=1)])
    y = b.node("AveragePool", [y], kernel_shape=[2, 2], pads=[0, 0, 1, 1])
    y = b.node("Flatten", [b.node("GlobalAveragePool", [y])])
    y = b.node("PRelu", [b.gemm(y, 12, 6), b.const(np.linspace(0.05, 0.3, 6).astype(np.float32))])
    return b, b.node("Softmax", [b.gemm(y, 6, 5)], axis=-1)


def zoo_se_concat() -> ModelBuilder:
    """Channels-last input, squeeze-excitation Mul, Concat, residual Add, SiLU, Clip."""
    b = ModelBuilder((None, 10, 10, 4))
    x = b.node("Transpose", ["x"], perm=[0, 3, 1, 2])
    x = b.node("Relu", [b.conv(x, 4, 8, pads=[1, 1, 1, 1])])
    s = b.node("Flatten", [b.node("GlobalAveragePool", [x])])
    s = b.node("Sigmoid", [b.gemm(b.node("Relu", [b.gemm(s, 8, 4)]), 4, 8)])
    s = b.node("Reshape", [s, b.const(np.array([0, 8, 1, 1], np.int64))])
    se = b.node("Mul", [x, s])
    other = b.conv(x, 8, 8, k=1)
    other = b.node("Mul", [other, b.node("Sigmoid", [other])])  # SiLU
    cat = b.node("Concat", [se, other], axis=1)
    y = b.conv(cat, 16, 8, k=1)
    y = b.node("Clip", [b.node("Add", [y, x]), b.const(np.float32(0)), b.const(np.float32(6))])
    y = b.node("HardSigmoid", [b.node("Sub", [y, b.const(np.float32(0.5))])])
    y = b.node("Mul", [y, b.const(np.float32(3.0))])
    return b, b.node("Flatten", [y])


ZOO = {"backbone": zoo_backbone, "se_concat": zoo_se_concat}


def quantized(name: str, rng: np.random.Generator, n: int = 96):
    b, out = ZOO[name]()
    graph = import_onnx(b.build(out))
    shape = [n, *graph.shapes[graph.inputs[0]][1:]]
    x = rng.normal(size=shape).astype(np.float32)
    model = quantize_int8(graph, collect_stats(graph, x[:64], progress=False))
    return graph, model, x


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_models_quantize_close_to_float(name: str, rng) -> None:
    graph, model, x = quantized(name, rng)
    ex = GoldenExecutor(model)
    codes = ex.run(ex.quantize_inputs(x))[model.outputs[0]]
    got = model.tensors[model.outputs[0]].dequantize(codes)
    ref = run_float(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    rel = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    assert rel < 0.02, rel
    # every tensor, not only the output, is integer
    for lay in model.layers:
        for key, arr in lay.params.items():
            assert arr.dtype.kind in "iu", (lay.name, key, arr.dtype)
    env = ex.run(ex.quantize_inputs(x), keep=True)
    for t, spec in model.tensors.items():
        assert env[t].dtype == spec.np_dtype, t


def test_zoo_ops_are_all_covered(rng) -> None:
    ops = set()
    for name in ZOO:
        ops |= {lay.op for lay in quantized(name, rng, 8)[1].layers}
    assert ops == {
        "conv",
        "gemm",
        "maxpool",
        "avgpool",
        "global_avgpool",
        "add",
        "mul",
        "concat",
        "table",
        "reshape",
        "flatten",
        "transpose",
        "softmax",
    }


def test_golden_is_batch_independent(rng) -> None:
    _, model, x = quantized("se_concat", rng)
    ex = GoldenExecutor(model)
    codes = ex.quantize_inputs(x)
    whole = ex.run(codes)[model.outputs[0]]
    single = np.concatenate(
        [ex.run(codes[model.inputs[0]][i : i + 1])[model.outputs[0]] for i in range(len(x))]
    )
    assert np.array_equal(whole, single)


def test_save_load_round_trip(tmp_path, rng) -> None:
    _, model, x = quantized("backbone", rng)
    path = model.save(tmp_path / "m.pfq")
    from plutflow.intmodel import IntModel

    loaded = IntModel.load(path)
    a, b = GoldenExecutor(model), GoldenExecutor(loaded)
    codes = a.quantize_inputs(x)
    assert np.array_equal(a.run(codes)[model.outputs[0]], b.run(codes)[model.outputs[0]])
    assert loaded.to_json() == model.to_json()


def test_weight_quantization_is_symmetric_per_channel() -> None:
    w = np.array([[1.0, -0.5, 0.25], [0.01, 0.02, -0.04], [0, 0, 0]], np.float32)
    qw = quantize_weights(w)
    q, scale = qw.values, qw.scale
    assert q.dtype == np.int8
    assert q[0].tolist() == [127, -64, 32] and q[1].tolist() == [32, 64, -127]
    assert q[2].tolist() == [0, 0, 0]
    np.testing.assert_allclose(scale[:2], [1 / 127, 0.04 / 127])


@pytest.mark.parametrize("observer", ["minmax", "percentile", "mse"])
def test_observers_produce_working_models(observer: str, demo) -> None:
    x, _ = demo.test_set()
    graph = import_onnx(demo.model)
    stats = collect_stats(graph, demo.calib_set()[:128], progress=False)
    model = quantize_int8(graph, stats, QuantConfig(observer=observer))
    ex = GoldenExecutor(model)
    pred = ex.run(ex.quantize_inputs(x[:500]))[model.outputs[0]].argmax(1)
    fpred = run_float(graph, {graph.inputs[0]: x[:500]})[graph.outputs[0]].argmax(1)
    assert (pred == fpred).mean() > 0.97


def test_unquantizable_op_names_the_node(rng) -> None:
    b = ModelBuilder((None, 2, 3))
    y = b.node("MatMul", ["x", b.const(rng.normal(size=(3, 3)).astype(np.float32))])
    graph = import_onnx(b.build(y))
    x = rng.normal(size=(4, 2, 3)).astype(np.float32)
    with pytest.raises(UnsupportedModelError, match=r"MatMul_2.*no integer implementation"):
        quantize_int8(graph, collect_stats(graph, x, progress=False))


def test_demo_int8_accuracy_within_0_3_points(demo) -> None:
    from plutflow.api import quantize_model
    from plutflow.evaluation import predict_float, predict_golden, top1

    x, y = demo.test_set()
    model = quantize_model(demo.model, demo.calib_set(), progress=False)
    float_acc = top1(predict_float(import_onnx(demo.model), x), y)
    int_acc = top1(predict_golden(model, x), y)
    assert abs(int_acc - float_acc) <= 0.3, (float_acc, int_acc)


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([3, 4, 5]), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_upot_shortlist_picks_what_the_exhaustive_search_picks(bits, chans, seed) -> None:
    """The fast scorer only shortlists; the chosen levels, codes and scales equal those of
    scoring every candidate with fit_levels."""
    import plutflow.quant.weights as qw

    rng = np.random.default_rng(seed)
    w = (
        rng.standard_normal((chans, 8, 3, 3))
        * rng.random()
        * np.exp(rng.normal(size=(chans, 1, 1, 1)))
    )
    imp = rng.random(w.shape) if seed % 2 else None
    fast = qw.quantize_upot(w, bits, imp)
    saved = qw.SHORTLIST
    qw.SHORTLIST = 10**9  # every candidate scored exactly, as before the shortlist
    try:
        slow = qw.quantize_upot(w, bits, imp)
    finally:
        qw.SHORTLIST = saved
    assert fast.terms == slow.terms
    assert np.array_equal(fast.codes, slow.codes) and np.array_equal(fast.scale, slow.scale)


def test_nearest_level_equals_searchsorted() -> None:
    from plutflow.quant.weights import _nearest

    rng = np.random.default_rng(0)
    for n in (2, 5, 16, 40):
        levels = np.unique(rng.integers(0, 300, n)).astype(np.float64)
        mags = np.concatenate([rng.random(500) * 320, (levels[1:] + levels[:-1]) / 2])
        mid = (levels[1:] + levels[:-1]) / 2.0
        assert np.array_equal(_nearest(mags, levels), np.searchsorted(mid, mags))
