"""Fast exact host engine: speed against onnxruntime int8 QDQ and float32, exactness
against golden. Issue: "Fast exact host execution".

For each model (the demo, tests/data/mobile_like.onnx, a ResNet-18-style network at
64x64 and a MobileNetV2-style network at 224x224) it quantizes with plutflow (INT8-USF),
quantizes with onnxruntime ``quantize_static`` (QDQ, per-channel, u8 activations, s8
weights) on the same calibration images, and times, one after another in this process
and on one thread: plutflow golden, the plutflow fast engine, onnxruntime int8 and
float32, at batch 1 and 64. Times are CPU time (``time.process_time``) and wall time;
the ratios are CPU-time ratios. Every fast-engine output is compared with golden.

Writes bench/results/fast_host.{json,md}. Run by ``make bench``.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from foundation import ort_quantize, ort_session  # noqa: E402
from models import mobilenet_v2, resnet18  # noqa: E402

from plutflow.api import quantize_model  # noqa: E402
from plutflow.assets import DemoAssets  # noqa: E402
from plutflow.fast.isa import cpu_summary  # noqa: E402
from plutflow.fast.plan import FastExecutor  # noqa: E402
from plutflow.golden import GoldenExecutor  # noqa: E402
from plutflow.report.markdown import markdown_table, write_results  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).parent.parent / "tests" / "data"
BATCHES = (1, 64)
SECONDS = float(os.environ.get("PLUTFLOW_BENCH_SECONDS", "2.0"))


def timed(fn, x: np.ndarray, seconds: float = SECONDS) -> dict:
    """Images per CPU-second and per wall-second of ``fn(x)`` (after one warm-up call)."""
    fn(x)
    n, c0, w0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - w0 < seconds or n < 2:
        fn(x)
        n += 1
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {"images_per_cpu_s": n * len(x) / cpu, "images_per_wall_s": n * len(x) / wall}


def models(tmp: Path) -> list[tuple[str, Path, np.ndarray]]:
    """(label, ONNX path, preprocessed calibration images) per benchmarked model."""
    rng = np.random.default_rng(0)
    assets = DemoAssets()
    out = [("demo (Fashion-MNIST CNN)", assets.model, assets.calib_set()[:256])]
    out.append(
        ("mobile_like", DATA / "mobile_like.onnx", rng.standard_normal((64, 3, 32, 32), np.float32))
    )
    for label, proto, size in (
        ("ResNet-18 style, 64x64", resnet18(64, classes=100), 64),
        ("MobileNetV2 style, 224x224", mobilenet_v2(224), 224),
    ):
        for v in (*proto.graph.input, *proto.graph.output):
            v.type.tensor_type.shape.dim[0].dim_param = "N"  # any batch
        del proto.graph.value_info[:]
        path = tmp / f"{proto.graph.name}.onnx"
        onnx.save(proto, path)
        out.append((label, path, rng.standard_normal((32, 3, size, size), np.float32)))
    return out  # fmt: skip


def bench_model(label: str, path: Path, calib: np.ndarray, tmp: Path) -> dict:
    model = quantize_model(path, calib, progress=False)
    golden, fast = GoldenExecutor(model), FastExecutor(model)
    spec = model.tensors[model.inputs[0]]
    in_name = onnx.load(str(path)).graph.input[0].name
    ort_float = ort_session(str(path))
    ort_int8 = ort_session(
        str(ort_quantize(path, calib, tmp / f"{path.stem}.q.onnx", False, in_name))
    )
    rng = np.random.default_rng(1)
    x64 = calib[rng.integers(0, len(calib), 64)]
    codes = spec.quantize(x64)
    ref, got = golden.run(codes, keep=True), fast.run(codes, keep=True)
    diff = sum(int(np.count_nonzero(ref[k] != got[k])) for k in ref)
    row = {"model": label, "fast_layers": sum(s.kind == "fast" for s in fast.steps),
           "layers": len(fast.steps), "differing_codes_vs_golden": diff,
           "checked_codes": sum(int(v.size) for v in ref.values())}  # fmt: skip
    for batch in BATCHES:
        xb, cb = x64[:batch], codes[:batch]
        speed = {
            "golden": timed(lambda c: golden.run(c), cb, SECONDS / 2),
            "fast": timed(lambda c: fast.run(c), cb),
            "fast (float input)": timed(lambda x: fast.run(spec.quantize(x)), xb),
            "onnxruntime int8 QDQ": timed(lambda x: ort_int8.run(None, {in_name: x}), xb),
            "onnxruntime float32": timed(lambda x: ort_float.run(None, {in_name: x}), xb),
        }
        row[f"batch{batch}"] = speed
    return row


EXPORT_IMAGES = int(os.environ.get("PLUTFLOW_BENCH_EXPORT_IMAGES", "2000"))


def export_check(label: str, path: Path, calib: np.ndarray, tmp: Path) -> dict:
    """The integer ONNX export: codes differing from golden on EXPORT_IMAGES inputs, and
    its speed against onnxruntime int8 QDQ at batch 64 (one thread, CPU time)."""
    from plutflow.export import export_integer_onnx

    model = quantize_model(path, calib, progress=False)
    spec = model.tensors[model.inputs[0]]
    sess = ort_session_bytes(export_integer_onnx(model).SerializeToString())
    in_name = onnx.load(str(path)).graph.input[0].name
    ort_int8 = ort_session(str(ort_quantize(path, calib, tmp / f"{path.stem}.x.onnx", False,
                                            in_name)))  # fmt: skip
    rng = np.random.default_rng(2)
    golden, diff, seen = GoldenExecutor(model), 0, 0
    for start in range(0, EXPORT_IMAGES, 64):
        n = min(64, EXPORT_IMAGES - start)
        noise = rng.normal(0, 0.1, (n, *calib.shape[1:])).astype(np.float32)
        codes = spec.quantize(calib[rng.integers(0, len(calib), n)] + noise)
        got = sess.run(None, {model.inputs[0]: codes})
        want = golden.run(codes)
        diff += sum(int(np.count_nonzero(g != want[o])) for g, o in zip(got, model.outputs,
                                                                        strict=True))  # fmt: skip
        seen += n
    x = calib[rng.integers(0, len(calib), 64)]
    codes = spec.quantize(x)
    return {
        "model": label, "images": seen, "differing_codes": diff,
        "export": timed(lambda c: sess.run(None, {model.inputs[0]: c}), codes),
        "onnxruntime int8 QDQ": timed(lambda v: ort_int8.run(None, {in_name: v}), x),
    }  # fmt: skip


HASWELL_SCRIPT = """
import json, sys, time
import numpy as np
import onnxruntime as ort
from plutflow.fast.isa import select_path, cpu_summary
from plutflow.fast.plan import FastExecutor
from plutflow.intmodel.model import IntModel

model = IntModel.load(sys.argv[1])
data = np.load(sys.argv[2])
opts = ort.SessionOptions()
opts.intra_op_num_threads = opts.inter_op_num_threads = 1
sess = ort.InferenceSession(sys.argv[3], opts, providers=["CPUExecutionProvider"])
fast = FastExecutor(model)
got = fast.run(data["codes"])
diff = sum(int(np.count_nonzero(got[k] != data[k])) for k in model.outputs)
def cpu(fn, reps):
    fn()
    t = time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - t) / reps
fast_s = cpu(lambda: fast.run(data["codes"]), 3)
ort_s = cpu(lambda: sess.run(None, {sys.argv[4]: data["images"]}), 3)
print(json.dumps({"path": select_path(), "cpu": cpu_summary(), "differing_codes": diff,
                  "fast_cpu_s": fast_s, "ort_int8_cpu_s": ort_s,
                  "images": int(len(data["codes"]))}))
"""


def haswell(tmp: Path) -> dict:
    """The portable path on an emulated AVX2-only CPU (``qemu-x86_64 -cpu Haswell``):
    the engine's choice, codes differing from golden, and the fast engine against
    onnxruntime int8 QDQ on the demo at batch 64, both emulated (for correctness: an
    emulator's speed ratio says little about a real Haswell)."""
    import shutil
    import subprocess

    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        return {"error": "qemu-x86_64 is missing (Debian qemu-user)"}
    assets = DemoAssets()
    calib = assets.calib_set()[:256]
    model = quantize_model(assets.model, calib, progress=False)
    in_name = onnx.load(str(assets.model)).graph.input[0].name
    qdq = ort_quantize(assets.model, calib, tmp / "demo.hsw.onnx", False, in_name)
    x = calib[:64]
    codes = model.tensors[model.inputs[0]].quantize(x)
    ref = GoldenExecutor(model).run(codes)
    np.savez(tmp / "hsw.npz", codes=codes, images=x, **ref)
    model.save(tmp / "hsw.pfq")
    cache = Path(__file__).parent.parent / "build" / "numba-haswell"  # compiled once
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PLUTFLOW_THREADS="1")
    out = subprocess.run([qemu, "-cpu", "Haswell", sys.executable, "-c", HASWELL_SCRIPT,
                          str(tmp / "hsw.pfq"), str(tmp / "hsw.npz"), str(qdq), in_name],
                         env=env, capture_output=True, text=True, timeout=3600)  # fmt: skip
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def ort_session_bytes(data: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def calibration(label: str, path: Path, calib: np.ndarray, tmp: Path) -> dict:
    """CPU and wall seconds of plutflow's statistics pass (onnxruntime and numpy float
    passes) against onnxruntime ``quantize_static`` on the same images."""
    from foundation import BATCH

    from plutflow.calib.calibrate import collect_stats
    from plutflow.ir import import_onnx

    graph = import_onnx(path)
    in_name = onnx.load(str(path)).graph.input[0].name
    row = {"model": label, "images": len(calib), "batch": BATCH}
    runs = {
        "plutflow (onnxruntime float pass)": lambda: collect_stats(
            graph, calib, BATCH, progress=False, runtime="onnxruntime"),
        "plutflow (numpy reference float pass)": lambda: collect_stats(
            graph, calib, BATCH, progress=False, runtime="numpy"),
        "onnxruntime quantize_static": lambda: ort_quantize(
            path, calib, tmp / f"{path.stem}.cal.onnx", False, in_name),
    }  # fmt: skip
    for name, fn in runs.items():
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        row[name] = {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0}
    return row


def upot_search() -> list[dict]:
    """UPoT level-set search time per million weights: the shortlist (fast scorer, then
    fit_levels on the best 16) against scoring every candidate with fit_levels, and
    whether both pick the same levels."""
    import plutflow.quant.weights as qw

    rng = np.random.default_rng(0)
    w = rng.standard_normal((256, 128, 3, 3)) * 0.05
    imp = rng.random(w.shape)
    qw.quantize_upot(w[:4], 4, imp[:4])  # compile the scorer
    rows = []
    for bits in (3, 4):
        row = {"bits": bits, "weights": int(w.size)}
        picks = {}
        for mode, shortlist in (("shortlist", qw.SHORTLIST), ("every candidate", 10**9)):
            saved, qw.SHORTLIST = qw.SHORTLIST, shortlist
            try:
                c0 = time.process_time()
                q = qw.quantize_upot(w, bits, imp)
                row[mode] = (time.process_time() - c0) / (w.size / 1e6)
            finally:
                qw.SHORTLIST = saved
            picks[mode] = (q.terms, q.codes.tobytes(), q.scale.tobytes())
        row["same_pick"] = picks["shortlist"] == picks["every candidate"]
        rows.append(row)
    return rows


def packing() -> dict:
    """3-bit packing speed (fields per CPU-second; output bytes are 3/8 of that)."""
    from plutflow.formats.bitpack import pack_fields

    v = np.random.default_rng(0).integers(-4, 4, 16_000_000).astype(np.int8)
    pack_fields(v[:64], 3)
    best = 0.0
    for _ in range(5):
        c0 = time.process_time()
        pack_fields(v, 3)
        best = max(best, v.size / (time.process_time() - c0))
    return {"fields_per_cpu_s": best, "output_mb_per_cpu_s": best * 3 / 8 / 1e6,
            "input_mb_per_cpu_s": best / 1e6}  # fmt: skip


def cal_ratio(r: dict) -> float:
    p, q = r["plutflow (onnxruntime float pass)"], r["onnxruntime quantize_static"]
    return p["cpu_s"] / q["cpu_s"]


def ratio(row: dict, batch: int, a: str, b: str) -> float:
    s = row[f"batch{batch}"]
    return s[a]["images_per_cpu_s"] / s[b]["images_per_cpu_s"]


def render(result: dict) -> list[str]:
    cpu = result["cpu"]
    md = [
        "# Fast exact host engine vs onnxruntime",
        "",
        f"CPU {cpu['cpu']}; AVX2 {'yes' if cpu['avx2'] else 'no'}, AVX-512 VNNI "
        f"{'yes' if cpu['avx512_vnni'] else 'no'}, AVX-VNNI {'yes' if cpu['avx_vnni'] else 'no'}"
        f"; fast path `{result['path']}`. One thread, one process, measured one after "
        "another; ratios are of images per CPU-second (wall-time figures in the JSON). "
        "onnxruntime int8 is `quantize_static` QDQ per-channel (u8 activations, s8 "
        "weights); the fast engine's input is integer codes (the 'float input' column "
        "adds quantizing the images). Produced by `make bench` (`bench/fast_host.py`).",
        "",
    ]
    rows = []
    for r in result["models"]:
        for b in BATCHES:
            s = r[f"batch{b}"]
            rows.append([
                r["model"], b, f"{r['fast_layers']}/{r['layers']}",
                f"{s['fast']['images_per_cpu_s']:,.0f}",
                f"{s['onnxruntime int8 QDQ']['images_per_cpu_s']:,.0f}",
                f"**{ratio(r, b, 'fast', 'onnxruntime int8 QDQ'):.2f}x**",
                f"{ratio(r, b, 'fast (float input)', 'onnxruntime int8 QDQ'):.2f}x",
                f"{ratio(r, b, 'golden', 'onnxruntime int8 QDQ'):.2f}x",
                f"{ratio(r, b, 'fast', 'onnxruntime float32'):.2f}x",
                f"{r['differing_codes_vs_golden']} of {r['checked_codes']:,}",
            ])  # fmt: skip
    md += markdown_table(
        ["model", "batch", "fast layers", "fast img/CPU-s", "ORT int8 img/CPU-s",
         "fast / ORT int8", "fast (float in) / ORT int8", "golden / ORT int8",
         "fast / ORT float", "codes differing from golden"],
        rows,
    )  # fmt: skip
    md += ["", "## Calibration", "",
           "Statistics of every tensor over the same images, batch 64, against onnxruntime "
           "`quantize_static` (which also runs its own float pass with every tensor as an "
           "output). CPU seconds (wall in the JSON).", ""]  # fmt: skip
    cal = result["calibration"]
    md += markdown_table(
        ["model", "images", "plutflow (onnxruntime pass)", "plutflow (numpy pass)",
         "quantize_static", "plutflow / quantize_static"],
        [[r["model"], r["images"],
          f"{r['plutflow (onnxruntime float pass)']['cpu_s']:.2f} s",
          f"{r['plutflow (numpy reference float pass)']['cpu_s']:.2f} s",
          f"{r['onnxruntime quantize_static']['cpu_s']:.2f} s",
          f"**{cal_ratio(r):.2f}x**"]
         for r in cal],
    )  # fmt: skip
    md += ["", "## UPoT level-set search", "",
           "CPU seconds per million weights on a 256 x 128 x 3 x 3 layer; 'every "
           "candidate' scores all level sets with fit_levels (the search before the "
           "shortlist, with today's faster nearest-level lookup; at the start of this work "
           "the 4-bit search took 134 s per million weights).", ""]  # fmt: skip
    md += markdown_table(
        ["bits", "shortlist", "every candidate", "speed-up", "same levels, codes, scales"],
        [[r["bits"], f"{r['shortlist']:.1f} s", f"{r['every candidate']:.1f} s",
          f"{r['every candidate'] / r['shortlist']:.1f}x", "yes" if r["same_pick"] else "NO"]
         for r in result["upot_search"]],
    )  # fmt: skip
    md += ["", "## Integer ONNX export (`plutflow export`)", "",
           "The exported graph (ConvInteger/MatMulInteger on u8 x u8, int64 or exact "
           "float64 requantization) under onnxruntime against golden on noisy copies of "
           "the calibration images, and its speed against onnxruntime int8 QDQ (batch 64, "
           "one thread, CPU time).", ""]  # fmt: skip
    md += markdown_table(
        ["model", "inputs checked", "codes differing from golden", "export img/CPU-s",
         "ORT int8 img/CPU-s", "export / ORT int8"],
        [[r["model"], f"{r['images']:,}", r["differing_codes"],
          f"{r['export']['images_per_cpu_s']:,.0f}",
          f"{r['onnxruntime int8 QDQ']['images_per_cpu_s']:,.0f}",
          f"{r['export']['images_per_cpu_s'] / r['onnxruntime int8 QDQ']['images_per_cpu_s']:.2f}x"]
         for r in result["export"]],
    )  # fmt: skip
    hw = result["haswell"]
    md += ["", "## Portable path on an AVX2-only CPU (emulated)", ""]
    if "error" in hw:
        md += [f"Not measured: {hw['error']}."]
    else:
        md += [f"`qemu-x86_64 -cpu Haswell` (AVX2, no AVX-512): the engine chose the "
               f"`{hw['path']}` path; demo, batch {hw['images']}: **{hw['differing_codes']} "
               f"codes differ from golden**; fast / onnxruntime int8 QDQ, both emulated: "
               f"{hw['ort_int8_cpu_s'] / hw['fast_cpu_s']:.2f}x (CPU time; an emulator's "
               f"ratio is for the record, not a Haswell measurement)."]  # fmt: skip
    pk = result["packing"]
    md += ["", f"3-bit packing: {pk['fields_per_cpu_s'] / 1e6:,.0f} M fields per CPU-second "
           f"({pk['input_mb_per_cpu_s']:,.0f} MB/s of int8 weights in, "
           f"{pk['output_mb_per_cpu_s']:,.0f} MB/s packed out)."]  # fmt: skip
    return md


def main() -> int:
    tmp = Path(tempfile.mkdtemp())
    from plutflow.fast.isa import select_path

    nets = models(tmp)
    result = {"cpu": cpu_summary(), "path": select_path(), "onnxruntime": ort.__version__,
              "models": [bench_model(*m, tmp) for m in nets],
              "calibration": [calibration(*m, tmp) for m in nets],
              "export": [export_check(*m, tmp) for m in nets],
              "upot_search": upot_search(), "packing": packing(),
              "haswell": haswell(tmp)}  # fmt: skip
    write_results(RESULTS, "fast_host", result, render(result))
    exact = all(r["differing_codes_vs_golden"] == 0 for r in result["models"])
    exact = exact and all(r["differing_codes"] == 0 for r in result["export"])
    exact = exact and result["haswell"].get("differing_codes") == 0
    return 0 if exact and all(r["same_pick"] for r in result["upot_search"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
