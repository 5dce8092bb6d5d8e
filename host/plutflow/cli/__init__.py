"""The ``plutflow`` command line: one module per command group (:mod:`.model`: demo,
quantize, eval, inspect, export; :mod:`.runtime`: compile, run, compare, report, selftest,
deploy; :mod:`.sweep`: sweep; :mod:`.cache`: cache), shared option groups in
:mod:`.options`. Every command is a thin wrapper over the library API (:mod:`plutflow.api`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading

import numpy as np

from plutflow import __version__
from plutflow.cli.cache import add_cache_command
from plutflow.cli.model import add_model_commands
from plutflow.cli.runtime import add_runtime_commands
from plutflow.cli.sweep import add_sweep_command
from plutflow.errors import PlutflowError

EXAMPLES = """examples:
  plutflow demo
  plutflow quantize model.onnx --calib images/ --preprocess pre.yaml -o model.pfq
  plutflow eval model.pfq --data test.npz --reference model.onnx
  plutflow inspect model.pfq
  plutflow export model.pfq -o model.int.onnx
  plutflow compile model.pfq -o model.pfa
  plutflow run model.pfa --backend sim --data test.npz --limit 32
  plutflow compare model.pfa --backends golden sim --data test.npz --limit 8
  plutflow report model.pfa --data test.npz --limit 32 --out report/
  plutflow sweep bench/sweep_demo.yaml -o sweep/
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="plutflow",
        description="Quantize ONNX CNNs to pure-integer models and run them bit-exactly.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"plutflow {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    add_model_commands(sub)
    add_runtime_commands(sub)
    add_sweep_command(sub)
    add_cache_command(sub)
    return ap


def _terminate(signum, frame) -> None:
    """SIGTERM unwinds like Ctrl-C, so temporary files and simulator builds are cleaned."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "threads", None) is not None:  # read by every fast executor it makes
        os.environ["PLUTFLOW_THREADS"] = str(args.threads)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        with np.errstate(all="ignore"):  # ranges and scales are checked explicitly
            code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except PlutflowError as exc:
        print(f"plutflow: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `plutflow inspect m.pfq | head`: the reader has left
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("plutflow: interrupted", file=sys.stderr)
        return 130
