"""``plutflow sweep``: run a design-space sweep on Dask, or rebuild its report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from plutflow.errors import PlutflowError

SWEEP_HELP = """sweep file (YAML):
  model: model.onnx                      # paths relative to this file
  calib: data.npz:calib_images           # calibration images (FILE.npz:KEY allowed)
  data: data.npz                         # evaluation images (+ labels in the .npz or labels:)
  preprocess: pre.json                   # optional
  num_calib: 256                         # calibration images per point
  limit: 2000                            # evaluation images
  run_images: 8                          # images run on the emulated overlay per point
  resources: false                       # yosys estimate per distinct overlay configuration
  grid:                                  # cartesian product
    scheme: [int8, "upot:4:8", "plut:4:4"]
    pe_type: [int8, shift, plut]
    array: [8, 16]
  points:                                # extra points
    - {scheme: "uniform:3:3", pe_type: plut, observer: percentile}
quantizer options: scheme depthwise rules all_layers auto_bits task_loss observer percentile
lowbit_observer rounding keep_8bit_activations activation_budget fragile_low_bits
equalize num_calib; overlay options: pe_type array adepth wdepth mdepth pdepth tslots int8_path
"""


def cmd_sweep(args: argparse.Namespace) -> int:
    from plutflow.sweep import SweepSpec, collect, run_sweep
    from plutflow.sweep.report import write_report

    if args.report:
        out = Path(args.report)
        try:
            man = json.loads((out / "sweep.json").read_text())
            points = man["points"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PlutflowError(
                f"{out} holds no sweep (sweep.json missing or damaged: {type(exc).__name__})"
            ) from None
        if not isinstance(points, list):
            raise PlutflowError(f"{out}/sweep.json is damaged")
        run = collect(out, man)
        run.executor = "the cache"
    else:
        if not args.sweep:
            raise PlutflowError("give a sweep file (SWEEP.yaml) or --report DIR")
        spec = SweepSpec.from_file(args.sweep)
        out = Path(args.output or Path(args.sweep).with_suffix(""))
        run = run_sweep(
            spec,
            out,
            scheduler="serial" if args.serial else args.scheduler,
            workers=args.workers,
            retry_failed=args.retry_failed,
            log=(lambda s: None) if args.quiet else print,
        )
    md = write_report(run, out, title=f"plutflow sweep: {out.name}")
    print(
        f"sweep: {len(run.rows)} points ({run.failed} failed or missing); report {md}, "
        f"{out / 'sweep.html'}, {out / 'pareto.png'}"
    )
    return 0


def add_sweep_command(sub: argparse._SubParsersAction) -> None:
    from plutflow.cli.options import count_int

    p = sub.add_parser(
        "sweep",
        help="run a design-space sweep (quantizer x overlay options) on Dask",
        description="Quantize, evaluate, compile and model every point of a grid of "
        "quantizer and overlay options on a Dask cluster (a LocalCluster of this machine "
        "by default), cached by content hash so a re-run skips finished points, and "
        "write a report with Pareto plots.",
        epilog=SWEEP_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sweep", nargs="?", help="sweep file (YAML)")
    p.add_argument(
        "-o", "--output", help="results directory (default: the sweep file's name without .yaml)"
    )
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run on this Dask scheduler instead of a local cluster",
    )
    p.add_argument(
        "--workers", type=count_int, help="local cluster worker processes (default: one per CPU)"
    )
    p.add_argument(
        "--serial",
        action="store_true",
        help="run the points one after another in this process (no Dask)",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="run again the points whose cached result is a failure",
    )
    p.add_argument(
        "--report", metavar="DIR", help="only rebuild the report of the sweep in DIR from its cache"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no per-point lines")
    p.set_defaults(func=cmd_sweep)
