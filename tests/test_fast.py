"""The fast exact engine against golden: every op, every weight scheme, extreme values,
both dispatch paths (and the non-VNNI path on an emulated Haswell under qemu)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plutflow.errors import PlutflowError
from plutflow.fast import engine
from plutflow.fast.isa import PATHS, select_path, supported
from plutflow.fast.plan import FastExecutor
from plutflow.golden import GoldenExecutor
from plutflow.intmodel.model import IntLayer, IntModel, TensorSpec

LOCAL_PATHS = [p for p in PATHS if supported(p)]
MOBILE_LIKE = Path(__file__).parent / "data" / "mobile_like.onnx"


@pytest.fixture(scope="module")
def demo_calib(demo) -> np.ndarray:
    return demo.calib_set()[:128]


@pytest.fixture(scope="module")
def demo_model(demo, demo_calib) -> IntModel:
    from plutflow.api import quantize_model

    return quantize_model(demo.model, demo_calib, progress=False)


@pytest.fixture(scope="module")
def mobile_like_model() -> tuple[IntModel, np.ndarray]:
    from plutflow.api import QuantOptions, quantize_model

    x = np.random.default_rng(0).normal(size=(24, 3, 32, 32)).astype(np.float32)
    return quantize_model(MOBILE_LIKE, x, QuantOptions(scheme="upot:4:8"), progress=False), x


def assert_same(model: IntModel, codes: np.ndarray, path: str | None = None) -> FastExecutor:
    """Every tensor of the fast run equals golden's (names the first differing position),
    run as one whole-network program and step by step; the outputs also without ``keep``
    (the program then frees buffers after their last reader)."""
    fast = FastExecutor(model, path)
    ref = GoldenExecutor(model).run(codes, keep=True)
    for whole in (True, False):
        fast.whole_program = whole
        got = fast.run(codes, keep=True)
        assert set(ref) == set(got)
        for lay in model.layers:
            name = lay.outputs[0]
            assert got[name].dtype == ref[name].dtype, name
            bad = np.argwhere(got[name] != ref[name])
            assert bad.size == 0, (
                f"layer {lay.name} ({'program' if whole else 'steps'}): first difference at "
                f"{tuple(bad[0])}: golden {ref[name][tuple(bad[0])]}, fast "
                f"{got[name][tuple(bad[0])]}"
            )
    fast.whole_program = True
    outs = fast.run(codes)
    for name in model.outputs:
        assert np.array_equal(outs[name], ref[name]), name
    return fast


def one_layer(layer: IntLayer, specs: dict[str, TensorSpec]) -> IntModel:
    return IntModel("t", [layer.inputs[0]], [layer.outputs[0]], specs, [layer])


def extreme_ints(rng, low: int, high: int, shape) -> np.ndarray:
    """Integers in [low, high] with a quarter of them at the ends."""
    v = rng.integers(low, high + 1, shape)
    ends = rng.random(shape)
    return np.where(ends < 0.125, low, np.where(ends < 0.25, high, v)).astype(np.int64)


def conv_model(rng, c, m, k, stride, dil, group, unsigned, wide, table, bits=8, gemm=False):
    dtype = "uint8" if unsigned else "int8"
    x_spec = TensorSpec((None, c) if gemm else (None, c, None, None), dtype,
                        int(rng.integers(0, 16)), 0.1, bits)  # fmt: skip
    out_dtype = "int8" if rng.random() < 0.5 else "uint8"
    lo_hi = (-128, 127) if out_dtype == "int8" else (0, 255)
    limit = 3000 if wide else 127
    w = extreme_ints(rng, -limit, limit, (m, c // group) if gemm else (m, c // group, k, k))
    f = int(rng.integers(0, 3))
    # outputs spread over the code range (scale ~ 2**7 / bound), a few channels extreme
    bound = 255 * np.maximum(np.abs(w).reshape(m, -1).sum(axis=1), 1) << f
    mult = rng.integers(2**30, 2**31, m)
    shift = np.clip(np.floor(np.log2(bound)).astype(np.int64) + 24 + rng.integers(-2, 3, m),
                    0, 62)  # fmt: skip
    bias = (rng.integers(-(2**40), 2**40, m) * bound) >> 42
    wild = rng.random(m) < 0.1
    mult = np.where(wild, 2**31 - 1, mult)
    shift = np.where(wild, rng.choice([0, 62], m), shift)
    bias = np.where(wild, rng.choice([-(2**30), 2**30], m), bias)
    attrs = {"lo": lo_hi[0], "hi": lo_hi[1], "bias_shift": f,
             "acc_bound": 255 * int(np.abs(w).reshape(m, -1).sum(axis=1).max())}  # fmt: skip
    if not gemm:
        pads = [int(p) for p in rng.integers(0, k + 1, 4)]
        pad_value = int(rng.integers(x_spec.qmin, x_spec.qmax + 1))
        attrs.update(kernel=[k, k], strides=[stride] * 2, dilations=[dil] * 2, pads=pads,
                     group=group, pad_value=pad_value)  # fmt: skip
    params = {"weight": w, "bias": bias, "mult": mult, "shift": shift}
    if table:
        attrs.update(mid_zero_point=int(rng.integers(-20, 20)), lo=-128, hi=127)
        shape = (m, 256) if rng.random() < 0.5 else (256,)
        params["table"] = rng.integers(lo_hi[0], lo_hi[1] + 1, shape).astype(out_dtype)
    layer = IntLayer("l", "gemm" if gemm else "conv", ["x"], ["y"], attrs, params)
    out_shape = (None, m) if gemm else (None, m, None, None)
    return one_layer(layer, {"x": x_spec, "y": TensorSpec(out_shape, out_dtype, 3, 0.1)})


def codes_for(rng, spec: TensorSpec, shape) -> np.ndarray:
    return extreme_ints(rng, spec.qmin, spec.qmax, shape).astype(spec.np_dtype)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([(1, 1), (3, 1), (4, 1), (8, 2), (16, 16), (24, 24), (5, 5)]),
    st.sampled_from([1, 5, 16, 33, 64, 70, 100, 144]),
    st.sampled_from([1, 2, 3]),
    st.sampled_from([1, 2]),
    st.sampled_from([1, 2]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from(LOCAL_PATHS),
    st.integers(0, 2**31 - 1),
)
def test_random_conv_layers(chans, m, k, stride, dil, unsigned, wide, table, path, seed):
    c, group = chans
    if group > 1:
        m = c if group == c else group * max(1, m // group)
    rng = np.random.default_rng(seed)
    model = conv_model(rng, c, m, k, stride, dil, group, unsigned, wide, table)
    size = (k - 1) * dil + 1 + int(rng.integers(0, 6))
    assert_same(model, codes_for(rng, model.tensors["x"], (2, c, size, size + 1)), path)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([2, 7, 16, 17, 40, 96]),
    st.sampled_from([(3, 1), (3, 2), (5, 1), (5, 2), (1, 1)]),
    st.integers(1, 13),
    st.booleans(),
    st.booleans(),
    st.sampled_from(LOCAL_PATHS),
    st.integers(0, 2**31 - 1),
)
def test_random_depthwise_layers(c, kernel_stride, width, unsigned, table, path, seed):
    """The depthwise row kernel: channel counts with and without a partial 16-lane block,
    rows of every length modulo its 4-pixel groups, weights up to +-2**14 (UPoT levels)."""
    k, stride = kernel_stride
    rng = np.random.default_rng(seed)
    model = conv_model(rng, c, c, k, stride, 1, c, unsigned, False, table)
    w = model.layers[0].params["weight"]
    if rng.random() < 0.5:  # PoT-like levels beyond int8, still inside the int32 bound
        w[...] = np.sign(w) * (1 << rng.integers(0, 15, w.shape))
        model.layers[0].attrs["acc_bound"] = 255 * int(np.abs(w).reshape(c, -1).sum(1).max())
    shape = (2, c, k + int(rng.integers(0, 4)), (k - 1) + width * stride)
    fast = assert_same(model, codes_for(rng, model.tensors["x"], shape), path)
    assert fast.steps[0].note.startswith("depthwise row kernel"), fast.describe()


def test_depthwise_weights_beyond_16_bits_run_on_golden() -> None:
    rng = np.random.default_rng(5)
    model = conv_model(rng, 8, 8, 1, 1, 1, 8, True, False, False)
    model.layers[0].params["weight"][0, 0, 0, 0] = 2**15
    fast = assert_same(model, codes_for(rng, model.tensors["x"], (1, 8, 3, 3)))
    assert fast.steps[0].kind == "golden"
    assert "16 bits" in fast.steps[0].note


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.integers(1, 80), st.integers(1, 9), st.booleans(),
       st.booleans(), st.sampled_from(LOCAL_PATHS), st.integers(0, 2**31 - 1))  # fmt: skip
def test_random_fc_layers(k, m, n, unsigned, wide, path, seed):
    rng = np.random.default_rng(seed)
    model = conv_model(rng, k, m, 1, 1, 1, 1, unsigned, wide, table=False, gemm=True)
    assert_same(model, codes_for(rng, model.tensors["x"], (n, k)), path)


def test_accumulator_at_the_int32_bound_stays_fast_and_exact() -> None:
    """255 * sum|w| just below 2**31 runs on the tile kernel; just above, golden."""
    rng = np.random.default_rng(3)
    k = 2**31 // (255 * 127)  # taps x channels
    for c, expect in ((k, "fast"), (k + 1, "golden")):
        model = conv_model(rng, c, 16, 1, 1, 1, 1, True, False, False, gemm=True)
        model.layers[0].params["weight"] = np.full((16, c), 127, np.int64)
        fast = assert_same(model, np.full((3, c), 255, np.uint8))
        assert fast.steps[0].kind == expect, fast.describe()


@pytest.mark.parametrize("form", ["float", "wild", "wide"])
def test_both_epilogue_forms(form: str) -> None:
    """Layers within the float64 bound whose values before the clamp fit int32 take the
    float epilogue; others ("wild": past 2**53; "wide": exact in float64 but past int32)
    the int64 one."""
    rng = np.random.default_rng(5)
    model = conv_model(rng, 16, 40, 3, 1, 1, 1, False, False, False)
    params = model.layers[0].params
    if form == "wild":
        params["mult"][7] = 2**31 - 1
        params["shift"][7] = 0
    elif form == "wide":  # sums up to ~2**22, times 2**29 / 2**18: past 2**31, below 2**53
        params["mult"][:] = 2**29
        params["shift"][:] = 18
        params["bias"][:] = rng.integers(-(2**20), 2**20, 40)
    else:
        params["mult"][:] = 2**20 + 12345
        params["shift"][:] = 29
        params["bias"][:] = rng.integers(-(2**20), 2**20, 40)
    for path in LOCAL_PATHS:
        fast = assert_same(model, codes_for(rng, model.tensors["x"], (3, 16, 7, 7)), path)
        assert ("float64 epilogue" if form == "float" else "int64 epilogue") in fast.steps[0].note


def test_weights_beyond_int8_split_into_two_passes() -> None:
    rng = np.random.default_rng(4)
    model = conv_model(rng, 8, 16, 3, 1, 1, 1, False, True, False)
    model.layers[0].params["weight"][0, 0, 0, 0] = 16000
    fast = assert_same(model, codes_for(rng, model.tensors["x"], (2, 8, 6, 6)))
    assert "2 weight part" in fast.steps[0].note


def pool_add_model(rng, op: str, unsigned: bool) -> tuple[IntModel, tuple]:
    dtype = "uint8" if unsigned else "int8"
    spec = TensorSpec((None, 6, None, None), dtype, int(rng.integers(-5, 6)) + (9 if unsigned
                      else 0), 0.1)  # fmt: skip
    out = TensorSpec((None, 6, None, None), dtype, 2 + (5 if unsigned else 0), 0.1)
    lo, hi = out.qmin, out.qmax
    pool = {"kernel": [3, 3], "strides": [2, 2], "dilations": [1, 1], "pads": [1, 0, 1, 1],
            "ceil_mode": 1}  # fmt: skip
    inputs, params = ["x"], {}
    if op == "maxpool":
        attrs = pool
    elif op == "avgpool":
        attrs = {**pool, "count_include_pad": int(rng.integers(0, 2)), "shift": 20,
                 "lo": lo, "hi": hi}  # fmt: skip
        params = {"mult": rng.integers(1, 2**20, 10)}
    elif op == "global_avgpool":
        attrs = {"mult": int(rng.integers(1, 2**24)), "shift": 28, "lo": lo, "hi": hi}
    elif op == "add":
        inputs = ["x", "x2"]
        attrs = {"mult_a": int(rng.integers(-(2**20), 2**20)), "mult_b": int(rng.integers(
            1, 2**20)), "shift": 19, "lo": lo, "hi": hi}  # fmt: skip
    else:  # table
        attrs, params = {}, {"table": rng.integers(lo, hi + 1, (6, 256)).astype(dtype)}
    layer = IntLayer("l", op, inputs, ["y"], attrs, params)
    specs = {"x": spec, "x2": TensorSpec(spec.shape, "int8", -3, 0.2), "y": out}
    model = IntModel("t", inputs, ["y"], specs, [layer])
    feeds = {"x": codes_for(rng, spec, (2, 6, 9, 8)),
             "x2": codes_for(rng, specs["x2"], (2, 6, 9, 8))}  # fmt: skip
    return model, {k: feeds[k] for k in inputs}


@pytest.mark.parametrize("op", ["maxpool", "avgpool", "global_avgpool", "add", "table"])
@pytest.mark.parametrize("unsigned", [False, True])
def test_pool_add_table_layers(op: str, unsigned: bool) -> None:
    rng = np.random.default_rng(hash((op, unsigned)) % 2**32)
    model, feeds = pool_add_model(rng, op, unsigned)
    fast = FastExecutor(model)
    assert fast.steps[0].kind == "fast", fast.describe()
    ref, got = GoldenExecutor(model).run(feeds), fast.run(feeds)
    assert np.array_equal(ref["y"], got["y"]) and ref["y"].dtype == got["y"].dtype


@pytest.mark.parametrize("scheme", [None, "pot:4:8", "upot:4:4", "plut:4:4", "plut:3:4"])
def test_demo_every_scheme(demo, demo_calib, scheme: str | None) -> None:
    from plutflow.api import QuantOptions, quantize_model

    model = quantize_model(demo.model, demo_calib, QuantOptions(scheme=scheme),
                           progress=False)  # fmt: skip
    codes = model.tensors[model.inputs[0]].quantize(demo_calib[:33])
    for path in LOCAL_PATHS:
        fast = assert_same(model, codes, path)
        assert all(s.kind == "fast" for s in fast.steps), fast.describe()


def test_mobile_like_every_layer(mobile_like_model) -> None:
    model, x = mobile_like_model
    fast = assert_same(model, model.tensors[model.inputs[0]].quantize(x))
    golden = [s.layer.op for s in fast.steps if s.kind == "golden"]
    assert golden == [], fast.describe()  # SE mul, requantizing concat, softmax: fast
    program = fast.program({model.inputs[0]: model.tensors[model.inputs[0]].quantize(x)})
    assert program is not None and program.n_steps == len(fast.steps)  # the whole network


def test_plut_table_that_is_not_a_product_runs_by_lookup(demo, demo_calib) -> None:
    from plutflow.api import QuantOptions, quantize_model

    model = quantize_model(demo.model, demo_calib, QuantOptions(scheme="plut:4:4"),
                           progress=False)  # fmt: skip
    lay = next(lay for lay in model.layers if lay.attrs.get("weight_scheme") == "plut")
    lay.params["product_table"] = lay.params["product_table"].copy()
    lay.params["product_table"][3, 2] += 1
    fast = assert_same(model, model.tensors[model.inputs[0]].quantize(demo_calib[:8]))
    step = next(s for s in fast.steps if s.layer is lay)
    assert step.kind == "golden" and "not a product" in step.note


def test_engine_choice(demo_model) -> None:
    assert isinstance(engine.executor(demo_model, "golden"), GoldenExecutor)
    assert isinstance(engine.executor(demo_model, "auto"), FastExecutor)
    with pytest.raises(PlutflowError, match="unknown engine"):
        engine.executor(demo_model, "turbo")
    with pytest.raises(PlutflowError, match="unknown fast path"):
        select_path("sse9")


def test_a_path_the_cpu_lacks_is_refused(monkeypatch) -> None:
    from plutflow.fast import isa

    monkeypatch.setattr(isa, "host_features", lambda: frozenset({"avx2"}))
    assert isa.select_path() == "generic"
    with pytest.raises(PlutflowError, match="cannot run the 'vnni512' path"):
        isa.select_path("vnni512")


QEMU = shutil.which("qemu-x86_64")
QEMU_SCRIPT = """
import sys, numpy as np
from plutflow.intmodel.model import IntModel
from plutflow.fast.isa import select_path
from plutflow.fast.plan import FastExecutor
model = IntModel.load(sys.argv[1])
codes = np.load(sys.argv[2])
fast = FastExecutor(model)
out = fast.run(codes)
np.savez(sys.argv[3], path=np.array(select_path()), **out)
"""


def test_haswell_without_vnni_under_qemu(tmp_path: Path, demo_model, demo_calib) -> None:
    """On an AVX2-only CPU (qemu -cpu Haswell) the engine picks the portable path and
    still equals golden."""
    assert QEMU, "qemu-x86_64 is missing: make installs Debian's qemu-user"
    model_path, codes_path = tmp_path / "m.pfq", tmp_path / "codes.npy"
    demo_model.save(model_path)
    codes = demo_model.tensors[demo_model.inputs[0]].quantize(demo_calib[:4])
    np.save(codes_path, codes)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    subprocess.run([QEMU, "-cpu", "Haswell", sys.executable, "-c", QEMU_SCRIPT,
                    str(model_path), str(codes_path), str(tmp_path / "out.npz")],
                   check=True, env=env, capture_output=True, timeout=900)  # fmt: skip
    ref = GoldenExecutor(demo_model).run(codes)
    with np.load(tmp_path / "out.npz") as got:
        assert str(got["path"]) == "generic"
        for name, value in ref.items():
            assert np.array_equal(got[name], value), name


def test_cli_eval_engines_agree(tmp_path: Path, demo, demo_model, capsys) -> None:
    """``plutflow eval --engine fast|golden`` prints which engine ran; same predictions."""
    from plutflow.cli import main

    path = demo_model.save(tmp_path / "m.pfq")
    preds = {}
    for eng in ("fast", "golden"):
        out = tmp_path / f"{eng}.json"
        argv = ["eval", str(path), "--data", str(demo.data), "--limit", "64", "--preprocess",
                str(demo.meta), "--engine", eng, "--json", str(out)]  # fmt: skip
        assert main(argv) == 0
        assert f"({eng} engine)" in capsys.readouterr().out
        preds[eng] = json.loads(out.read_text())["top1"]
    assert preds["fast"] == preds["golden"]


def test_overlay_host_layers_use_the_chosen_engine(mobile_like_model) -> None:
    """The runtime's host layers (mobile_like has some) run on the chosen engine and stay
    bit-exact."""
    import plutflow
    from plutflow.runtime.accelerator import Accelerator

    model, x = mobile_like_model
    art = plutflow.compile(model)
    want = GoldenExecutor(model).run(model.tensors[model.inputs[0]].quantize(x[:5]))
    for eng, kind in (("fast", FastExecutor), ("golden", GoldenExecutor)):
        with Accelerator(art, "emu", engine=eng) as acc:
            assert isinstance(acc.golden, kind)
            assert acc.executor.host_op == acc.golden.run_layer
            res = acc.run(x[:5])
        assert res.host_layers, "mobile_like should keep some layers on the host"
        assert all(np.array_equal(res.outputs[k], want[k]) for k in want)


def test_large_batches_run_in_chunks(monkeypatch, demo_model, demo_calib) -> None:
    """A batch split into passes (here of 3 images) gives every tensor golden gives."""
    import plutflow.fast.plan as plan

    monkeypatch.setattr(plan, "CHUNK_BYTES", 3 * 16 * 28 * 28)
    fast = FastExecutor(demo_model)
    assert fast.chunk == 3
    codes = demo_model.tensors[demo_model.inputs[0]].quantize(demo_calib[:11])
    ref, got = GoldenExecutor(demo_model).run(codes, keep=True), fast.run(codes, keep=True)
    assert set(ref) == set(got)
    assert all(np.array_equal(ref[k], got[k]) for k in ref)
    out = demo_model.outputs[0]
    assert np.array_equal(fast.run(codes)[out], ref[out])


def test_program_cache_stamp_covers_every_linked_kernel_file(tmp_path, monkeypatch) -> None:
    """The runners' numba cache is keyed by every file whose code they link, so a changed
    kernel recompiles them instead of loading stale code."""
    from plutflow.fast import kernels, program, tiles

    assert {Path(kernels.__file__), Path(tiles.__file__), Path(program.__file__)} == set(
        program._SOURCES
    )
    files = [tmp_path / f"{i}.py" for i in range(3)]
    for f in files:
        f.write_text("a = 1\n")
    monkeypatch.setattr(program, "_SOURCES", tuple(files))
    stamp = program._BundleStamp().get_source_stamp()
    files[1].write_text("a = 2\n")
    assert program._BundleStamp().get_source_stamp() != stamp
    assert isinstance(program.execute_vnni._cache, program._BundleCache)


def test_program_buffers_are_shared_and_a_misplaced_read_is_refused() -> None:
    """Slots whose lives do not overlap share a buffer; a row that would read a slot whose
    buffer another slot has taken since is refused before anything runs."""
    from plutflow.fast import program

    lw = program.Lowering()
    a, b, c = lw.temp(16), lw.temp(16), lw.temp(8)
    pad = (1, 1, 1, 16, 0, 0, 1, 1, 16, 0)
    lw.emit(program.PAD_NHWC, a, (), pad)
    lw.emit(program.PAD_NHWC, b, (a,), pad)  # a dies here
    lw.emit(program.PAD_NHWC, c, (b,), pad)  # c may take a's buffer
    _, bufs, where = program.place(lw, [])
    assert where[c] == where[a] and where[b] != where[a] and len(bufs) == 2
    rows = [list(r) for r in lw.rows]
    rows.append([program.ADD, b, a, a] + [0] * (program.WIDTH - program.HEADER))
    with pytest.raises(AssertionError, match=f"reads slot {a}, whose buffer holds {c}"):
        program.check_placement(rows, where, {s: 16 for s in where}, [16, 16], set())


def test_threads_split_the_batch_and_agree(monkeypatch, mobile_like_model) -> None:
    """A batch split over worker threads (each in chunks, an uneven split) gives golden's
    every tensor; the thread count comes from the argument, $PLUTFLOW_THREADS or 1."""
    from plutflow.fast import plan

    model, x = mobile_like_model
    codes = model.tensors[model.inputs[0]].quantize(x[:7])
    monkeypatch.setattr(plan, "CHUNK_BYTES", 2 * 16 * 16 * 16)  # two images per chunk
    ref = GoldenExecutor(model).run(codes, keep=True)
    fast = FastExecutor(model, threads=3)
    got = fast.run(codes, keep=True)
    for name, value in ref.items():
        assert np.array_equal(got[name], value), name
    assert {k[1] for k in fast._programs} == {0, 1, 2}  # a program (buffers) per worker
    monkeypatch.setenv("PLUTFLOW_THREADS", "2")
    assert FastExecutor(model).threads == 2
    monkeypatch.setenv("PLUTFLOW_THREADS", "0")
    assert FastExecutor(model).threads == (os.cpu_count() or 1)
    for bad in ("two", "-1"):
        monkeypatch.setenv("PLUTFLOW_THREADS", bad)
        with pytest.raises(PlutflowError, match=r"PLUTFLOW_THREADS|thread count"):
            FastExecutor(model)
    monkeypatch.delenv("PLUTFLOW_THREADS")
    assert FastExecutor(model).threads == 1


def test_cli_threads_option(tmp_path: Path, monkeypatch, demo, demo_model, capsys) -> None:
    from plutflow.cli import main

    monkeypatch.delenv("PLUTFLOW_THREADS", raising=False)
    path = demo_model.save(tmp_path / "m.pfq")
    argv = ["eval", str(path), "--data", str(demo.data), "--limit", "64", "--preprocess",
            str(demo.meta), "--threads", "2"]  # fmt: skip
    assert main(argv) == 0
    assert os.environ["PLUTFLOW_THREADS"] == "2"
    monkeypatch.delenv("PLUTFLOW_THREADS")
