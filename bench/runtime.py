"""End-to-end runtime benchmark (``make bench``): the demo network through the driver on
the simulated board-sized overlay in each format, bit-exact against golden; cycles,
modelled throughput at 250 MHz against onnxruntime int8 on this CPU (same run), host
overhead and the transport's share of the raw simulation speed.
Writes bench/results/runtime.{json,md}.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

THREADS = os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sim"))
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from foundation import ort_quantize, ort_session, throughput  # noqa: E402
from harness import run_accel  # noqa: E402

from plutflow.formats.accel import OverlayConfig  # noqa: E402
from plutflow.golden.executor import GoldenExecutor  # noqa: E402
from plutflow.pipeline import DemoAssets, quantize_model  # noqa: E402
from plutflow.quant.builder import QuantConfig  # noqa: E402
from plutflow.quant.scheme import LayerScheme, SchemeConfig  # noqa: E402
from plutflow.report.markdown import markdown_table, write_results  # noqa: E402
from plutflow.runtime import Accelerator, Artifact  # noqa: E402
from plutflow.runtime.evaluate import evaluate  # noqa: E402
from plutflow.runtime.registers import CLOCK_MHZ  # noqa: E402

RESULTS = Path(__file__).parent / "results"
IMAGES = 32
FORMATS = {  # name: (scheme of every layer, overlay)
    "int8": ("int8", OverlayConfig.for_pe("int8", p=16, data_w=128)),
    "shift (UPoT W4A8)": ("upot:4:8", OverlayConfig.for_pe("shift", p=16, data_w=128)),
    "P-LUT (W4A4, shared rows)": ("plut:4:4", OverlayConfig.for_pe("plut", p=16, data_w=128)),
    "P-LUT (W4A4, LUT RAM)": (
        "plut:4:4",
        OverlayConfig.for_pe("plut-lutram", p=16, data_w=128),
    ),
}
RAW_LAYER = {"c": 32, "m": 32, "h": 14, "k": 3, "stride": 1, "pad": 1, "batch": 4}


def raw_speed(cfg: OverlayConfig) -> float:
    """Simulated cycles/s of a large layer straight through the cocotb testbench."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        run_accel(
            cfg.pe_type,
            cfg.rtl_parameters(),
            testcase="simulation_speed",
            speed=json.dumps(RAW_LAYER),
            report=str(out),
        )
        return float(json.loads(out.read_text())["sim_cycles_per_s"])


def main() -> None:
    assets = DemoAssets()
    x, y = assets.test_set()
    x, y = x[:IMAGES], y[:IMAGES]
    calib = assets.calib_set()
    tmp = Path(tempfile.mkdtemp())
    ort_int8 = ort_session(str(ort_quantize(assets.model, calib, tmp / "q.onnx", True)))
    ort_ips = throughput(lambda xb: ort_int8.run(None, {"image": xb}), assets.test_set()[0])
    rows = {}
    for name, (scheme, cfg) in FORMATS.items():
        schemes = SchemeConfig(default=LayerScheme.parse(scheme), ends_at_8bit=False)
        model = quantize_model(
            str(assets.model), calib, QuantConfig(schemes=schemes), progress=False
        )
        art = Artifact.compile(model, cfg)
        golden = GoldenExecutor(model).run(model.tensors[model.inputs[0]].quantize(x))
        t0 = time.perf_counter()
        with Accelerator(art, "sim") as acc:
            start = time.perf_counter() - t0
            ev = evaluate(acc, x, batch_size=IMAGES, progress=False)
            sim_cycles, sim_s = acc.transport.sim_cycles, acc.transport.sim_seconds
        out = model.outputs[0]
        exact = bool(np.array_equal(ev.codes, golden[out]))
        host = ev.host_seconds_per_image()
        transfer_s = sum(t.transfer_s for t in ev.layers)
        through_driver = sim_cycles / transfer_s
        raw = raw_speed(cfg)
        ips = ev.modelled_images_per_s()
        rows[name] = {
            "overlay": cfg.to_json(),
            "images": IMAGES,
            "layers_on_overlay": sum(p.target == "overlay" for p in art.plan),
            "layers": len(art.plan),
            "bit_exact": exact,
            "top1": float((ev.logits.argmax(1) == y).mean() * 100),
            "simulator_start_s": start,
            "wall_s_per_image": ev.wall_s / IMAGES,
            "cycles_per_image": ev.cycles_per_image,
            "images_per_s_at_250MHz": ips,
            "ratio_to_onnxruntime_int8": ips / ort_ips,
            "host_ms_per_image": {k: 1e3 * v for k, v in host.items()},
            "sim_cycles_per_s_through_driver": through_driver,
            "sim_cycles_per_s_inside_simulator": sim_cycles / sim_s,
            "sim_cycles_per_s_raw_testbench": raw,
            "transport_share_of_raw": through_driver / raw,
        }
        print(name, rows[name], flush=True)
    result = {
        "onnxruntime_int8_images_per_s": ort_ips,
        "threads": int(THREADS),
        "clock_mhz": CLOCK_MHZ,
        "formats": rows,
    }
    write_results(RESULTS, "runtime", result, render(result))


def render(result: dict) -> list[str]:
    ort_ips = result["onnxruntime_int8_images_per_s"]
    md = [
        "# End to end: the demo network through the driver on the simulated overlay",
        "",
        f"{IMAGES} bundled test images per format; every layer quantized in the format "
        "(first and last too); P = 16 (256 MACs/cycle), 128-bit stream. Layers the "
        "overlay does not run (add, global pooling, flatten) run on the host golden "
        "code. onnxruntime int8 (QDQ, "
        f"{result['threads']} thread, batch 64) on this CPU: {ort_ips:,.0f} images/s, "
        "measured in the same run. `make bench` -> `bench/runtime.py`.",
        "",
    ]
    md += markdown_table(
        [
            "format",
            "overlay layers",
            "bit-exact",
            "top-1 %",
            "cycles/image",
            f"images/s at {result['clock_mhz']:.0f} MHz",
            "vs ORT int8",
            "wall s/image (sim)",
        ],
        (
            [
                k,
                f"{r['layers_on_overlay']}/{r['layers']}",
                "yes" if r["bit_exact"] else "NO",
                f"{r['top1']:.1f}",
                f"{r['cycles_per_image']:,.0f}",
                f"{r['images_per_s_at_250MHz']:,.0f}",
                f"{r['ratio_to_onnxruntime_int8']:.2f}x",
                f"{r['wall_s_per_image']:.3f}",
            ]
            for k, r in result["formats"].items()
        ),
    )
    md += ["", "## Host overhead and transport cost", ""]
    md += markdown_table(
        [
            "format",
            "pack ms/image",
            "unpack ms/image",
            "host layers ms/image",
            "sim cycles/s through driver",
            "raw testbench cycles/s",
            "driver / raw",
        ],
        (
            [
                k,
                f"{r['host_ms_per_image']['pack']:.3f}",
                f"{r['host_ms_per_image']['unpack']:.3f}",
                f"{r['host_ms_per_image']['host_layers']:.3f}",
                f"{r['sim_cycles_per_s_through_driver']:,.0f}",
                f"{r['sim_cycles_per_s_raw_testbench']:,.0f}",
                f"{r['transport_share_of_raw']:.2f}",
            ]
            for k, r in result["formats"].items()
        ),
    )
    return md


if __name__ == "__main__":
    main()
