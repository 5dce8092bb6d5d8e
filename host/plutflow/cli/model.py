"""CLI commands on models: demo, quantize, eval, inspect."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from plutflow import __version__
from plutflow.api import equalized, quantize_model
from plutflow.assets import DemoAssets
from plutflow.calib.calibrate import collect_stats
from plutflow.calib.drift import drift_warning
from plutflow.cli.options import (
    PREPROCESS_HELP,
    add_engine_option,
    add_input_shape_option,
    add_quant_options,
    count_int,
    kib,
    positive_int,
    quant_options,
)
from plutflow.cli.runtime import demo_on_overlay
from plutflow.data import (
    import_for_quantize,
    inferred_note,
    input_shapes,
    load_data,
    preprocess_for,
)
from plutflow.evaluation import agreement, predict_float, timed_predict_golden, top1
from plutflow.fast.engine import resolve
from plutflow.formats.layers import pack_model
from plutflow.intmodel.model import IntModel
from plutflow.ir.equalize import FUSION as EQUALISATION
from plutflow.ir.importer import import_onnx
from plutflow.notes import note
from plutflow.outputs import refuse_overwrite, write_atomic
from plutflow.report.layers import layer_table
from plutflow.report.memory import memory_report, packed_param_bytes


def _quantize(args: argparse.Namespace, graph, calib, labels, preprocess, source=None):
    """Calibrate once, then quantize with the QUANT OPTIONS (through the library API)."""
    if args.equalize:
        graph = equalized(graph)
        pairs = [f for f in graph.fusions if f.startswith(EQUALISATION)]
        note(f"cross-layer equalisation: {len(pairs)} layer pair(s)")
    stats = collect_stats(graph, calib, progress=not args.quiet)
    config = quant_options(args).config(graph, calib, labels, stats)
    fragile = config.meta.get("fragile_8bit_activations")
    if fragile:
        note(f"{len(fragile)} activation(s) fragile at low bits kept at 8 bits "
             "(--fragile-low-bits to lower them too): "
             + ", ".join(f"{f['tensor']} ({f['kind']})" for f in fragile))  # fmt: skip
    kept = config.meta.get("kept_8bit_activations")
    budget = config.meta.get("activation_budget")
    if kept is not None and (kept or budget):
        note(f"{len(kept)} low-bit activation(s) read at 8 bits, the costliest "
             + ("per byte " if budget else "") + "alone (relative output error): "
             + (", ".join(f"{k['tensor']} ({k['error']:.4f})" for k in kept) or "none")
             + (f"; activations {budget['bytes']:,} bytes per image, budget "
                f"{budget['budget']:,}" if budget else ""))  # fmt: skip
    return quantize_model(graph, calib, config, preprocess, not args.quiet, source, stats)


def cmd_demo(args: argparse.Namespace) -> int:
    assets = DemoAssets()
    print(f"plutflow {__version__} demo: {assets.model.name} on bundled Fashion-MNIST images")
    graph = import_onnx(assets.model)
    x, y = assets.test_set()
    if args.images:
        x, y = x[: args.images], y[: args.images]
    calib = assets.calib_set()
    model = _quantize(args, graph, calib, assets.calib_labels(), assets.preprocess())
    logits = predict_float(graph, x)
    float_acc = top1(logits, y)
    codes, rate = timed_predict_golden(model, x)
    int_acc = top1(codes, y)
    agree = agreement(logits, codes)
    mem = memory_report(graph, model)
    print(
        f"\nimages: {len(x)} test, {len(calib)} calibration (unlabelled); schemes: "
        + ", ".join(sorted(set(model.meta["quantizer"]["layers"].values())))
    )
    print(f"float32 top-1:        {float_acc:6.2f} %")
    print(
        f"integer (golden) top-1: {int_acc:6.2f} %   ({int_acc - float_acc:+.2f} points; "
        f"{agree:.2f} % same class as float)"
    )
    print(f"integer throughput:   {rate:8.0f} images/s ({resolve()} engine, "
          "same integers as golden)")  # fmt: skip
    print(
        f"parameters:           {kib(mem.float_param_bytes)} float32 -> "
        f"{kib(mem.int_param_bytes)} integer ({mem.param_saving * 100:.1f} % less)"
    )
    print(
        f"peak activations:     {kib(mem.float_peak_activation_bytes)} float32 -> "
        f"{kib(mem.int_peak_activation_bytes)} integer per image "
        f"({mem.activation_saving * 100:.1f} % less)"
    )
    print("\n" + layer_table(model))
    if args.output:
        refuse_overwrite(args.output, args.config)
        model.save(args.output)
        print(f"\nwrote {args.output}")
    if args.sim_images:
        return demo_on_overlay(model, x[: args.sim_images], y[: args.sim_images], args.quiet)
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    refuse_overwrite(args.output, args.model, args.calib, args.preprocess, args.config)
    # fail on an unsupported model before reading data
    graph, pre = import_for_quantize(args.model, args.input_shape, args.preprocess)
    note(inferred_note(pre))
    hints = graph.quant_hints
    if hints:
        note(f"{args.model} is pre-quantized ({hints.kind}): {len(hints.activations)} "
             f"activations and {len(hints.weights)} layers keep its scales and widths; "
             "only the other tensors are calibrated")  # fmt: skip
    calib, labels = load_data(args.calib, pre, args.num_calib, args.calib_labels)
    model = _quantize(args, graph, calib, labels, pre, source=args.model)
    model.save(args.output)
    size = packed_param_bytes(model)
    budget = f"; budget {args.auto_bits:,} bytes" if args.auto_bits else ""
    print(
        f"quantized {args.model} with {len(calib)} calibration images -> {args.output} "
        f"({len(model.layers)} integer layers, {kib(size)} of packed parameters: "
        f"{size:,} bytes{budget})"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    path = Path(args.model)
    if path.suffix == ".onnx":
        graph, pre = import_for_quantize(path, args.input_shape, args.preprocess)
        note(inferred_note(pre))
        x, y = load_data(args.data, pre, args.limit, args.labels)
        scores = predict_float(graph, x, args.batch_size)
        kind = "float32"
    else:
        model = IntModel.load(path)
        pre = preprocess_for(model, args.preprocess)
        if not args.preprocess:
            note(inferred_note(pre))
        x, y = load_data(args.data, pre, args.limit, args.labels)
        note(drift_warning(model.meta.get("calibration_input"), x))
        scores, rate = timed_predict_golden(model, x, args.batch_size, args.engine)
        print(f"integer model ({resolve(args.engine)} engine): {rate:.0f} images/s")
        kind = "integer (golden)"
    result = {"model": str(path), "kind": kind, "images": len(x)}
    if y is not None:
        result["top1"] = top1(scores, y)
        print(f"{kind} top-1 on {len(x)} images: {result['top1']:.2f} %")
    else:
        pred = scores.reshape(len(scores), -1).argmax(1) if scores.ndim == 2 else None
        if pred is None:  # dense outputs: classes per position
            print(f"{len(x)} images, no labels; output shape {scores.shape[1:]}")
        else:
            counts = np.bincount(pred, minlength=scores.shape[1])
            result["predictions"] = pred.tolist()
            print(f"{len(x)} images, no labels; predicted classes (first 10): "
                  f"{pred[:10].tolist()}; images per class: {counts.tolist()}")  # fmt: skip
    if args.reference:
        shapes = input_shapes(args.input_shape, pre)
        ref = predict_float(import_onnx(args.reference, input_shapes=shapes), x, args.batch_size)
        agree = agreement(ref, scores)
        result["agreement_with_reference"] = agree
        print(f"same top-1 class as {args.reference}: {agree:.2f} %")
        if y is not None:
            result["reference_top1"] = top1(ref, y)
            print(f"reference float32 top-1: {result['reference_top1']:.2f} %")
    if args.json:
        write_atomic(args.json, (json.dumps(result, indent=2) + "\n").encode())
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    path = Path(args.model)
    if path.suffix == ".onnx":
        print(import_onnx(path, input_shapes=input_shapes(args.input_shape)).summary())
        return 0
    model = IntModel.load(path)
    q = model.meta.get("quantizer", {})
    schemes = sorted(set(q.get("layers", {}).values()))
    print(f"integer model '{model.name}': {len(model.layers)} layers, schemes "
          f"{', '.join(schemes) or 'int8'}")  # fmt: skip
    for d in q.get("decisions", []):
        print(f"decision: layer {d['layer']} {d['decision']}")
    for name in model.inputs:
        s = model.tensors[name]
        print(f"input  {name}: {s.dtype} {s.shape} scale {s.scale:.6g} zero point {s.zero_point}")
    for name in model.outputs:
        s = model.tensors[name]
        print(f"output {name}: {s.dtype} {s.shape} scale {s.scale:.6g} zero point {s.zero_point}")
    packed = pack_model(model)
    print(
        f"packed streams: weights {sum(p.weight_bytes for p in packed)} B, product tables "
        f"{sum(p.table_bytes for p in packed)} B, requant records "
        f"{sum(int(p.requant.nbytes) for p in packed)} B; all parameters "
        f"{kib(packed_param_bytes(model))}\n"
    )
    print(layer_table(model, markdown=args.markdown))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from plutflow.export import export_integer_onnx

    refuse_overwrite(args.output, args.model)
    model = IntModel.load(args.model)
    proto = export_integer_onnx(model, every_tensor=args.every_tensor)
    write_atomic(args.output, proto.SerializeToString())
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"exported {args.model} -> {args.output}: {len(proto.graph.node)} ONNX nodes "
          f"({', '.join(ops)}), integer codes in and out, equal to golden")  # fmt: skip
    return 0


def add_model_commands(sub: argparse._SubParsersAction) -> None:
    """The parsers of demo, quantize, eval, inspect and export."""
    p = sub.add_parser(
        "demo",
        help="quantize and run the bundled Fashion-MNIST model",
        description="Quantize the bundled Fashion-MNIST CNN (INT8 with unified scale "
        "factors by default, or any --scheme), then report float vs integer accuracy, "
        "memory and a per-layer table.",
    )
    p.add_argument(
        "--images", type=positive_int, default=None, help="test images to use (default: all 2000)"
    )
    add_quant_options(p)
    p.add_argument("-o", "--output", help="also save the integer model here (.pfq)")
    p.add_argument(
        "--sim-images",
        type=count_int,
        default=32,
        help="images to run on the simulated KV260 overlay, checked bit-exact against "
        "golden (default 32; 0 skips the simulation)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "quantize",
        help="calibrate and quantize an ONNX model to a .pfq file",
        description="Import MODEL, calibrate on unlabelled images and write the "
        "pure-integer model (a .pfq file: zip of JSON + .npy, no pickle).",
    )
    p.add_argument("model", help="float ONNX model")
    p.add_argument(
        "--calib",
        required=True,
        help="calibration images: a folder of PNG/JPEG, an .npy, an .npz "
        "(FILE.npz:KEY picks an array) or an idx file",
    )
    p.add_argument("--preprocess", help=PREPROCESS_HELP)
    add_input_shape_option(p)
    p.add_argument(
        "--num-calib", type=positive_int, default=512, help="images to calibrate on (default 512)"
    )
    p.add_argument(
        "--calib-labels",
        help="labels of the calibration images (idx or .npy), "
        "for --task-loss, if not inside the --calib .npz",
    )
    add_quant_options(p)
    p.add_argument("-o", "--output", required=True, help="output integer model (.pfq)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser(
        "eval",
        help="top-1 accuracy of an ONNX (float) or .pfq (golden) model",
        description="Run MODEL on DATA: float reference for .onnx, the golden "
        "integer executor for .pfq. Labels come from the .npz ('labels') or "
        "--labels.",
    )
    p.add_argument("model", help=".onnx or .pfq")
    p.add_argument("--data", required=True, help="images (folder, .npy, .npz, idx)")
    p.add_argument("--labels", help="labels file (idx or .npy) if not inside --data")
    p.add_argument("--preprocess", help=PREPROCESS_HELP)
    add_input_shape_option(p)
    p.add_argument("--limit", type=positive_int, help="use only the first LIMIT images")
    p.add_argument("--batch-size", type=positive_int, default=256,
                   help="images per batch (default 256)")  # fmt: skip
    add_engine_option(p)
    p.add_argument("--reference", help="float ONNX model to compare predictions with")
    p.add_argument("--json", help="also write the results as JSON here")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "inspect",
        help="show the IR of an .onnx or the layers of a .pfq",
        description="Print the imported, fused IR of an ONNX model, or the "
        "layers, quantization and requantization of an integer model.",
    )
    p.add_argument("model", help=".onnx or .pfq")
    p.add_argument("--markdown", action="store_true", help="layer table as markdown")
    add_input_shape_option(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser(
        "export",
        help="write a .pfq model as a standard ONNX graph of integer ops",
        description="Write MODEL as an ONNX graph of integer ops (ConvInteger and "
        "MatMulInteger on uint8 x uint8, int64 requantization, Gather tables) that "
        "onnxruntime runs bit-exactly with the golden executor on any CPU: integer codes "
        "in, integer codes out (docs/export.md).",
    )
    p.add_argument("model", help="integer model (.pfq)")
    p.add_argument("-o", "--output", required=True, help="ONNX file to write (.onnx)")
    p.add_argument("--every-tensor", action="store_true",
                   help="also make every layer's output a graph output")  # fmt: skip
    p.set_defaults(func=cmd_export)
