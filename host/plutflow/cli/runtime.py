"""CLI commands on artifacts: compile, run, compare, report, selftest, deploy."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from plutflow.api import compile as compile_model
from plutflow.cli.options import (
    OVERLAY_HELP,
    add_data_options,
    backend_options,
    data_for_model,
    positive_int,
)
from plutflow.evaluation import top1
from plutflow.intmodel.model import IntModel
from plutflow.outputs import refuse_overwrite, write_atomic
from plutflow.overlay.config import PE_TYPES, OverlayConfig
from plutflow.overlay.cycles import program_estimate
from plutflow.report.markdown import markdown_table
from plutflow.runtime import BACKENDS, Accelerator, Artifact
from plutflow.runtime.accelerator import CLOCK_MHZ
from plutflow.runtime.evaluate import Evaluation, evaluate, first_mismatch


def placement_table(art: Artifact) -> str:
    rows = []
    for r in art.placement:
        where = r["target"] if not r["reason"] else f"host: {r['reason']}"
        tiles = "x".join(str(v) for v in r["tiles"]) if r.get("tiles") else "-"
        rows.append([r["layer"], r["op"], r.get("kind", "-"), r.get("format") or "-", tiles,
                     f"{r['macs']:,}", where])  # fmt: skip
    head = ["layer", "op", "overlay kind", "weights", "tile (g, c, rows, cols)", "MACs",
            "runs on"]  # fmt: skip
    return "\n".join(markdown_table(head, rows))


BACKEND_HELP = (
    "where the overlay runs: sim (the Verilated RTL, default), emu (the Python emulator), "
    "golden (the integer reference, no overlay), pynq (a board), pynq-sim (the PYNQ "
    "driver path over the simulator)"
)


def cmd_compile(args: argparse.Namespace) -> int:
    refuse_overwrite(args.output, args.model)
    model = IntModel.load(args.model)
    art = compile_model(model, args.overlay, args.array)
    art.save(args.output)
    n = art.overlay_layers()
    prog = art.compiled.program(1)
    print(
        f"compiled {args.model} for a {art.overlay.describe()}: {n} of "
        f"{len(art.placement)} layers on the overlay, {len(prog.descriptors)} descriptors "
        f"per image, {len(art.compiled.params):,} bytes of parameters -> {args.output}\n"
    )
    print(placement_table(art))
    return 0


def dominant(overlay_s: float, host_s: float) -> str:
    """Which side bounds the modelled throughput, and by how much."""
    total = overlay_s + host_s
    if not total:
        return "no time"
    if host_s > overlay_s:
        return f"the host layers take {100 * host_s / total:.0f} % of the time"
    return f"the overlay takes {100 * overlay_s / total:.0f} % of the time"


def summary_lines(ev: Evaluation, labels: np.ndarray | None, overlay: OverlayConfig) -> list[str]:
    lines = [f"backend {ev.backend}: {ev.images} images in {ev.wall_s:.1f} s"]
    if labels is not None:
        lines.append(f"top-1 on these {ev.images} images: {top1(ev.logits, labels):.2f} %")
    cyc = ev.cycles_per_image
    if cyc:
        n = max(ev.images, 1)
        host = ev.host_seconds_per_image()
        st = ev.stats
        lines += [
            f"overlay cycles per image: {cyc:,.0f} -> {1e3 * cyc / (CLOCK_MHZ * 1e6):.3f} ms at "
            f"{CLOCK_MHZ:.0f} MHz ({ev.modelled_images_per_s():,.0f} images/s modelled, host "
            f"layers included: {dominant(cyc / (CLOCK_MHZ * 1e6), host)}); memory traffic "
            f"{st.read_bytes / n / 1e6:.2f} MB read, {st.write_bytes / n / 1e6:.2f} MB written "
            "per image",
            f"host per image: layers {1e3 * host:.2f} ms ({len(ev.host_layers)} layers), pack "
            f"{1e3 * ev.pack_s / n:.2f} ms, unpack {1e3 * ev.unpack_s / n:.2f} ms; simulation "
            "wall time is not device time",
        ]
    return lines


def cmd_run(args: argparse.Namespace) -> int:
    art = Artifact.load(args.artifact)
    x, y = data_for_model(args, art.model)
    with Accelerator(art, args.backend, **backend_options(args, args.backend)) as acc:
        ev = evaluate(acc, x, args.batch_size, progress=not args.quiet)
    print("\n".join(summary_lines(ev, y, art.overlay)))
    if args.json:
        out = {
            "backend": ev.backend,
            "images": ev.images,
            "cycles_per_image": ev.cycles_per_image,
            "top1": top1(ev.logits, y) if y is not None else None,
            "predictions": ev.logits.argmax(1).tolist(),
        }
        write_atomic(args.json, (json.dumps(out, indent=1) + "\n").encode())
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    art = Artifact.load(args.artifact)
    x, _ = data_for_model(args, art.model)
    a, b = args.backends
    with (
        Accelerator(art, a, **backend_options(args, a)) as ref,
        Accelerator(art, b, **backend_options(args, b)) as other,
    ):
        bad = first_mismatch(ref, other, x, args.batch_size)
    if bad is not None:
        print(f"{a} vs {b}: {bad}")
        return 1
    print(
        f"{a} vs {b}: bit-exact on {len(x)} images, every tensor of {len(art.model.layers)} layers"
    )
    return 0


def resources_file(given: str | None) -> Path:
    """``given``, else the source tree's bench/results/timing.json (absolute, so a report
    made outside the repository finds it)."""
    if given:
        return Path(given)
    from plutflow.errors import PlutflowError
    from plutflow.overlay.simbuild import repo_root

    try:
        return repo_root() / "bench" / "results" / "timing.json"
    except PlutflowError:
        return Path("bench/results/timing.json")


def compiled_resources(path: Path, overlay: OverlayConfig) -> tuple[list[dict], str]:
    """The resource estimate of exactly ``overlay`` from a timing/resources JSON (rows
    with ``params`` and ``resources``), or why there is none."""
    if not path.is_file():
        return [], f"{path} not found (make -C overlay_src timing-board writes it)"
    try:
        rows = json.loads(path.read_text())
        want = overlay.rtl_parameters()
        match = [r for r in rows if isinstance(r, dict) and r.get("params") == want
                 and "resources" in r]  # fmt: skip
    except (OSError, ValueError, AttributeError) as exc:
        return [], f"{path} is not a resource estimate ({type(exc).__name__})"
    if not match:
        return [], (f"{path} has no estimate for this configuration ({overlay.describe()}); "
                    "a sweep with resources: true or make -C overlay_src timing-board makes "
                    "one")  # fmt: skip
    return [{"config": match[0]["config"], **match[0]["resources"]}], ""


def cmd_report(args: argparse.Namespace) -> int:
    from plutflow.evaluation import predict_fake_quant, predict_float
    from plutflow.ir.importer import import_onnx
    from plutflow.report.layers import layer_rows
    from plutflow.report.memory import packed_param_bytes
    from plutflow.report.run_report import ReportData, write_report

    art = Artifact.load(args.artifact)
    model = art.model
    x, y = data_for_model(args, model)
    accuracy: dict[str, float] = {}
    memory = {
        "integer parameters (packed)": packed_param_bytes(model),
        "overlay parameter region": len(art.compiled.params),
    }
    notes: list[str] = []
    reference = args.reference or model.meta.get("source_path") or model.meta.get("source")
    if not reference or not Path(reference).exists() or y is None:
        why = ("no labels in the data" if y is None else
               f"the float model {reference} is not found (give --reference)" if reference
               else "the model does not name its float source (give --reference)")  # fmt: skip
        notes.append(f"No float and fake-quant accuracy: {why}.")
    if reference and Path(reference).exists() and y is not None:
        graph = import_onnx(reference)
        accuracy["float"] = top1(predict_float(graph, x), y)
        accuracy["fake-quant (activations)"] = top1(predict_fake_quant(graph, model, x), y)
        memory = {
            "float32 parameters": 4 * sum(int(np.prod(c.shape)) for c in graph.constants.values()),
            **memory,
        }
    with Accelerator(art, "golden") as gold:
        gev = evaluate(gold, x, args.batch_size, progress=not args.quiet)
    ev, exact = None, None
    if args.backend != "golden":
        with Accelerator(art, args.backend, **backend_options(args, args.backend)) as acc:
            ev = evaluate(acc, x, args.batch_size, progress=not args.quiet)
        exact = bool(np.array_equal(ev.codes, gev.codes))
    if y is not None:
        accuracy["golden (integer)"] = top1(gev.logits, y)
        if ev is not None:
            accuracy[args.backend] = top1(ev.logits, y)
    resources, why = compiled_resources(resources_file(args.resources), art.overlay)
    if why:
        notes.append(f"No resource estimate: {why}.")
    batch = max(1, min(args.batch_size, len(x)))
    est = program_estimate(art.compiled.program(batch), art.overlay)
    data = ReportData(
        f"plutflow report: {Path(args.artifact).name}, {time.strftime('%Y-%m-%d %H:%M')}",
        art.overlay.to_json(),
        accuracy,
        memory,
        ev,
        resources,
        exact,
        art.placement,
        {k: v / batch for k, v in est.per_layer.items()},
        est.cycles / batch,
        notes=notes,
        schemes={r["layer"]: (r["scheme"], r["sqnr_db"]) for r in layer_rows(model)},
    )
    path = write_report(data, args.out, "html" if args.html else "md")
    print(f"wrote {path}")
    if exact is False:
        print(f"{args.backend} is NOT bit-exact with golden")
        return 1
    return 0


def demo_on_overlay(model: IntModel, x: np.ndarray, y: np.ndarray, quiet: bool) -> int:
    """The demo's last step: the board overlay, simulated, on a few images."""
    art = Artifact.compile(model, OverlayConfig.named("board"))
    n = art.overlay_layers()
    print(
        f"\nsimulated KV260 overlay: {art.overlay.describe()}; {n} of {len(art.placement)} "
        f"layers on the overlay"
    )
    with Accelerator(art, "golden") as gold:
        gev = evaluate(gold, x, 32, progress=False)
    with Accelerator(art, "sim", max_batch=32, progress=not quiet) as acc:
        ev = evaluate(acc, x, 32, progress=not quiet)
    exact = bool(np.array_equal(ev.codes, gev.codes))
    lines = summary_lines(ev, y, art.overlay)
    if y is not None:
        lines[1] += f" (golden on the same images: {top1(gev.logits, y):.2f} %)"
    print("\n".join(lines))
    print(f"bit-exact with golden on {len(x)} images: {'yes' if exact else 'NO'}")
    return 0 if exact else 1


def cmd_selftest(args: argparse.Namespace) -> int:
    from plutflow.board.selftest import selftest

    art = Artifact.load(args.artifact) if args.artifact else None
    opts = backend_options(args, args.backend)
    report = selftest(args.backend, art, args.images, **opts)
    print("\n".join(report.lines()))
    return 0 if report.passed else 1


def cmd_deploy(args: argparse.Namespace) -> int:
    from plutflow.board.deploy import SshTarget, deploy

    target = SshTarget(args.board, args.port, args.identity, args.known_hosts, args.timeout)
    code = deploy(
        target,
        Path(args.artifact),
        args.remote_dir,
        Path(args.bitfile) if args.bitfile else None,
        args.backend,
        args.remote_python,
        args.images,
    )
    print("deployment " + ("succeeded" if code == 0 else f"FAILED (self-test exit {code})"))
    return code


def add_runtime_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compile",
        help="compile a .pfq for an overlay into an artifact (.pfa)",
        description="Place every layer (overlay or host, with the reason), choose its "
        "tiles, pack the overlay's parameters and write a versioned, checksummed artifact.",
    )
    p.add_argument("model", help="integer model (.pfq)")
    p.add_argument("-o", "--output", required=True, help="artifact to write (.pfa)")
    p.add_argument("--overlay", default="board", choices=["board", *PE_TYPES], help=OVERLAY_HELP)
    p.add_argument("--array", type=int, choices=[4, 8, 16, 32],
                   help="array size P: P x P MACs per cycle, P bytes per memory beat "
                   "(default: the configuration's, 16)")  # fmt: skip
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser(
        "run",
        help="run an artifact on golden, sim or pynq",
        description="Run the artifact on DATA and report accuracy, cycles, "
        "modelled latency and per-layer cost.",
    )
    p.add_argument("artifact", help=".pfa artifact")
    p.add_argument("--backend", default="sim", choices=list(BACKENDS), help=BACKEND_HELP)
    add_data_options(p)
    p.add_argument("--json", help="also write results (and predictions) as JSON here")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "compare",
        help="run two backends and report the first mismatch",
        description="Run both backends on the same inputs and compare every "
        "layer's output; report the first mismatch (layer, channel, position, "
        "expected, actual). Exit code 1 on a mismatch.",
    )
    p.add_argument("artifact", help=".pfa artifact")
    p.add_argument(
        "--backends",
        nargs=2,
        default=["golden", "sim"],
        metavar=("REF", "OTHER"),
        choices=list(BACKENDS),
        help="the two backends to compare, the reference first (default: golden sim)",
    )
    add_data_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "report",
        help="markdown/HTML report with plots",
        description="Accuracy at each stage (float, fake-quant, golden, "
        "backend), memory, per-layer cycles and utilisation, resources.",
    )
    p.add_argument("artifact", help=".pfa artifact")
    p.add_argument("--backend", default="sim", choices=list(BACKENDS), help=BACKEND_HELP)
    p.add_argument("--reference", help="float ONNX model (default: the model's source)")
    p.add_argument(
        "--resources",
        help="resource estimate JSON to take this configuration's row from (default: "
        "bench/results/timing.json of the source tree)",
    )
    p.add_argument("--out", default="report", help="output directory")
    p.add_argument("--html", action="store_true", help="HTML instead of markdown")
    add_data_options(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "selftest",
        help="check a target bit-exact against golden",
        description="Run the artifact's own sample inputs (calibration images the model "
        "carries; the bundled model by default) on the backend and compare every output "
        "code with the golden outputs stored at compile time and with golden on this "
        "host. Exit code 0 when everything matches.",
    )
    p.add_argument("--artifact", help=".pfa (default: the bundled model for the board overlay)")
    p.add_argument("--backend", default="pynq", choices=list(BACKENDS),
                   help="backend to test (default pynq: the board's overlay)")  # fmt: skip
    p.add_argument("--bitfile", help="pynq backend: the overlay bitstream")
    p.add_argument("--images", type=positive_int, default=16,
                   help="images to run and compare with golden (default 16)")  # fmt: skip
    p.set_defaults(func=cmd_selftest)

    p = sub.add_parser(
        "deploy",
        help="copy an artifact to a board over SSH and self-test it",
        description="Copy the artifact (and --bitfile with its .hwh) to the "
        "board with scp (strict host-key checking), verify SHA-256 checksums "
        "there, run 'plutflow selftest' on the board and print its report.",
    )
    p.add_argument("artifact", help=".pfa artifact")
    p.add_argument("--board", required=True, metavar="USER@HOST",
                   help="the board's ssh login, e.g. ubuntu@kria")  # fmt: skip
    p.add_argument("--port", type=int, default=22, help="ssh port (default 22)")
    p.add_argument("--identity", help="SSH private key")
    p.add_argument("--known-hosts", help="known_hosts file (default: ~/.ssh/known_hosts)")
    p.add_argument("--bitfile", help="overlay .bit to copy (its .hwh goes along)")
    p.add_argument("--remote-dir", default="plutflow", help="directory on the board")
    p.add_argument(
        "--remote-python",
        default="/usr/local/share/pynq-venv/bin/python",
        help="python with plutflow on the board (default: Kria-PYNQ's venv)",
    )
    p.add_argument(
        "--backend",
        default="pynq",
        choices=list(BACKENDS),
        help="backend of the board-side self-test",
    )
    p.add_argument("--images", type=positive_int, default=16,
                   help="images the board-side self-test runs (default 16)")  # fmt: skip
    p.add_argument("--timeout", type=positive_int, default=600, metavar="SECONDS",
                   help="limit of each ssh step; a self-test past it is stopped on the "
                   "board (default 600)")  # fmt: skip
    p.set_defaults(func=cmd_deploy)
