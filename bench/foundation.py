"""Foundation benchmark: accuracy on the full Fashion-MNIST test set, golden speed vs
onnxruntime (float32 and int8 QDQ), and ONNX node-test conformance.

Writes bench/results/foundation.json and bench/results/foundation.md. Run by `make bench`
(which installs Debian's dataset-fashion-mnist if it is missing).
"""

from __future__ import annotations

import os

THREADS = os.environ.get("PLUTFLOW_BENCH_THREADS", "1")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = THREADS

import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from plutflow.api import quantize_model  # noqa: E402
from plutflow.assets import DemoAssets  # noqa: E402
from plutflow.calib.sources import read_idx  # noqa: E402
from plutflow.evaluation import predict_float, predict_golden, top1  # noqa: E402
from plutflow.golden import GoldenExecutor  # noqa: E402
from plutflow.ir import SUPPORTED_OPS, import_onnx  # noqa: E402
from plutflow.quant import QuantConfig  # noqa: E402
from plutflow.reference import run_float  # noqa: E402
from plutflow.report.markdown import markdown_table, write_results  # noqa: E402

FMNIST = Path("/usr/share/datasets/fashion-mnist")
RESULTS = Path(__file__).parent / "results"
BATCH = 64


def ort_session(path: str) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(THREADS)
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def ort_quantize(
    model: Path, calib: np.ndarray, out: Path, reduce_range: bool, input_name: str = "image"
) -> Path:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter({input_name: calib[i : i + BATCH]} for i in range(0, len(calib), BATCH))

        def get_next(self):
            return next(self.it, None)

    pre = out.with_suffix(".pre.onnx")
    quant_pre_process(str(model), str(pre), skip_symbolic_shape=True)
    quantize_static(
        str(pre),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        reduce_range=reduce_range,
    )
    return out


def throughput(fn, x: np.ndarray, seconds: float = 3.0) -> float:
    """Images per second of ``fn`` on batches of ``BATCH`` (after one warm-up call)."""
    xb = x[:BATCH]
    fn(xb)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(xb)
        n += 1
    return n * BATCH / (time.perf_counter() - t0)


def conformance() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.case.node import collect_testcases

        cases = [
            c
            for c in collect_testcases()
            if c.model is not None
            and len(c.model.graph.node) == 1
            and c.model.graph.node[0].op_type in SUPPORTED_OPS
        ]
    passed, refused, failed = 0, [], []
    from plutflow.errors import UnsupportedModelError

    for case in cases:
        try:
            graph = import_onnx(case.model, symbolic_batch=False)
        except UnsupportedModelError as exc:
            refused.append(f"{case.name}: {exc.reason}")
            continue
        ok = True
        for inputs, outputs in case.data_sets:
            got = run_float(graph, dict(zip(graph.inputs, inputs, strict=True)))
            for name, exp in zip(graph.outputs, outputs, strict=True):
                ok &= bool(
                    np.allclose(
                        got[name], exp, rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-6)
                    )
                )
        passed += ok
        if not ok:
            failed.append(case.name)
    return {"cases": len(cases), "passed": passed, "refused": refused, "failed": failed}


def main() -> None:
    assets = DemoAssets()
    pre = assets.preprocess()
    x = pre.apply(read_idx(FMNIST / "t10k-images-idx3-ubyte.gz"))
    y = read_idx(FMNIST / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    calib = assets.calib_set()
    graph = import_onnx(assets.model)

    acc: dict[str, float] = {"float32 (plutflow reference)": top1(predict_float(graph, x), y)}
    models = {}
    for observer in ("minmax", "percentile", "mse"):
        models[observer] = quantize_model(
            assets.model, calib, QuantConfig(observer=observer), pre, progress=False
        )
        acc[f"plutflow INT8-USF golden ({observer})"] = top1(predict_golden(models[observer], x), y)
    tmp = Path(tempfile.mkdtemp())
    ort_float = ort_session(str(assets.model))
    acc["float32 (onnxruntime)"] = top1(ort_float.run(None, {"image": x})[0], y)
    ort_int8 = {}
    for rr in (False, True):
        path = ort_quantize(assets.model, calib, tmp / f"q{int(rr)}.onnx", rr)
        ort_int8[rr] = ort_session(str(path))
        label = "reduce_range" if rr else "default"
        acc[f"onnxruntime quantize_static QDQ per-channel ({label})"] = top1(
            ort_int8[rr].run(None, {"image": x})[0], y
        )

    golden = GoldenExecutor(models["minmax"])
    spec = models["minmax"].tensors[models["minmax"].inputs[0]]
    speed = {
        "plutflow golden (codes in, codes out)": throughput(
            lambda xb: golden.run(spec.quantize(xb)), x
        ),
        "onnxruntime float32": throughput(lambda xb: ort_float.run(None, {"image": xb}), x),
        "onnxruntime int8 QDQ": throughput(lambda xb: ort_int8[True].run(None, {"image": xb}), x),
    }
    g = speed["plutflow golden (codes in, codes out)"]
    ratios = {
        "golden / onnxruntime float32": g / speed["onnxruntime float32"],
        "golden / onnxruntime int8 QDQ": g / speed["onnxruntime int8 QDQ"],
    }
    conf = conformance()
    float_acc = acc["float32 (plutflow reference)"]
    result = {
        "machine": {
            "python": sys.version.split()[0],
            "cpu": platform.processor() or platform.machine(),
            "threads": int(THREADS),
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
        },
        "dataset": "Fashion-MNIST test split, 10,000 images; calibration: 512 unlabelled "
        "training images (bundled)",
        "top1_percent": acc,
        "int8_minus_float_points": {k: v - float_acc for k, v in acc.items()},
        "images_per_second_batch64": speed,
        "speed_ratios": ratios,
        "conformance": conf,
    }
    write_results(RESULTS, "foundation", result, render(result))


def render(result: dict) -> list[str]:
    """The markdown report of a foundation result."""
    acc, conf = result["top1_percent"], result["conformance"]
    float_acc = acc["float32 (plutflow reference)"]
    md = [
        "# Foundation benchmark",
        "",
        f"Fashion-MNIST full test set (10,000 images), demo model, "
        f"{result['machine']['threads']} thread(s), batch {BATCH}. Produced by `make bench` "
        "(`bench/foundation.py`).",
        "",
    ]
    md += markdown_table(
        ["model", "top-1 %", "vs float (points)"],
        ([k, f"{v:.2f}", f"{v - float_acc:+.2f}"] for k, v in acc.items()),
    )
    md.append("")
    md += markdown_table(
        ["executor", "images/s"],
        ([k, f"{v:.0f}"] for k, v in result["images_per_second_batch64"].items()),
    )
    md.append("")
    md += markdown_table(
        ["ratio", "value"], ([k, f"{v:.2f}"] for k, v in result["speed_ratios"].items())
    )
    md += [
        "",
        f"ONNX node conformance: {conf['passed']} of {conf['cases']} cases pass, "
        f"{len(conf['refused'])} refused with a clear error, {len(conf['failed'])} fail.",
        "",
    ]
    md += [f"- refused: {r}" for r in conf["refused"]]
    return md


if __name__ == "__main__":
    main()
