"""Low-bit benchmark: accuracy per scheme on the full Fashion-MNIST test set, packed sizes,
model memory of P-LUT vs shift vs int8, and packing speed on a 10-million-parameter model.

Writes bench/results/lowbit.json and bench/results/lowbit.md. Run by `make bench`.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time
from pathlib import Path

import numpy as np

from plutflow.assets import DemoAssets
from plutflow.calib import collect_stats
from plutflow.calib.sources import read_idx
from plutflow.evaluation import predict_float, predict_golden, top1
from plutflow.formats import pack_layer, pack_model
from plutflow.intmodel import IntLayer
from plutflow.ir import import_onnx
from plutflow.quant import LayerScheme, QuantConfig, SchemeConfig, quantize
from plutflow.quant.tasktune import tune_ranges
from plutflow.quant.weights import quantize_weights
from plutflow.report.markdown import markdown_table, write_results

FMNIST = Path("/usr/share/datasets/fashion-mnist")
RESULTS = Path(__file__).parent / "results"

ACCURACY_RUNS = [  # (label, scheme, low-bit activation observer)
    ("INT8-USF", "int8", "adaptive"),
    ("W4A8 uniform", "uniform:4:8", "adaptive"),
    ("W4A8 PoT", "pot:4:8", "adaptive"),
    ("W4A8 UPoT", "upot:4:8", "adaptive"),
    ("W4A4 P-LUT (adaptive scale/shift)", "plut:4:4", "adaptive"),
    ("W4A4 P-LUT (min-max)", "plut:4:4", "minmax"),
    ("W4A4 P-LUT (task-loss scale/shift)", "plut:4:4", "task"),
    ("W4A4 uniform (adaptive scale/shift)", "uniform:4:4", "adaptive"),
    ("W4A4 uniform (min-max)", "uniform:4:4", "minmax"),
    ("W4A4 uniform (task-loss scale/shift)", "uniform:4:4", "task"),
    ("W3A3 uniform", "uniform:3:3", "adaptive"),
    ("W3A3 PoT", "pot:3:3", "adaptive"),
    ("W3A3 UPoT", "upot:3:3", "adaptive"),
    ("W3A3 P-LUT", "plut:3:3", "adaptive"),
    ("W2A4 uniform", "uniform:2:4", "adaptive"),
    ("W2A4 UPoT", "upot:2:4", "adaptive"),
]


def accuracy(graph, stats, x, y, calib, calib_labels) -> tuple[list[dict], dict]:
    rows, models = [], {}
    for label, scheme, lowobs in ACCURACY_RUNS:
        schemes = SchemeConfig(LayerScheme.parse(scheme))
        t0 = time.perf_counter()
        if lowobs == "task":  # adaptive start, then the cross-entropy search on 256 images
            cfg, _ = tune_ranges(
                graph, stats, QuantConfig(schemes=schemes), calib[:256], calib_labels[:256]
            )
        else:
            cfg = QuantConfig(schemes=schemes, lowbit_observer=lowobs)
        model = quantize(graph, stats, cfg)
        rows.append(
            {
                "scheme": label,
                "top1": top1(predict_golden(model, x), y),
                "seconds": time.perf_counter() - t0,
            }
        )
        models[label] = model
        print(f"{label:40s} {rows[-1]['top1']:.2f}", flush=True)
    return rows, models


def packed_sizes(graph) -> list[dict]:
    """Packed weight bytes of every Conv/Gemm at one scheme (all layers) vs float32."""
    weights = [graph.constants[n.inputs[1]] for n in graph.nodes if n.op in ("Conv", "Gemm")]
    float_bytes = sum(w.size * 4 for w in weights)
    rows = []
    for scheme, bits in [
        ("int8", 8),
        ("uniform", 4),
        ("upot", 4),
        ("plut", 4),
        ("uniform", 3),
        ("upot", 3),
        ("plut", 3),
        ("uniform", 2),
    ]:
        total = 0
        for w in weights:
            q = quantize_weights(w.astype(np.float64), scheme, bits)
            total += pack_layer(_layer(q, w.shape)).weight_bytes
        rows.append(
            {
                "scheme": f"W{bits} {scheme}",
                "weight_bytes": total,
                "float32_bytes": float_bytes,
                "ratio": float_bytes / total,
            }
        )
    return rows


def _layer(q, shape, act_bits: int = 4) -> IntLayer:
    m = shape[0]
    params = {
        "bias": np.zeros(m, np.int32),
        "mult": np.full(m, 2**15, np.int32),
        "shift": np.full(m, 16, np.int32),
    }
    if q.codes is None:
        params["weight"] = q.values
    else:
        params.update(weight_codes=q.codes, levels=q.levels)
    if q.scheme == "plut":
        params["product_table"] = np.zeros((2**q.bits, 2**act_bits), np.int32)
    return IntLayer(
        "l",
        "conv" if len(shape) > 2 else "gemm",
        ["x"],
        ["y"],
        {"weight_scheme": q.scheme, "weight_bits": q.bits, "terms": q.terms},
        params,
    )


def model_memory(models: dict) -> list[dict]:
    rows = []
    for label in ("INT8-USF", "W4A8 UPoT", "W4A4 P-LUT (adaptive scale/shift)"):
        packed = pack_model(models[label])
        rows.append(
            {
                "model": label,
                "weights": sum(p.weight_bytes for p in packed),
                "tables": sum(p.table_bytes for p in packed),
                "requant": sum(int(p.requant.nbytes) for p in packed),
                "total": sum(p.total_bytes for p in packed),
            }
        )
    return rows


def packing_speed() -> list[dict]:
    """Output MB/s of pack_layer on random codes of a 10-million-parameter model."""
    rng = np.random.default_rng(0)
    shapes = [(512, 512, 3, 3)] * 4 + [(256, 256, 3, 3)] * 3 + [(1000, 512)]
    params = sum(int(np.prod(s)) for s in shapes)
    rows = []
    for bits in range(2, 9):
        layers = []
        for s in shapes:
            m = s[0]
            p = {
                "bias": np.zeros(m, np.int32),
                "mult": np.full(m, 2**15, np.int32),
                "shift": np.full(m, 16, np.int32),
                "weight": rng.integers(-(2 ** (bits - 1)) + 1, 2 ** (bits - 1), s).astype(np.int8),
            }
            layers.append(
                IntLayer(
                    "l",
                    "conv" if len(s) > 2 else "gemm",
                    ["x"],
                    ["y"],
                    {"weight_scheme": "uniform", "weight_bits": bits},
                    p,
                )
            )
        pack_layer(layers[-1])
        dt = np.inf
        for _ in range(5):  # best of five: one pass is short enough to be noisy
            t0 = time.perf_counter()
            out = sum(pack_layer(lay).total_bytes for lay in layers)
            dt = min(dt, time.perf_counter() - t0)
        rows.append(
            {
                "bits": bits,
                "parameters": params,
                "output_bytes": out,
                "seconds": dt,
                "mb_per_s": out / dt / 1e6,
            }
        )
    return rows


def main() -> None:
    assets = DemoAssets()
    pre = assets.preprocess()
    x = pre.apply(read_idx(FMNIST / "t10k-images-idx3-ubyte.gz"))
    y = read_idx(FMNIST / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    graph = import_onnx(assets.model)
    calib = assets.calib_set()
    stats = collect_stats(graph, calib, progress=False)
    float_acc = top1(predict_float(graph, x), y)
    acc, models = accuracy(graph, stats, x, y, calib, assets.calib_labels())
    sizes = packed_sizes(graph)
    memory = model_memory(models)
    speed = packing_speed()
    result = {
        "float_top1": float_acc,
        "accuracy": acc,
        "packed_weight_sizes": sizes,
        "model_memory": memory,
        "packing_speed": speed,
        "notes": "post-training quantization only (no fine-tuning); first and last "
        "layers W8A8; calibration: 512 unlabelled training images",
    }
    write_results(RESULTS, "lowbit", result, render(result))


def render(result: dict) -> list[str]:
    """The markdown report of a low-bit result."""
    float_acc, speed = result["float_top1"], result["packing_speed"]
    md = [
        "# Low-bit benchmark",
        "",
        "Demo model, Fashion-MNIST full test set (10,000 images), post-training "
        "quantization, first and last layers W8A8. Produced by `make bench` "
        "(`bench/lowbit.py`).",
        "",
    ]
    md += markdown_table(
        ["scheme", "top-1 %", "vs float (points)"],
        [["float32", f"{float_acc:.2f}", "+0.00"]]
        + [
            [r["scheme"], f"{r['top1']:.2f}", f"{r['top1'] - float_acc:+.2f}"]
            for r in result["accuracy"]
        ],
    )
    md += [
        "",
        "Packed weights of all Conv/Gemm layers at one scheme (streams of section 7.2, "
        "word padding included, before tables):",
        "",
    ]
    md += markdown_table(
        ["weights", "bytes", "float32 bytes", "smaller by"],
        (
            [r["scheme"], r["weight_bytes"], r["float32_bytes"], f"{r['ratio']:.2f}x"]
            for r in result["packed_weight_sizes"]
        ),
    )
    md += ["", "Whole-model parameter streams (first/last layers int8):", ""]
    md += markdown_table(
        ["model", "weights", "tables", "requant", "total bytes"],
        (
            [r["model"], r["weights"], r["tables"], r["requant"], r["total"]]
            for r in result["model_memory"]
        ),
    )
    md += [
        "",
        f"Packing speed, one core, {speed[0]['parameters']:,} random parameters, best of 5:",
        "",
    ]
    md += markdown_table(
        ["bits", "output MB", "seconds", "MB/s"],
        (
            [
                r["bits"],
                f"{r['output_bytes'] / 1e6:.1f}",
                f"{r['seconds']:.3f}",
                f"{r['mb_per_s']:.0f}",
            ]
            for r in speed
        ),
    )
    return md


if __name__ == "__main__":
    main()
