"""Option groups the CLI's commands share, and how they become library calls."""

from __future__ import annotations

import argparse

import numpy as np

from plutflow.api import LOWBIT_OBSERVERS, QuantOptions
from plutflow.calib.drift import drift_warning
from plutflow.calib.observers import OBSERVERS
from plutflow.data import inferred_note, load_data, preprocess_for
from plutflow.errors import PlutflowError
from plutflow.intmodel.model import IntModel
from plutflow.notes import note
from plutflow.overlay.config import PE_TYPES
from plutflow.quant.rounding import ROUNDINGS

PREPROCESS_HELP = (
    "preprocessing config (YAML or JSON) with keys size, channels, scale, mean, std, "
    "layout, data_layout, input_shape; default: layout, channels and size from the "
    "model's input, scale 1/255, no normalisation. A quantized model remembers the "
    "config it was calibrated with."
)


OVERLAY_HELP = (
    "overlay to compile for: board (the KV260 bitstream's configuration, default), or a "
    f"PE type ({', '.join(PE_TYPES)}) with its contract defaults, changed by --array"
)


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1 (counts of images, batch sizes)."""
    return _int_at_least(text, 1)


def count_int(text: str) -> int:
    """argparse type: an integer of at least 0 (0 turns a step off)."""
    return _int_at_least(text, 0)


def kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB"


def add_input_shape_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input-shape",
        action="append",
        metavar="NAME=1x3xHxW",
        help="fix a model input's shape (repeatable; NAME= may be left out for a model "
        "with one input), for models exported with a free height or width; the batch "
        "stays free",
    )


def add_quant_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--observer",
        choices=OBSERVERS,
        default="minmax",
        help="range observer of 8-bit activations (default minmax)",
    )
    p.add_argument(
        "--lowbit-observer",
        choices=LOWBIT_OBSERVERS,
        default="adaptive",
        help="range observer of activations below 8 bits (default adaptive: "
        "scale and zero point searched together for the tensor's own error; consumer: "
        "for the least output error of the layers reading it)",
    )
    p.add_argument("--percentile", type=float, default=99.99, help="for the percentile observer")
    p.add_argument(
        "--scheme",
        metavar="SCHEME[:WBITS[:ABITS]]",
        help="default layer scheme: int8, uniform, pot, upot or plut, e.g. "
        "upot:4:8 or plut:4:4 (default int8). ABITS is the width of the "
        "activations a layer reads",
    )
    p.add_argument(
        "--rule",
        action="append",
        metavar="PATTERN=SCHEME[:WBITS[:ABITS]]",
        help="per-layer override by glob pattern on the layer name; repeatable, "
        "the last match wins",
    )
    p.add_argument(
        "--config",
        metavar="YAML",
        help="scheme config: {default: upot:4:8, depthwise: int8, ends_at_8bit: true, "
        "layers: {PATTERN: SCHEME}}",
    )
    p.add_argument(
        "--depthwise",
        metavar="SCHEME[:WBITS[:ABITS]]",
        help="scheme of the depthwise convs (default: --scheme's), e.g. int8 beside 4-bit "
        "weights elsewhere: they hold few weights and lose the most at low bits",
    )
    p.add_argument(
        "--all-layers",
        action="store_true",
        help="apply the scheme to the first and last layers too (default: 8-bit)",
    )
    p.add_argument(
        "--task-loss",
        action="store_true",
        help="choose the scale and shift of activations below 8 bits by the cross-entropy "
        "of the integer model on the labelled calibration images",
    )
    p.add_argument(
        "--rounding",
        choices=ROUNDINGS,
        default="nearest",
        help="weight rounding below 8 bits: nearest (default) or reconstruct (each weight "
        "rounds up or down for the least layer-output error on the calibration images)",
    )
    p.add_argument(
        "--keep-8bit-activations",
        type=count_int,
        default=0,
        metavar="N",
        help="read the N low-bit activations that cost the most on their own (each rounded "
        "alone in the float model on the calibration images) at 8 bits: the layers reading "
        "them get 8-bit activations (P-LUT ones become UPoT at the same weight width)",
    )
    p.add_argument(
        "--activation-budget",
        type=positive_int,
        metavar="BYTES",
        help="activation bytes per image (every tensor at its width, packed): the low-bit "
        "activations that cost the most per byte on the calibration images are read at 8 "
        "bits while the total fits",
    )
    p.add_argument(
        "--equalize",
        action="store_true",
        help="cross-layer equalisation before calibration: per-channel scales moved between "
        "consecutive layers (through Relu or no activation) so their weight and activation "
        "ranges even out; the float model computes the same",
    )
    p.add_argument(
        "--fragile-low-bits",
        action="store_true",
        help="let activations known to be fragile below 8 bits (squeeze-excitation paths, "
        "HardSwish outputs read by depthwise convs, residual-add inputs) take the requested "
        "low width too; by default they stay at 8 bits and quantize lists them",
    )
    p.add_argument(
        "--auto-bits",
        type=positive_int,
        metavar="BYTES",
        help="choose per-layer weight bits (8/4/3/2, of --scheme's family, upot "
        "by default) from measured sensitivity, so the packed parameters fit BYTES: the "
        "size quantize reports (weights, requant records, product tables, other layers' "
        "parameters); layers named by --rule and the 8-bit ends count but keep their scheme",
    )


def quant_options(args: argparse.Namespace) -> QuantOptions:
    """The QUANT OPTIONS of ``demo`` and ``quantize`` as library options."""
    return QuantOptions(
        scheme=args.scheme, scheme_config=args.config, rules=list(args.rule or []),
        all_layers=args.all_layers, auto_bits=args.auto_bits, task_loss=args.task_loss,
        depthwise=args.depthwise,
        observer=args.observer, percentile=args.percentile,
        lowbit_observer=args.lowbit_observer, rounding=args.rounding,
        keep_8bit_activations=args.keep_8bit_activations,
        activation_budget=args.activation_budget, fragile_low_bits=args.fragile_low_bits,
        equalize=args.equalize,
    )  # fmt: skip


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="images (folder, .npy, .npz, idx)")
    p.add_argument("--labels", help="labels file (idx or .npy) if not inside --data")
    p.add_argument("--preprocess", help="preprocessing config (default: the model's own)")
    p.add_argument("--limit", type=positive_int, help="use only the first LIMIT images")
    p.add_argument("--batch-size", type=positive_int, default=32,
                   help="images per overlay run (default 32)")  # fmt: skip
    p.add_argument("--bitfile", help="pynq backend: the overlay bitstream (.bit with its .hwh)")
    add_engine_option(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


ENGINE_HELP = (
    "host integer engine: fast (native kernels, needs numba), golden (the numpy reference) "
    "or auto (fast when available); both give the same integers"
)


def add_engine_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", default="auto", choices=["auto", "fast", "golden"],
                   help=ENGINE_HELP)  # fmt: skip
    p.add_argument("--threads", type=count_int, default=None,
                   help="threads the fast engine splits a batch over (0: one per CPU; "
                   "default $PLUTFLOW_THREADS, else 1)")  # fmt: skip


def data_for_model(
    args: argparse.Namespace, model: IntModel
) -> tuple[np.ndarray, np.ndarray | None]:
    pre = preprocess_for(model, args.preprocess)
    if not args.preprocess:
        note(inferred_note(pre))
    x, y = load_data(args.data, pre, args.limit, args.labels)
    note(drift_warning(model.meta.get("calibration_input"), x))
    return x, y


def backend_options(args: argparse.Namespace, backend: str) -> dict:
    """Keyword arguments of :class:`Accelerator` beyond the artifact and backend."""
    opts = {"engine": getattr(args, "engine", "auto")}
    if backend == "pynq":
        if not getattr(args, "bitfile", None):
            raise PlutflowError("--backend pynq needs --bitfile (the overlay's .bit)")
        opts["bitfile"] = args.bitfile
    return opts
