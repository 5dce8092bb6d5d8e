"""Whole networks on the overlay (``make bench``): for the demo, tests/data/mobile_like.onnx
and ResNet-18- and MobileNetV2-style networks at 224 x 224 (bench/models.py, random
weights), in int8 and in one low-bit mixed-precision recipe (8-bit first and last
layers on the int8 path), on the board configuration of the matching PE type (P = 16):

- the share of MACs and of layers on the overlay;
- host milliseconds per image;
- modelled images/s at 250 MHz with the KV260 memory model (overlay/cycles.py), and the
  simulated cycles per image beside the model's;
- bit-exactness of every tensor against golden through the simulated RTL (8 images) and
  through the PYNQ driver path on the simulated overlay (2 images);
- simulation speed (simulated cycles per CPU second inside the run loop).

Writes bench/results/overlay_v2.{json,md}.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import models  # noqa: E402

from plutflow.api import quantize_model  # noqa: E402
from plutflow.assets import DemoAssets  # noqa: E402
from plutflow.golden.executor import GoldenExecutor  # noqa: E402
from plutflow.ir.importer import import_onnx  # noqa: E402
from plutflow.overlay.config import OverlayConfig  # noqa: E402
from plutflow.overlay.contract import CONTRACT  # noqa: E402
from plutflow.overlay.cycles import KV260, program_estimate  # noqa: E402
from plutflow.quant.builder import QuantConfig  # noqa: E402
from plutflow.quant.scheme import LayerScheme, SchemeConfig  # noqa: E402
from plutflow.report.layers import layer_rows  # noqa: E402
from plutflow.report.markdown import markdown_table, write_results  # noqa: E402
from plutflow.runtime import Accelerator, Artifact  # noqa: E402

RESULTS = ROOT / "bench" / "results"
IMAGES, PYNQ_IMAGES = 8, 2
# (model, low-bit recipe, the overlay that runs it)
RUNS = [
    ("demo", "upot:4:8", "shift"),
    ("mobile_like", "pot:4", "shift"),
    ("resnet18", "pot:4", "shift"),
    ("mobilenetv2", "plut:4:4", "plut"),
]


def load(name: str):
    """(graph, calibration images, test images) of a benchmark model."""
    rng = np.random.default_rng(0)
    if name == "demo":
        a = DemoAssets()
        pre = a.preprocess()
        x = a.test_set()[0][:IMAGES]
        return import_onnx(str(a.model)), a.calib_set()[:128], x, pre
    if name == "mobile_like":
        graph = import_onnx(str(ROOT / "tests" / "data" / "mobile_like.onnx"))
    elif name == "resnet18":
        graph = import_onnx(models.resnet18())
    else:
        graph = import_onnx(models.mobilenet_v2())
    shape = graph.shapes[graph.inputs[0]]
    calib = rng.uniform(0, 1, (16, *shape[1:])).astype(np.float32)
    x = rng.uniform(0, 1, (IMAGES, *shape[1:])).astype(np.float32)
    return graph, calib, x, None


def measure(name: str, graph, calib, x, pre, scheme: str, pe: str) -> dict:
    t0 = time.perf_counter()
    cfg = None if scheme == "int8" else QuantConfig(schemes=SchemeConfig(
        default=LayerScheme.parse(scheme)))  # fmt: skip
    model = quantize_model(graph, calib, cfg, preprocess=pre, progress=False)
    quant_s = time.perf_counter() - t0
    overlay = OverlayConfig.for_pe(pe)
    art = Artifact.compile(model, overlay)
    rows = {r["layer"]: r for r in art.placement}
    macs = {r["layer"]: r["macs"] for r in layer_rows(model)}
    total = sum(macs.values()) or 1
    on = sum(m for lay, m in macs.items() if rows[lay]["target"] == "overlay")
    host = [f"{r['layer']} ({r['op']}: {r['reason']})" for r in art.placement
            if r["target"] == "host"]  # fmt: skip
    codes = model.tensors[model.inputs[0]].quantize(x)
    want = GoldenExecutor(model).run(codes, keep=True)

    def exact(tensors) -> bool:
        return all(np.array_equal(tensors[lay.outputs[0]], want[lay.outputs[0]])
                   for lay in model.layers)  # fmt: skip

    with Accelerator(art, "sim", max_batch=IMAGES, timeout_s=3600.0) as acc:
        t0 = time.perf_counter()
        res = acc.run(codes, keep=True)
        sim_wall = time.perf_counter() - t0
        sim_ok = exact(res.tensors)
        port = acc.port
        speed = port.run_cycles / port.run_cpu_seconds if port.run_cpu_seconds else 0.0
    with Accelerator(art, "pynq-sim", max_batch=PYNQ_IMAGES, timeout_s=3600.0) as acc:
        pres = acc.run(codes[:PYNQ_IMAGES], keep=True)
        pynq_ok = all(np.array_equal(pres.tensors[lay.outputs[0]],
                                     want[lay.outputs[0]][:PYNQ_IMAGES])
                      for lay in model.layers)  # fmt: skip
    est = program_estimate(art.compiled.program(1), overlay, KV260)
    host_s = sum(res.host_layers.values()) / len(x)
    per_image = est.cycles / (CONTRACT.clock_mhz * 1e6) + host_s
    return {
        "model": name,
        "scheme": scheme,
        "overlay": overlay.describe(),
        "layers": len(art.placement),
        "layers_on_overlay": len(art.placement) - len(host),
        "host_layers": host,
        "macs_per_image": total,
        "mac_share": on / total,
        "host_ms_per_image": 1e3 * host_s,
        "model_cycles_per_image_kv260": est.cycles,
        "images_per_s_kv260": 1.0 / per_image,
        "sim_cycles_per_image": res.stats.cycles / len(x),
        "bit_exact_sim": sim_ok,
        "images_sim": len(x),
        "bit_exact_pynq_sim": pynq_ok,
        "images_pynq_sim": PYNQ_IMAGES,
        "sim_wall_s": round(sim_wall, 2),
        "sim_cycles_per_cpu_s": round(speed),
        "quantize_s": round(quant_s, 1),
    }


def render(rows: list[dict]) -> list[str]:
    md = [
        "# Whole networks on the overlay (bench/overlay_v2.py)",
        "",
        f"Board configurations (P = 16, 256 MACs/cycle) at {CONTRACT.clock_mhz:.0f} MHz; "
        f"images/s from the cycle model with the KV260 memory model (read latency "
        f"{KV260.latency} cycles, {100 * KV260.efficiency:.0f} % of the 128-bit port) plus "
        f"the measured host layers. Bit-exact: every tensor equal to golden, {IMAGES} images "
        f"through the simulated RTL and {PYNQ_IMAGES} through the PYNQ driver path on the "
        "simulated overlay. Random weights for ResNet-18 and MobileNetV2 (bench/models.py).",
        "",
    ]
    head = ["model", "weights", "overlay", "layers on overlay", "MACs on overlay",
            "host ms/image", "images/s (KV260 model)", "cycles/image sim (model)",
            "bit-exact sim / PYNQ path"]  # fmt: skip
    body = [[
        r["model"], r["scheme"], r["overlay"].split(",")[0],
        f"{r['layers_on_overlay']}/{r['layers']}", f"{100 * r['mac_share']:.2f} %",
        f"{r['host_ms_per_image']:.2f}", f"{r['images_per_s_kv260']:,.0f}",
        f"{r['sim_cycles_per_image']:,.0f} ({r['model_cycles_per_image_kv260']:,.0f})",
        f"{'yes' if r['bit_exact_sim'] else 'NO'} / {'yes' if r['bit_exact_pynq_sim'] else 'NO'}",
    ] for r in rows]  # fmt: skip
    md += markdown_table(head, body)
    host = sorted({h for r in rows for h in r["host_layers"]})
    if host:
        md += ["", "Layers on the host: " + "; ".join(host) + "."]
    md += [
        "",
        "The simulated cycles use the simulator's memory (40-cycle latency, no gaps); "
        "the model column uses the KV260 memory model, so it is higher.",
    ]
    return md


def main() -> int:
    rows = []
    for name, lowbit, pe in RUNS:
        graph, calib, x, pre = load(name)
        for scheme, overlay in (("int8", "int8"), (lowbit, pe)):
            r = measure(name, graph, calib, x, pre, scheme, overlay)
            print({k: v for k, v in r.items() if k != "host_layers"}, flush=True)
            rows.append(r)
    write_results(RESULTS, "overlay_v2", rows, render(rows))
    bad = [f"{r['model']} {r['scheme']}" for r in rows
           if not (r["bit_exact_sim"] and r["bit_exact_pynq_sim"])]  # fmt: skip
    if bad:
        print("NOT bit-exact:", ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
