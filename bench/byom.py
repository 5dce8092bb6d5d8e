"""Bring-your-own-model benchmark (``make bench``): user models through the whole flow,
rounding reconstruction against nearest rounding, and pre-quantized import against
onnxruntime. Writes bench/results/byom.{json,md}.

Models: four PyTorch dynamo exports (tests/data/byom_*.onnx: a classifier with
ReduceMean, a YOLO-style detector, a fully convolutional net with free H/W, a two-head
net), the ONNX-built detector (bench/models.py, with reflect Pad), a ``quantize_static``
QDQ export of the classifier, and a 4-bit QONNX CNN. Each is quantized with no
preprocessing config, evaluated against its float model (or onnxruntime's execution of
the pre-quantized graph), compiled for the board overlay, self-tested on the simulated
RTL with its own samples, and run on it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

import models
import numpy as np
import onnx
import onnxruntime as ort

from plutflow.api import quantize_model
from plutflow.assets import DemoAssets
from plutflow.board.selftest import selftest
from plutflow.calib import collect_stats
from plutflow.calib.sources import read_idx
from plutflow.evaluation import agreement, predict_float, predict_golden, top1
from plutflow.golden.executor import GoldenExecutor
from plutflow.ir import import_onnx
from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.contract import CONTRACT
from plutflow.overlay.cycles import KV260, program_estimate
from plutflow.quant import LayerScheme, QuantConfig, SchemeConfig, quantize
from plutflow.reference import run_float
from plutflow.report.markdown import markdown_table, write_results
from plutflow.runtime import Accelerator, Artifact

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
RESULTS = ROOT / "bench" / "results"
FMNIST = Path("/usr/share/datasets/fashion-mnist")
EVAL_IMAGES = 512
ROUNDING_SCHEMES = ["upot:4:8", "plut:4:4", "uniform:4:4", "uniform:3:3", "uniform:2:4"]


def images(shape: tuple, n: int, seed: int) -> np.ndarray:
    """Smooth random images in [0, 1] (blocks of 4x4 pixels), NCHW float32."""
    c, h, w = shape
    base = np.random.default_rng(seed).uniform(0, 1, (n, c, -(-h // 4), -(-w // 4)))
    return np.repeat(np.repeat(base, 4, 2), 4, 3)[:, :, :h, :w].astype(np.float32)


def qdq_classifier(out: Path) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    x = images((3, 32, 32), 64, 9)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter({"x": x[i : i + 1]} for i in range(len(x)))

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(DATA / "byom_classifier.onnx"), str(out), Reader(),
                    quant_format=QuantFormat.QDQ, per_channel=True)  # fmt: skip
    return out


def user_models(tmp: Path) -> list[tuple[str, str | onnx.ModelProto, dict]]:
    qonnx = models.lowbit_qat_cnn("qonnx")
    qcdq = models.lowbit_qat_cnn("qcdq")
    return [
        ("PyTorch classifier (ReduceMean)", str(DATA / "byom_classifier.onnx"), {}),
        ("PyTorch YOLO-style detector", str(DATA / "byom_detector.onnx"), {}),
        (
            "PyTorch FCN, free H/W (--input-shape 1x3x32x48)",
            str(DATA / "byom_fcn.onnx"),
            {"shape": (1, 3, 32, 48)},
        ),
        ("PyTorch two-head (shared features)", str(DATA / "byom_two_head.onnx"), {}),
        ("ONNX detector (Pad reflect, Slice)", models.detector_like(size=32), {}),
        (
            "quantize_static QDQ classifier",
            str(qdq_classifier(tmp / "qdq.onnx")),
            {"ort": True},
        ),
        ("QONNX 4-bit CNN (Quant)", qonnx, {"ort_model": qcdq}),
    ]


def ort_outputs(model, x: np.ndarray) -> np.ndarray:
    src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def flow(label: str, src, opts: dict) -> dict:
    t0 = time.perf_counter()
    shapes = {None: opts["shape"]} if "shape" in opts else None
    graph = import_onnx(src, input_shapes=shapes)
    shape = graph.shapes[graph.inputs[0]][1:]
    calib, x = images(shape, 64, 0), images(shape, EVAL_IMAGES, 1)
    model = quantize_model(graph, calib, progress=False)
    out = model.outputs[0]
    codes = predict_golden(model, x)
    row = {"model": label, "ops": sorted({n.op for n in graph.nodes}),
           "layers": len(model.layers), "quantize_s": time.perf_counter() - t0}  # fmt: skip
    hints = graph.quant_hints
    if hints:
        ref = ort_outputs(opts.get("ort_model", src), x)
        spec = model.tensors[out]
        row["prequantized"] = f"{hints.kind}: {len(hints.activations)} activations, " \
                              f"{len(hints.weights)} layers fixed"  # fmt: skip
        row["vs_onnxruntime_max_code_diff"] = float(
            np.abs(np.rint(ref / spec.scale) + spec.zero_point - codes).max())  # fmt: skip
        row["agreement"] = agreement(ref, codes)
        row["reference"] = "onnxruntime on the pre-quantized graph"
    else:
        row["agreement"] = agreement(predict_float(graph, x), codes)
        row["reference"] = "float model"
    art = Artifact.compile(model, OverlayConfig.named("board"))
    macs = [r.get("macs", 0) for r in art.placement]
    on = [r.get("macs", 0) for r in art.placement if r["target"] == "overlay"]
    row["macs_on_overlay"] = 100.0 * sum(on) / max(sum(macs), 1)
    row["host_layers"] = sorted({r["op"] for r in art.placement if r["target"] == "host"})
    est = program_estimate(art.compiled.program(1), art.overlay, KV260)
    row["modelled_cycles_per_image"] = est.cycles
    st = selftest("sim", art)
    row["selftest"] = st.passed
    with Accelerator(art, "sim") as acc:
        got = acc.run(x[:4]).outputs
    want = GoldenExecutor(model).run({model.inputs[0]: model.tensors[model.inputs[0]]
                                      .quantize(x[:4])})  # fmt: skip
    row["sim_bit_exact"] = all(np.array_equal(got[k], want[k]) for k in model.outputs)
    print(row, flush=True)
    return row


def demo_rounding() -> list[dict]:
    a = DemoAssets()
    graph = import_onnx(a.model)
    pre = a.preprocess()
    if (FMNIST / "t10k-images-idx3-ubyte.gz").exists():
        x = pre.apply(read_idx(FMNIST / "t10k-images-idx3-ubyte.gz"))
        y = read_idx(FMNIST / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    else:
        x, y = a.test_set()
    calib = a.calib_set()
    stats = collect_stats(graph, calib, progress=False)
    float_top1 = top1(predict_float(graph, x), y)
    rows = []
    for scheme in ROUNDING_SCHEMES:
        cfg = QuantConfig(schemes=SchemeConfig(LayerScheme.parse(scheme)))
        near = top1(predict_golden(quantize(graph, stats, cfg), x), y)
        t0 = time.process_time()
        rec_model = quantize_model(graph, calib, QuantConfig(schemes=cfg.schemes,
                                   rounding="reconstruct"), progress=False)  # fmt: skip
        cpu = time.process_time() - t0
        rec = top1(predict_golden(rec_model, x), y)
        rows.append({"model": f"demo ({len(x)} test images)", "scheme": scheme,
                     "float": float_top1, "nearest": near, "reconstruct": rec,
                     "reconstruct_cpu_s": cpu})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def mobile_like_rounding() -> list[dict]:
    """tests/data/mobile_like.onnx on normal-distributed inputs: class agreement of the
    logits (the softmax's input: 8-bit probabilities of a random-weight net tie too often
    to compare) with the float model, and their signal-to-error ratio."""
    graph = import_onnx(str(DATA / "mobile_like.onnx"))
    logit = next(n for n in graph.nodes if n.op == "Softmax").inputs[0]
    rng = np.random.default_rng(0)
    calib = rng.normal(size=(256, 3, 32, 32)).astype(np.float32)
    x = rng.normal(size=(1000, 3, 32, 32)).astype(np.float32)
    seen: dict[str, np.ndarray] = {}
    run_float(graph, {graph.inputs[0]: x},
              observe=lambda n, v: seen.__setitem__(n, v) if n == logit else None)  # fmt: skip
    ref = seen[logit]
    stats = collect_stats(graph, calib, progress=False)

    def logits(model) -> np.ndarray:
        env = GoldenExecutor(model).run({model.inputs[0]: model.tensors[model.inputs[0]]
                                         .quantize(x)}, keep=True)  # fmt: skip
        return model.tensors[logit].dequantize(env[logit])

    def snr(y: np.ndarray) -> float:
        return float(10 * np.log10((ref**2).sum() / max(((y - ref) ** 2).sum(), 1e-30)))

    rows = []
    for scheme in ("int8", "upot:4:8", "plut:4:4", "uniform:4:4", "uniform:3:3"):
        cfg = QuantConfig(schemes=SchemeConfig(LayerScheme.parse(scheme)))
        near = logits(quantize(graph, stats, cfg))
        t0 = time.process_time()
        rec_model = quantize_model(graph, calib, QuantConfig(schemes=cfg.schemes,
                                   rounding="reconstruct"), progress=False)  # fmt: skip
        cpu = time.process_time() - t0
        rec = logits(rec_model)
        rows.append({"model": "mobile_like (logit agreement with float, 1000 inputs)",
                     "scheme": scheme, "float": 100.0, "nearest": agreement(ref, near),
                     "reconstruct": agreement(ref, rec), "snr_nearest_db": snr(near),
                     "snr_reconstruct_db": snr(rec), "reconstruct_cpu_s": cpu})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def render(result: dict) -> list[str]:
    md = [
        "# Bring your own model (bench/byom.py)",
        "",
        "User models quantized with no preprocessing config (layout, channels and size "
        f"from the model input) on 64 smooth random images, evaluated on {EVAL_IMAGES} "
        "others: agreement is the share of positions (images, or pixels of dense outputs) "
        "where the integer model picks the same class as the reference. Compiled for the "
        f"board overlay ({CONTRACT.clock_mhz:.0f} MHz cycle model with the KV260 memory "
        "model), self-tested on the simulated RTL with the model's own sample inputs, and "
        "4 inputs run on it, compared with golden.",
        "",
    ]
    md += markdown_table(
        ["model", "reference", "agreement %", "MACs on overlay", "host layers",
         "modelled cycles / image", "selftest (sim)", "sim bit-exact"],
        ([r["model"], r["reference"] + (f" ({r['prequantized']}; max output code "
          f"difference {r['vs_onnxruntime_max_code_diff']:.0f})" if "prequantized" in r
          else ""), f"{r['agreement']:.1f}", f"{r['macs_on_overlay']:.1f} %",
          ", ".join(r["host_layers"]) or "-", f"{r['modelled_cycles_per_image']:,}",
          "pass" if r["selftest"] else "FAIL", "yes" if r["sim_bit_exact"] else "NO"]
         for r in result["models"]),
    )  # fmt: skip
    md += [
        "",
        "## Rounding reconstruction",
        "",
        "Top-1 (demo) or class agreement of the logits with float (mobile_like: random "
        "weights, normal inputs) with nearest rounding and with `--rounding reconstruct`; "
        "CPU seconds of the whole reconstructing quantization.",
        "",
    ]
    md += markdown_table(
        ["model", "scheme", "float", "nearest", "reconstruct", "loss nearest -> reconstruct",
         "output SNR dB nearest -> reconstruct", "CPU s"],
        ([r["model"], r["scheme"], f"{r['float']:.2f}", f"{r['nearest']:.2f}",
          f"{r['reconstruct']:.2f}",
          f"{r['float'] - r['nearest']:.2f} -> {r['float'] - r['reconstruct']:.2f}",
          f"{r['snr_nearest_db']:.1f} -> {r['snr_reconstruct_db']:.1f}"
          if "snr_nearest_db" in r else "-",
          f"{r['reconstruct_cpu_s']:.0f}"] for r in result["rounding"]),
    )  # fmt: skip
    return md


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [flow(label, src, opts) for label, src, opts in user_models(Path(tmp))]
    result = {"models": rows, "rounding": demo_rounding() + mobile_like_rounding()}
    write_results(RESULTS, "byom", result, render(result))
    return 0 if all(r["selftest"] and r["sim_bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
