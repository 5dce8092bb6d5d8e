"""What a sweep's workers run: pure functions of (inputs, options) returning plain
JSON-ready values, so Dask can ship them to any worker, retry them after a worker dies,
and the driver can cache them by content hash.

Each worker process loads the sweep's inputs once (:func:`loaded`) and reuses them for
every point it runs.
"""

from __future__ import annotations

import functools
import json
import time
import traceback
from typing import Any

import numpy as np

from plutflow.sweep.spec import QUANT_KEYS, SweepInputs


@functools.lru_cache(maxsize=2)
def loaded(inputs: SweepInputs):
    """(graph, preprocess, calib images, calib labels, eval images, eval labels)."""
    from plutflow.data import import_for_quantize, load_data

    graph, pre = import_for_quantize(inputs.model, None, inputs.preprocess)
    calib, calib_labels = load_data(inputs.calib, pre, None, inputs.calib_labels)
    x, y = load_data(inputs.data, pre, inputs.limit, inputs.labels)
    return graph, pre, calib, calib_labels, x, y


def float_reference(inputs: SweepInputs) -> dict[str, Any]:
    """The float model's classes on the evaluation images (and its top-1 with labels)."""
    from plutflow.evaluation import classes, predict_float, top1

    graph, _pre, _calib, _cl, x, y = loaded(inputs)
    logits = predict_float(graph, x)
    return {
        "classes": classes(logits).tolist(),
        "top1": None if y is None else top1(logits, y),
        "images": len(x),
    }


def overlay_config(options: dict[str, Any]):
    from plutflow.overlay.config import OverlayConfig

    over = {k: v for k, v in options.items() if k not in QUANT_KEYS}
    pe = over.pop("pe_type", "int8")
    if "array" in over:
        over["p"] = over.pop("array")
    return OverlayConfig.for_pe(pe, **over)


def run_point(inputs: SweepInputs, options: dict[str, Any]) -> dict:
    """Quantize, evaluate, compile and model one point; its predicted ``classes`` go back
    with it (the driver compares them with the float reference, so points need not wait
    for it). A failure of the point itself (an option the quantizer or compiler refuses,
    a model it cannot take) is recorded as ``{"status": "failed", "error": ...}``: the
    sweep goes on."""
    t0 = time.perf_counter()
    try:
        result = _run_point(inputs, options)
    except Exception as exc:  # recorded per point; the sweep goes on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}".strip(),
            "where": f"{where.filename.rsplit('/', 1)[-1]}:{where.lineno}",
            "seconds": time.perf_counter() - t0,
        }
    result["seconds"] = time.perf_counter() - t0
    return result


def agreement(result: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """``result`` with its ``classes`` replaced by the percent that agree with the float
    reference's."""
    out = {k: v for k, v in result.items() if k != "classes"}
    if result.get("status") == "ok":
        same = np.asarray(result["classes"]) == np.asarray(reference["classes"])
        out["agreement"] = float(same.mean() * 100.0)
    return out


def _run_point(inputs: SweepInputs, options: dict[str, Any]) -> dict:
    from plutflow.api import QuantOptions, quantize_model
    from plutflow.calib.calibrate import collect_stats
    from plutflow.evaluation import classes, predict_golden, top1
    from plutflow.overlay.cycles import KV260, program_estimate
    from plutflow.report.layers import layer_rows
    from plutflow.report.memory import packed_param_bytes
    from plutflow.runtime import Accelerator, Artifact
    from plutflow.runtime.evaluate import evaluate

    graph, pre, calib, calib_labels, x, y = loaded(inputs)
    quant = {k: v for k, v in options.items() if k in QUANT_KEYS}
    calib = calib[: quant.pop("num_calib", inputs.num_calib)]
    labels = None if calib_labels is None else calib_labels[: len(calib)]
    t = time.perf_counter()
    stats = collect_stats(graph, calib, progress=False)
    config = QuantOptions(**quant).config(graph, calib, labels, stats)
    model = quantize_model(graph, calib, config, pre, False, inputs.model, stats)
    quantize_s = time.perf_counter() - t
    codes = predict_golden(model, x)
    art = Artifact.compile(model, overlay_config(options))
    places = art.compiled.placement()
    on = {p["layer"] for p in places if p["target"] == "overlay"}
    macs = {r["layer"]: r["macs"] for r in layer_rows(model)}
    total_macs = sum(macs.values())
    cycles = program_estimate(art.compiled.program(1), art.overlay, KV260).cycles
    host_s = 0.0
    if inputs.run_images and len(on) < len(places):  # measure the host layers' time
        with Accelerator(art, "emu", max_batch=inputs.run_images) as acc:
            ev = evaluate(acc, x[: inputs.run_images], batch_size=inputs.run_images, progress=False)
        host_s = ev.host_seconds_per_image()
    schemes = sorted(set(model.meta["quantizer"]["layers"].values()))
    return {
        "status": "ok",
        "top1": None if y is None else top1(codes, y),
        "classes": classes(codes).tolist(),
        "param_bytes": int(packed_param_bytes(model)),
        "schemes": schemes,
        "layers": len(places),
        "layers_on_overlay": len(on),
        "mac_share_on_overlay": sum(macs[n] for n in on) / total_macs if total_macs else 0.0,
        "cycles_per_image": cycles,
        "host_seconds_per_image": host_s,
        "quantize_seconds": quantize_s,
        "overlay": art.overlay.to_json(),
    }


def overlay_resources(options: dict[str, Any]) -> dict[str, Any]:
    """Whole-accelerator resources of a point's overlay configuration from yosys
    ``synth_xilinx -family xcup`` (needs the source tree, like the sim backend)."""
    from plutflow.overlay.contract import CONTRACT, rtl_sources
    from plutflow.overlay.simbuild import tree_module

    cfg = overlay_config(options)
    timing = tree_module("overlay_src/timing.py", "plutflow_timing")
    tag = cfg.pe_type  # netlists shared with overlay_src/timing.py (cached by parameters)
    t = time.perf_counter()
    net = timing.synthesize("pf_accel", cfg.rtl_parameters(), tag, rtl_sources())
    nl = timing.Netlist(json.loads(net.read_text()), "pf_accel")
    res = timing.resources(nl)
    share = {k: round(res[k] / v, 4) for k, v in CONTRACT.device.items()}
    return {"resources": res, "k26_share": share, "seconds": time.perf_counter() - t}
