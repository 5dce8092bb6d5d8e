"""Activation widths and ranges at low bits (issue 16): fragile tensors kept at 8 bits by
default, widths under an activation-byte budget, ranges by the readers' output error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import plutflow
from plutflow.api import QuantOptions
from plutflow.calib import collect_stats
from plutflow.errors import PlutflowError
from plutflow.ir import import_onnx
from plutflow.quant import QuantConfig, SchemeConfig, quantize
from plutflow.quant.builder import root_tensor
from plutflow.quant.consumer import _relative_error, _run, consumer_ranges
from plutflow.quant.fragile import fragile_activations, mac_readers
from plutflow.quant.scheme import LayerScheme
from plutflow.reference.executor import run_float
from plutflow.report.memory import activation_bytes

MOBILENET = Path(__file__).parent.parent / "bench" / "data" / "mobilenet_fmnist64.onnx"


@pytest.fixture(scope="module")
def mobilenet():
    graph = import_onnx(MOBILENET)
    calib = np.random.default_rng(0).normal(0.0, 1.0, (16, 3, 64, 64)).astype(np.float32)
    return graph, calib


def test_fragile_tensors_of_a_mobilenetv3(mobilenet) -> None:
    graph, _ = mobilenet
    found = fragile_activations(graph)
    kinds = [f.kind for f in found]
    # 7 SE blocks (pooled vector and hidden tensor each), 7 HardSwish outputs read by a
    # depthwise conv, 4 residual adds whose skip input a conv also reads
    assert (kinds.count("se"), kinds.count("hardswish-depthwise"), kinds.count("residual")) == (
        14, 7, 4)  # fmt: skip
    assert len({f.tensor for f in found}) == len(found)
    readers = mac_readers(graph)
    for f in found:
        assert f.tensor in readers  # only what a Conv/Gemm reads can be below 8 bits
        prod = graph.producer(f.tensor)
        if f.kind == "se":
            assert all(d == 1 for d in graph.shapes[f.tensor][2:])
        elif f.kind == "hardswish-depthwise":
            assert prod.attrs.get("act", {}).get("op") == "HardSwish"
            assert any(int(n.attrs.get("group", 1)) > 1 for n in readers[f.tensor])
        else:
            assert any(n.op == "Add" and f.tensor in n.inputs for n in graph.nodes)


def test_fragile_tensors_of_the_demo(demo) -> None:
    # the demo CNN: one residual add, no SE, no HardSwish
    found = fragile_activations(import_onnx(demo.model))
    assert [f.kind for f in found] == ["residual"]


def test_a4_request_keeps_fragile_tensors_at_8_bits(mobilenet) -> None:
    graph, calib = mobilenet
    stats = collect_stats(graph, calib, progress=False)
    default = plutflow.quantize(graph, calib, QuantOptions(scheme="plut:4:4"), progress=False,
                                stats=stats)  # fmt: skip
    plain = plutflow.quantize(graph, calib, QuantOptions(scheme="plut:4:4", fragile_low_bits=True),
                              progress=False, stats=stats)  # fmt: skip
    fragile = {f.tensor: f.kind for f in fragile_activations(graph)}
    listed = default.meta["fragile_8bit_activations"]
    assert {e["tensor"]: e["kind"] for e in listed} == fragile
    assert "fragile_8bit_activations" not in plain.meta
    layers = default.meta["quantizer"]["layers"]
    for t in fragile:
        assert plain.tensors[t].bits == 4 and default.tensors[t].bits == 8
        for n in mac_readers(graph)[t]:
            assert layers[n.name] == "W4A8 upot"
    changed = {t for t, s in default.tensors.items() if s.bits != plain.tensors[t].bits}
    assert changed == set(fragile)
    assert activation_bytes(plain) < activation_bytes(default)
    # a layer the user names keeps what the rule says, and its input stays at 4 bits
    opts = QuantOptions(scheme="plut:4:4", rules=["node_Conv_420=plut:4:4"])
    told = plutflow.quantize(graph, calib, opts, progress=False, stats=stats)
    assert told.meta["quantizer"]["layers"]["node_Conv_420"] == "W4A4 plut"
    assert told.tensors["hardswish"].bits == 4
    assert "hardswish" not in {e["tensor"] for e in told.meta["fragile_8bit_activations"]}
    # an 8-bit request has nothing to keep
    int8 = plutflow.quantize(graph, calib, QuantOptions(), progress=False, stats=stats)
    assert "fragile_8bit_activations" not in int8.meta


def test_activation_budget_reads_the_costliest_per_byte_at_8_bits(demo, capsys, tmp_path) -> None:
    from plutflow.cli import main

    graph = import_onnx(demo.model)
    calib = demo.calib_set()[:64]
    stats = collect_stats(graph, calib, progress=False)
    low_opts = dict(scheme="plut:4:4", fragile_low_bits=True)
    low = plutflow.quantize(graph, calib, QuantOptions(**low_opts), progress=False, stats=stats)
    high = plutflow.quantize(graph, calib, QuantOptions(scheme="upot:4:8"), progress=False,
                             stats=stats)  # fmt: skip
    base, full = activation_bytes(low), activation_bytes(high)
    assert base < full
    with pytest.raises(PlutflowError, match=r"below the .* bytes per image"):
        QuantOptions(**low_opts, activation_budget=base - 1).config(graph, calib, stats=stats)
    for budget in (base, (base + full) // 2, full):
        opts = QuantOptions(**low_opts, activation_budget=budget)
        model = plutflow.quantize(graph, calib, opts, progress=False, stats=stats)
        spent = activation_bytes(model)
        assert spent <= budget
        assert model.meta["activation_budget"] == {"budget": budget, "bytes": spent, "lowest": base}
        kept = {k["tensor"] for k in model.meta["kept_8bit_activations"]}
        # each was measured at 4 bits and at the 8 bits it gets, and 8 bits cost less
        assert all(0 <= k["error_8bit"] < k["error"] for k in model.meta["kept_8bit_activations"])
        assert {t for t, s in model.tensors.items() if s.bits != low.tensors[t].bits} == kept
        assert all(model.tensors[t].bits == 8 for t in kept)
        if budget == base:
            assert kept == set()
        if budget == full:  # room for every low-bit tensor
            assert spent == full and all(s.bits == 8 for s in model.tensors.values())
    with pytest.raises(PlutflowError, match="give one"):
        QuantOptions(**low_opts, activation_budget=full, keep_8bit_activations=1).config(
            graph, calib, stats=stats)  # fmt: skip
    args = ["quantize", str(demo.model), "--calib", f"{demo.data}:calib_images", "--preprocess",
            str(demo.meta), "--num-calib", "64", "--scheme", "plut:4:4", "--fragile-low-bits",
            "--activation-budget", str(full), "-q", "-o", str(tmp_path / "b.pfq")]  # fmt: skip
    assert main(args) == 0
    assert f"activations {full:,} bytes per image, budget {full:,}" in capsys.readouterr().err


def test_cli_lists_the_fragile_tensors_kept(demo, capsys, tmp_path) -> None:
    from plutflow.cli import main

    args = ["quantize", str(demo.model), "--calib", f"{demo.data}:calib_images", "--preprocess",
            str(demo.meta), "--num-calib", "32", "--scheme", "plut:4:4", "-q",
            "-o", str(tmp_path / "f.pfq")]  # fmt: skip
    assert main(args) == 0
    said = capsys.readouterr().err
    assert ("1 activation(s) fragile at low bits kept at 8 bits (--fragile-low-bits to lower "
            "them too): /down1/down1.2/Relu_output_0 (residual)") in said  # fmt: skip
    assert main([*args[:-2], "--fragile-low-bits", "-o", str(tmp_path / "g.pfq")]) == 0
    assert "fragile" not in capsys.readouterr().err


def test_consumer_ranges_lower_the_readers_error(demo) -> None:
    graph = import_onnx(demo.model)
    calib = demo.calib_set()[:64]
    stats = collect_stats(graph, calib, progress=False)
    config = QuantConfig(schemes=SchemeConfig(LayerScheme.parse("plut:4:4")))
    chosen = consumer_ranges(graph, stats, config, calib)
    low = quantize(graph, stats, config)
    assert {c.tensor for c in chosen} == {
        t for t, s in low.tensors.items() if s.bits < 8 and t in mac_readers(graph)
    }
    assert all(c.error_after <= c.error_before for c in chosen)
    assert any(c.error_after < 0.9 * c.error_before for c in chosen)
    # the model built with them reads each tensor over the chosen range, and the readers'
    # output error, measured again here, is the one the search reported
    model = plutflow.quantize(graph, calib, QuantOptions(scheme="plut:4:4", fragile_low_bits=True,
                              lowbit_observer="consumer"), progress=False, stats=stats)  # fmt: skip
    values: dict = {}
    run_float(graph, {graph.inputs[0]: calib}, observe=values.__setitem__)
    for c in chosen:
        spec = model.tensors[c.tensor]
        assert spec.scale == pytest.approx((c.hi - c.lo) / 15, rel=1e-9)
        err = sum(
            _relative_error(_run(graph, n, spec.dequantize(spec.quantize(values[n.inputs[0]]))),
                            _run(graph, n, values[n.inputs[0]]).astype(np.float64))
            for n in graph.nodes if n.op in ("Conv", "Gemm")
            and root_tensor(graph, n.inputs[0]) == c.tensor)  # fmt: skip
        assert err == pytest.approx(c.error_after, rel=1e-6)
    with pytest.raises(PlutflowError, match="unknown low-bit observer"):
        QuantOptions(lowbit_observer="nope").config(graph, calib, stats=stats)


def test_cross_layer_equalisation_is_exact_and_evens_ranges(mobilenet) -> None:
    from plutflow.api import equalized
    from plutflow.ir.equalize import HOMOGENEOUS

    graph, calib = mobilenet
    eq = equalized(graph)
    pairs = [f.split(": ", 1)[1].split(" -> ") for f in eq.fusions if "equalisation" in f]
    assert len(pairs) == 12
    nodes = {n.name: n for n in eq.nodes}
    for a, b in pairs:
        a, b = nodes[a], nodes[b]
        assert (a.attrs.get("act") or {}).get("op") in HOMOGENEOUS  # never across HardSwish
        assert eq.consumers(a.outputs[0]) == [b]
        wa, wb = eq.constants[a.inputs[1]], eq.constants[b.inputs[1]]
        r1 = np.abs(wa.reshape(wa.shape[0], -1)).max(axis=1)
        dw = int(b.attrs.get("group", 1)) > 1
        r2 = np.abs((wb if dw else np.moveaxis(wb, 1, 0)).reshape(len(r1), -1)).max(axis=1)
        np.testing.assert_allclose(r1, r2, rtol=1e-2)  # even after the sweeps
    # the float network computes the same; the original graph is untouched
    x = {graph.inputs[0]: calib[:4]}
    before = run_float(graph, x)[graph.outputs[0]]
    np.testing.assert_allclose(run_float(eq, x)[eq.outputs[0]], before, rtol=1e-4, atol=1e-4)
    assert not any("equalisation" in f for f in graph.fusions)
    consts = graph.constants
    changed = [n for n in consts if not np.array_equal(consts[n], eq.constants[n])]
    assert changed and all(any(n in m.inputs for m in eq.nodes if m.op in ("Conv", "Gemm"))
                           for n in changed)  # fmt: skip


def test_depthwise_convs_take_their_own_scheme(mobilenet, tmp_path) -> None:
    from plutflow.quant.scheme import SchemeConfig as Schemes

    graph, calib = mobilenet
    stats = collect_stats(graph, calib, progress=False)
    dw = {n.name for n in graph.nodes if graph.is_depthwise(n)}
    assert len(dw) == 9
    opts = QuantOptions(scheme="upot:4:8", depthwise="int8", rules=["node_Conv_426=upot:3:8"])
    layers = plutflow.quantize(graph, calib, opts, progress=False, stats=stats).meta[
        "quantizer"]["layers"]  # fmt: skip
    first, last = next(iter(layers)), list(layers)[-1]
    for name, label in layers.items():
        if name == "node_Conv_426":  # a rule beats the depthwise scheme
            assert label == "W3A8 upot"
        elif name in dw or name in (first, last):
            assert label == "W8A8 int8"
        else:
            assert label == "W4A8 upot"
    config = tmp_path / "s.yaml"
    config.write_text("default: upot:4:8\ndepthwise: int8\n")
    assert Schemes.from_file(config).depthwise == LayerScheme("int8", 8, 8)
    # the weight-budget search keeps them at the depthwise scheme and counts them
    chosen = QuantOptions(scheme="upot:4:8", depthwise="int8", auto_bits=400_000).config(
        graph, calib, stats=stats).schemes  # fmt: skip
    nodes = [n for n in graph.nodes if n.op in ("Conv", "Gemm")]
    for i, n in enumerate(nodes):
        if n.name in dw:
            assert chosen.for_layer(n.name, i, len(nodes), True) == LayerScheme("int8", 8, 8)


def test_cli_equalises_before_calibrating(demo, capsys, tmp_path) -> None:
    from plutflow.cli import main

    args = ["quantize", str(demo.model), "--calib", f"{demo.data}:calib_images", "--preprocess",
            str(demo.meta), "--num-calib", "32", "--equalize", "-q",
            "-o", str(tmp_path / "e.pfq")]  # fmt: skip
    assert main(args) == 0
    assert "cross-layer equalisation: 2 layer pair(s)" in capsys.readouterr().err
