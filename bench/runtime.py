"""End-to-end runtime benchmark (``make bench``): the demo network through the driver on
the simulated board-sized overlay in each weight format, bit-exact against golden; cycles,
modelled throughput at 250 MHz against onnxruntime int8 and float on this CPU (measured in
the same run, one thread), host overhead, and the driver's share of the simulator's speed.
Writes bench/results/runtime.{json,md}.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

THREADS = os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from foundation import ort_quantize, ort_session, throughput  # noqa: E402

from plutflow.api import quantize_model  # noqa: E402
from plutflow.assets import DemoAssets  # noqa: E402
from plutflow.golden.executor import GoldenExecutor  # noqa: E402
from plutflow.overlay.config import OverlayConfig  # noqa: E402
from plutflow.overlay.contract import CONTRACT  # noqa: E402
from plutflow.overlay.cycles import KV260, program_estimate  # noqa: E402
from plutflow.quant.builder import QuantConfig  # noqa: E402
from plutflow.quant.scheme import LayerScheme, SchemeConfig  # noqa: E402
from plutflow.report.markdown import markdown_table, write_results  # noqa: E402
from plutflow.runtime import Accelerator, Artifact  # noqa: E402
from plutflow.runtime.evaluate import evaluate  # noqa: E402

RESULTS = Path(__file__).parent / "results"
IMAGES = 32
FORMATS = {  # name: (scheme of the inner layers; 8-bit first and last layers, overlay)
    "int8": ("int8", "int8"),
    "shift (UPoT W4A8)": ("upot:4:8", "shift"),
    "P-LUT (W4A4, shared rows)": ("plut:4:4", "plut"),
    "P-LUT (W4A4, LUT RAM)": ("plut:4:4", "plut-lutram"),
}


def cpu_features() -> dict[str, bool]:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split()  # fmt: skip
    except (OSError, StopIteration):
        flags = []
    return {"avx2": "avx2" in flags, "avx512_vnni": "avx512_vnni" in flags}


def cpu_throughput(fn, x: np.ndarray) -> tuple[float, float]:
    """(images per wall second, images per CPU second) of ``fn``."""
    c0, w0 = time.process_time(), time.perf_counter()
    ips = throughput(fn, x)
    return ips, ips * (time.perf_counter() - w0) / max(time.process_time() - c0, 1e-9)


def main() -> None:
    assets = DemoAssets()
    x, y = assets.test_set()
    x, y = x[:IMAGES], y[:IMAGES]
    calib = assets.calib_set()
    tmp = Path(tempfile.mkdtemp())
    ort_int8 = ort_session(str(ort_quantize(assets.model, calib, tmp / "q.onnx", True)))
    ort_fp32 = ort_session(str(assets.model))
    ort_ips, ort_cpu = cpu_throughput(lambda xb: ort_int8.run(None, {"image": xb}),
                                      assets.test_set()[0])  # fmt: skip
    fp_ips, fp_cpu = cpu_throughput(lambda xb: ort_fp32.run(None, {"image": xb}),
                                    assets.test_set()[0])  # fmt: skip
    rows = {}
    for name, (scheme, pe) in FORMATS.items():
        cfg = None if scheme == "int8" else QuantConfig(
            schemes=SchemeConfig(default=LayerScheme.parse(scheme)))  # fmt: skip
        model = quantize_model(str(assets.model), calib, cfg, preprocess=assets.preprocess(),
                               progress=False)  # fmt: skip
        overlay = OverlayConfig.for_pe(pe)
        art = Artifact.compile(model, overlay)
        golden = GoldenExecutor(model).run(model.tensors[model.inputs[0]].quantize(x))
        with Accelerator(art, "sim", max_batch=IMAGES) as acc:
            acc.run(x[:1])  # the program for batch 1, the simulator warm
            c0, cyc0, raw0 = time.process_time(), acc.port.run_cycles, acc.port.run_cpu_seconds
            ev = evaluate(acc, x, batch_size=IMAGES, progress=False)
            cpu = time.process_time() - c0
            cycles = acc.port.run_cycles - cyc0
            raw_cpu = acc.port.run_cpu_seconds - raw0
        out = model.outputs[0]
        est = program_estimate(art.compiled.program(IMAGES), overlay, KV260)
        kv260_ips = IMAGES * CONTRACT.clock_mhz * 1e6 / est.cycles
        rows[name] = {
            "overlay": overlay.describe(),
            "images": IMAGES,
            "layers_on_overlay": sum(r["target"] == "overlay" for r in art.placement),
            "layers": len(art.placement),
            "bit_exact": bool(np.array_equal(ev.codes, golden[out])),
            "top1": float((ev.logits.argmax(1) == y).mean() * 100),
            "cycles_per_image_sim": ev.cycles_per_image,
            "images_per_s_sim_memory": ev.modelled_images_per_s(),
            "images_per_s_kv260_model": kv260_ips,
            "ratio_to_onnxruntime_int8": kv260_ips / ort_ips,
            "ratio_to_onnxruntime_float": kv260_ips / fp_ips,
            "host_ms_per_image": 1e3 * ev.host_seconds_per_image(),
            "pack_ms_per_image": 1e3 * ev.pack_s / IMAGES,
            "unpack_ms_per_image": 1e3 * ev.unpack_s / IMAGES,
            "sim_wall_s": ev.wall_s,
            "sim_cycles_per_cpu_s_raw": cycles / raw_cpu,
            "sim_cycles_per_cpu_s_driver": cycles / cpu,
            "driver_share_of_raw": raw_cpu / cpu,
        }
        print(name, rows[name], flush=True)
    result = {
        "onnxruntime_int8_images_per_s": ort_ips,
        "onnxruntime_int8_images_per_cpu_s": ort_cpu,
        "onnxruntime_float_images_per_s": fp_ips,
        "onnxruntime_float_images_per_cpu_s": fp_cpu,
        "threads": int(THREADS),
        "cpu": cpu_features(),
        "clock_mhz": CONTRACT.clock_mhz,
        "formats": rows,
    }
    write_results(RESULTS, "runtime", result, render(result))


def render(result: dict) -> list[str]:
    ort = result["onnxruntime_int8_images_per_s"]
    fp = result["onnxruntime_float_images_per_s"]
    cpu = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in result["cpu"].items())
    md = [
        "# End to end: the demo network through the driver on the simulated overlay",
        "",
        f"{IMAGES} bundled test images per format (8-bit first and last layers, the inner "
        "layers in the format); P = 16 (256 MACs/cycle), 128-bit memory port; every layer "
        "on the overlay. Images/s at "
        f"{result['clock_mhz']:.0f} MHz from the cycle model with the KV260 memory model. "
        f"onnxruntime on this CPU ({result['threads']} thread, batch 64, {cpu}), in the "
        f"same run: int8 (QDQ) {ort:,.0f} images/s "
        f"({result['onnxruntime_int8_images_per_cpu_s']:,.0f} per CPU second), "
        f"float {fp:,.0f} images/s "
        f"({result['onnxruntime_float_images_per_cpu_s']:,.0f} per CPU second).",
        "",
    ]
    md += markdown_table(
        ["format", "overlay layers", "bit-exact", "top-1 %", "cycles/image (sim)",
         "images/s (KV260 model)", "vs ORT int8", "vs ORT float", "sim wall s"],
        ([k, f"{r['layers_on_overlay']}/{r['layers']}", "yes" if r["bit_exact"] else "NO",
          f"{r['top1']:.1f}", f"{r['cycles_per_image_sim']:,.0f}",
          f"{r['images_per_s_kv260_model']:,.0f}", f"{r['ratio_to_onnxruntime_int8']:.2f}x",
          f"{r['ratio_to_onnxruntime_float']:.2f}x", f"{r['sim_wall_s']:.2f}"]
         for k, r in result["formats"].items()),
    )  # fmt: skip
    md += ["", "## Host overhead and simulation speed", ""]
    md += markdown_table(
        ["format", "pack ms/image", "unpack ms/image", "host layers ms/image",
         "sim cycles per CPU-s, raw (run loop)", "through the driver", "driver / raw"],
        ([k, f"{r['pack_ms_per_image']:.3f}", f"{r['unpack_ms_per_image']:.3f}",
          f"{r['host_ms_per_image']:.3f}", f"{r['sim_cycles_per_cpu_s_raw']:,.0f}",
          f"{r['sim_cycles_per_cpu_s_driver']:,.0f}", f"{r['driver_share_of_raw']:.2f}"]
         for k, r in result["formats"].items()),
    )  # fmt: skip
    return md


if __name__ == "__main__":
    main()
