"""Tiling property: random layers whose channels and sizes force every tiling kind
(output-channel groups, input-channel groups with partial sums, row bands, column
bands) on a small overlay, each run on the emulated overlay and compared with golden
bit for bit. ``make test`` runs a sample; ``make bench`` (the slow marker) runs 200."""

from __future__ import annotations

import numpy as np
import pytest

from builders import ModelBuilder
from plutflow.api import quantize_model
from plutflow.golden.executor import GoldenExecutor
from plutflow.ir.importer import import_onnx
from plutflow.overlay.compiler import compile_model
from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.executor import OverlayExecutor
from plutflow.overlay.ports import EmulatorPort
from plutflow.quant.builder import QuantConfig
from plutflow.quant.scheme import LayerScheme, SchemeConfig

SMALL = OverlayConfig.named("small")  # P = 4, 256 activation beats, 64 weight tiles


def random_layer(rng: np.random.Generator):
    """(ONNX model, input shape, what it is) of one random layer, sized to tile."""
    kind = str(rng.choice(["conv", "conv", "dw", "pool", "add", "gemm"]))
    c = int(rng.choice([3, 8, 13, 24, 40]))
    h = int(rng.integers(3, 24))
    w = int(rng.integers(3, 24))
    b = ModelBuilder((1, c, h, w))
    x = "x"
    if kind == "conv":
        m = int(rng.choice([4, 9, 20, 36, 64]))
        k = int(rng.choice([1, 3, 3, 5]))
        s = int(rng.choice([1, 1, 2]))
        d = int(rng.choice([1, 1, 2])) if k > 1 else 1
        group = int(rng.choice([1, 1, 1, 2])) if c % 2 == 0 and m % 2 == 0 else 1
        pad = (k // 2) * d
        y = b.conv(x, c, m, k, group=group, strides=[s, s], dilations=[d, d], pads=[pad] * 4)
        y = b.node("Relu", [y]) if rng.integers(0, 2) else y
    elif kind == "dw":
        k = int(rng.choice([3, 5]))
        s = int(rng.choice([1, 2]))
        y = b.conv(x, c, c, k, group=c, strides=[s, s], pads=[k // 2] * 4)
        y = b.node("Clip", [y, b.const(np.array(0.0, np.float32)),
                            b.const(np.array(6.0, np.float32))])  # fmt: skip
    elif kind == "pool":
        op = str(rng.choice(["MaxPool", "AveragePool", "GlobalAveragePool"]))
        if op == "GlobalAveragePool":
            y = b.node(op, [x])
        else:
            y = b.node(op, [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    elif kind == "add":
        y1 = b.conv(x, c, c, 1)
        y = b.node("Add", [y1, b.conv(x, c, c, 3, pads=[1, 1, 1, 1])])
    else:  # the flatten's kernel (its taps) must fit the weight buffer: 64 tiles here
        h, w = min(h, 16), min(w, 16)
        b = ModelBuilder((1, c, h, w))
        y = b.node("Flatten", [b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])])
        y = b.gemm(y, c * (h // 2) * (w // 2), int(rng.choice([10, 37])))
    return b.build(y), (1, c, h, w), kind


def check_layer(seed: int, scheme: str = "int8") -> dict:
    """Quantize, compile for the small overlay, run 2 images on the emulator; returns the
    tiling kinds the layer used. Raises AssertionError on any mismatch."""
    rng = np.random.default_rng(seed)
    onnx_model, shape, kind = random_layer(rng)
    graph = import_onnx(onnx_model)
    calib = rng.uniform(0, 1, (8, *shape[1:])).astype(np.float32)
    cfgq = None
    if scheme != "int8":
        schemes = SchemeConfig(default=LayerScheme.parse(scheme), ends_at_8bit=False)
        cfgq = QuantConfig(schemes=schemes)
    model = quantize_model(graph, calib, cfgq, progress=False)
    comp = compile_model(model, SMALL)
    host = [r for r in comp.placement() if r["target"] != "overlay"]
    assert not host, f"seed {seed} ({kind}): on the host: {host}"
    x = rng.uniform(0, 1, (2, *shape[1:])).astype(np.float32)
    codes = model.tensors[model.inputs[0]].quantize(x)
    want = GoldenExecutor(model).run(codes, keep=True)
    prog = comp.program(2)
    got = (
        OverlayExecutor(comp, EmulatorPort(SMALL, prog.mem_size))
        .run({model.inputs[0]: codes}, keep=True)
        .tensors
    )
    for lay in model.layers:
        o = lay.outputs[0]
        if not np.array_equal(want[o], got[o]):
            bad = np.argwhere(want[o] != got[o])[0]
            raise AssertionError(
                f"seed {seed} ({kind}, {shape}): layer {lay.name} at {tuple(bad)}: expected "
                f"{want[o][tuple(bad)]}, got {got[o][tuple(bad)]}"
            )
    kinds = set()
    for plans in comp.plans.values():
        for pl in plans:
            g, t = pl.op.geo, pl.tiles
            if t.g_t < -(-g.m // SMALL.p):
                kinds.add("output channels")
            if t.c_t < -(-g.c // SMALL.p) and pl.op.kind == "CONV":
                kinds.add("input channels")
            if t.oh_t < g.oh:
                kinds.add("rows")
            if t.ow_t < max(g.ow, 1):
                kinds.add("columns")
    return {"kind": kind, "tiling": kinds}


def test_tiling_sample_is_bit_exact() -> None:
    seen: set[str] = set()
    for seed in range(24):
        seen |= check_layer(seed)["tiling"]
    assert seen >= {"output channels", "input channels", "rows", "columns"}, seen


def test_tiling_sample_low_bit_is_bit_exact() -> None:
    for seed in range(100, 106):
        check_layer(seed, "pot:3")


@pytest.mark.slow
def test_tiling_property_200_layers() -> None:
    seen: set[str] = set()
    for seed in range(1000, 1200):
        seen |= check_layer(seed)["tiling"]
    assert seen >= {"output channels", "input channels", "rows", "columns"}, seen
