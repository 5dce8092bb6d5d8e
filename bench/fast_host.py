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
    return md


def main() -> int:
    tmp = Path(tempfile.mkdtemp())
    from plutflow.fast.isa import select_path

    result = {"cpu": cpu_summary(), "path": select_path(), "onnxruntime": ort.__version__,
              "models": [bench_model(*m, tmp) for m in models(tmp)]}  # fmt: skip
    write_results(RESULTS, "fast_host", result, render(result))
    return 0 if all(r["differing_codes_vs_golden"] == 0 for r in result["models"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
