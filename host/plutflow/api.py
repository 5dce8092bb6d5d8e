"""The library API: quantize, compile and evaluate a model with one call each. The
``plutflow`` CLI, the notebooks and deployment scripts all go through these.

    import plutflow
    model = plutflow.quantize("model.onnx", calib, QuantOptions(scheme="upot:4:8"))
    art = plutflow.compile(model, overlay="board")
    result = plutflow.evaluate(art, images, labels, backend="sim")
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from plutflow.calib.calibrate import collect_stats
from plutflow.calib.drift import input_summary
from plutflow.calib.observers import OBSERVERS, TensorStats
from plutflow.calib.preprocess import Preprocess
from plutflow.errors import PlutflowError
from plutflow.intmodel.model import IntModel
from plutflow.ir.graph import Graph
from plutflow.ir.importer import import_onnx
from plutflow.quant.builder import QuantConfig, quantize
from plutflow.quant.rounding import input_hessians
from plutflow.quant.scheme import LayerScheme, SchemeConfig

#: Calibration images a quantized model carries as input codes, for self-tests.
SAMPLE_IMAGES = 8
#: Calibration images whose layer inputs drive rounding reconstruction.
ROUNDING_IMAGES = 256
#: Observers of activations below 8 bits: the range observers, and ``consumer``.
LOWBIT_OBSERVERS = (*OBSERVERS, "consumer")
#: Calibration images on which each low-bit activation's cost is measured.
SENSITIVITY_IMAGES = 128


@dataclass
class QuantOptions:
    """The quantizer's options as a user states them (the CLI's QUANT OPTIONS), turned
    into a :class:`QuantConfig` by :meth:`config` with all quantizer policy.

    Attributes:
        scheme: default layer scheme, ``SCHEME[:WBITS[:ABITS]]`` (None: int8).
        scheme_config: a YAML scheme config file (default scheme, rules, ends_at_8bit).
        rules: ``PATTERN=SCHEME[:W[:A]]`` per-layer overrides; the last match wins.
        all_layers: apply the scheme to the first and last Conv/Gemm too.
        depthwise: the scheme of depthwise convs (``SCHEME[:W[:A]]``; None: the
            default's), e.g. ``int8`` beside 4-bit weights elsewhere.
        auto_bits: packed weight budget in bytes; per-layer bits chosen by sensitivity.
        task_loss: low-bit activation ranges by cross-entropy (needs labels).
        observer, percentile, lowbit_observer: activation range observers; the low-bit
            one may also be ``consumer`` (``quant.consumer``: the range whose rounding
            gives the reading layers the least output error).
        rounding: ``nearest`` or ``reconstruct`` (weights below 8 bits).
        keep_8bit_activations: how many low-bit activations, the costliest alone on the
            calibration images (``quant.actsens``), are read at 8 bits instead.
        activation_budget: activation bytes per image (every tensor at its width); the
            low-bit activations that cost the most per byte on the calibration images
            are read at 8 bits while the total fits.
        equalize: cross-layer equalisation before calibration (``ir.equalize``: scales
            moved between consecutive layers, exact in float); ``quantize_model`` applies
            it to a copy of the graph and collects statistics on that.
        fragile_low_bits: let the tensors known to be fragile at low bits (squeeze-and-
            excitation paths, HardSwish outputs read by depthwise convs, residual-add
            inputs: ``quant.fragile``) go below 8 bits too; by default a low-bit request
            keeps them at 8 bits, and the model lists them.
    """

    scheme: str | None = None
    scheme_config: str | Path | None = None
    rules: list[str] = field(default_factory=list)
    all_layers: bool = False
    depthwise: str | None = None
    auto_bits: int | None = None
    task_loss: bool = False
    observer: str = "minmax"
    percentile: float = 99.99
    lowbit_observer: str = "adaptive"
    rounding: str = "nearest"
    keep_8bit_activations: int = 0
    activation_budget: int | None = None
    fragile_low_bits: bool = False
    equalize: bool = False

    def config(
        self,
        graph: Graph,
        calib: np.ndarray,
        labels: np.ndarray | None = None,
        stats: dict[str, TensorStats] | None = None,
    ) -> QuantConfig:
        """The quantizer configuration for ``graph`` (auto-bits and the task-loss search
        run here, on ``calib``)."""
        from plutflow.quant.tasktune import tune_ranges

        schemes = SchemeConfig.from_file(self.scheme_config) if self.scheme_config else (
            SchemeConfig())  # fmt: skip
        if self.scheme:
            schemes = replace(schemes, default=LayerScheme.parse(self.scheme))
        if self.depthwise:
            schemes = replace(schemes, depthwise=LayerScheme.parse(self.depthwise))
        if self.all_layers:
            schemes = replace(schemes, ends_at_8bit=False)
        schemes = schemes.with_rules(list(self.rules))
        told = tuple(pattern for pattern, _ in schemes.rules)  # layers the user set
        if self.keep_8bit_activations and self.activation_budget:
            raise PlutflowError(
                "--keep-8bit-activations and --activation-budget both choose which "
                "activations stay at 8 bits: give one"
            )
        if self.lowbit_observer not in LOWBIT_OBSERVERS:
            raise PlutflowError(f"unknown low-bit observer '{self.lowbit_observer}'; choose "
                                f"one of {', '.join(LOWBIT_OBSERVERS)}")  # fmt: skip
        needs_stats = (self.auto_bits or self.keep_8bit_activations or self.task_loss
                       or self.activation_budget or self.lowbit_observer == "consumer")  # fmt: skip
        if stats is None and needs_stats:
            stats = collect_stats(graph, calib, progress=False)
        if self.auto_bits:
            schemes = self._budget_schemes(graph, calib, stats, schemes)
        _check_rules(graph, [r.rsplit("=", 1)[0] for r in self.rules])
        by_consumer = self.lowbit_observer == "consumer"
        lowbit = "adaptive" if by_consumer else self.lowbit_observer
        config = QuantConfig(observer=self.observer, percentile=self.percentile,
                             lowbit_observer=lowbit, schemes=schemes,
                             rounding=self.rounding)  # fmt: skip
        if not self.fragile_low_bits:
            config = _protect_fragile(graph, config, told)
        if self.keep_8bit_activations:
            config = self._keep_activations(graph, calib, stats, config)
        if self.activation_budget:
            config = self._budget_activations(graph, calib, stats, config)
        if by_consumer:
            config = _consumer_ranges(graph, calib, stats, config)
        if self.task_loss:
            if labels is None:
                raise PlutflowError(
                    "--task-loss needs labelled calibration images (an .npz with labels, "
                    "or --calib-labels)"
                )
            config, _ = tune_ranges(graph, stats, config, calib, labels)
        return config

    def _budget_schemes(
        self, graph: Graph, calib: np.ndarray, stats: dict[str, TensorStats], schemes: SchemeConfig
    ) -> SchemeConfig:
        """Per-layer schemes whose packed parameters fit ``auto_bits``: the bytes that
        plutflow reports for the model, the other layers' parameters and constants
        included. Those do not depend on weight widths, so one build with 8-bit weights
        (at the chosen activation widths) measures them."""
        from plutflow.quant.autobits import auto_scheme_config
        from plutflow.report.memory import other_param_bytes

        # the family of the budget search: the scheme's, or UPoT below int8
        family = schemes.default.weights if schemes.default.weights != "int8" else "upot"
        search = dict(weights=family, abits=schemes.default.abits,
                      ends_at_8bit=schemes.ends_at_8bit, rules=schemes.rules,
                      depthwise=schemes.depthwise)  # fmt: skip
        chosen, sens = auto_scheme_config(graph, calib, self.auto_bits, **search)
        probe = SchemeConfig(LayerScheme(), tuple(
            (name, LayerScheme("int8", 8, s.abits)) for name, s in chosen.rules
        ), ends_at_8bit=False)  # fmt: skip
        other = other_param_bytes(quantize(graph, stats, QuantConfig(schemes=probe)))
        chosen, _ = auto_scheme_config(graph, calib, self.auto_bits, other_bytes=other,
                                       sens=sens, **search)  # fmt: skip
        return chosen

    def _keep_activations(
        self, graph: Graph, calib: np.ndarray, stats: dict[str, TensorStats], config: QuantConfig
    ) -> QuantConfig:
        """``config`` with the costliest low-bit activations read at 8 bits; the model's
        metadata lists them with what each cost alone."""
        from plutflow.quant.actsens import activation_sensitivity, keep_at_8_bits

        low = quantize(graph, stats, config)
        sens = activation_sensitivity(graph, low, calib[:SENSITIVITY_IMAGES])
        schemes, kept = keep_at_8_bits(graph, config.schemes, sens, self.keep_8bit_activations)
        meta = {**config.meta, "kept_8bit_activations": [
            {"tensor": k.tensor, "error": round(k.error, 6)} for k in kept]}  # fmt: skip
        return replace(config, schemes=schemes, meta=meta)

    def _budget_activations(
        self, graph: Graph, calib: np.ndarray, stats: dict[str, TensorStats], config: QuantConfig
    ) -> QuantConfig:
        """``config`` with the low-bit activations that cost the most per byte read at 8
        bits, as many as fit ``activation_budget`` bytes per image; the model's metadata
        lists them. The cost of a tensor: the output error it causes rounded alone on the
        calibration images at its low width less the error at 8 bits (``quant.actsens``)."""
        from plutflow.quant.actsens import activation_sensitivity
        from plutflow.quant.fragile import read_at_8_bits
        from plutflow.report.memory import activation_bytes, tensor_bytes

        budget = int(self.activation_budget or 0)
        low = quantize(graph, stats, config)
        base = activation_bytes(low)
        if base > budget:
            raise PlutflowError(
                f"--activation-budget {budget:,} bytes is below the {base:,} bytes per image "
                "the activations take at the requested widths"
            )
        # each low-bit tensor measured at its width and at the width it would get instead
        every = {t for t, s in low.tensors.items() if s.bits < 8 and t not in low.constants}
        wide, _ = read_at_8_bits(graph, config.schemes, every)
        high = quantize(graph, stats, replace(config, schemes=wide))
        sens = activation_sensitivity(graph, low, calib[:SENSITIVITY_IMAGES], wide=high.tensors)

        def extra(tensor: str) -> int:
            spec = low.tensors[tensor]
            return tensor_bytes(spec.shape, 8) - tensor_bytes(spec.shape, spec.bits)

        chosen, spent = [], base
        for s in sorted(sens, key=lambda s: -s.gain / max(extra(s.tensor), 1)):
            if s.gain > 0 and spent + extra(s.tensor) <= budget:
                chosen.append(s)
                spent += extra(s.tensor)
        while True:  # the exact bytes of the model built (a narrowed copy may differ)
            schemes, _ = read_at_8_bits(graph, config.schemes, {c.tensor for c in chosen})
            trial = replace(config, schemes=schemes)
            spent = activation_bytes(quantize(graph, stats, trial))
            if spent <= budget or not chosen:
                break
            chosen.pop()  # the least error per byte goes first
        meta = {**config.meta, "kept_8bit_activations": [
            {"tensor": k.tensor, "error": round(k.error, 6),
             "error_8bit": round(k.error_wide, 6)} for k in chosen],
            "activation_budget": {"budget": budget, "bytes": spent, "lowest": base}}  # fmt: skip
        return replace(trial, meta=meta)


def _consumer_ranges(
    graph: Graph, calib: np.ndarray, stats: dict[str, TensorStats], config: QuantConfig
) -> QuantConfig:
    """``config`` with every low-bit activation's range chosen by its readers' output
    error on the calibration images (``quant.consumer``)."""
    from plutflow.quant.consumer import consumer_ranges

    chosen = consumer_ranges(graph, stats, config, calib[:SENSITIVITY_IMAGES])
    overrides = {**{c.tensor: (c.lo, c.hi) for c in chosen}, **config.range_overrides}
    return replace(config, range_overrides=overrides)


def _protect_fragile(graph: Graph, config: QuantConfig, told: tuple[str, ...]) -> QuantConfig:
    """``config`` with the activations known to be fragile at low bits
    (``quant.fragile``) read at 8 bits, except by layers the user's rules name; the
    model's metadata lists each with its kind."""
    from plutflow.quant.fragile import fragile_activations, read_at_8_bits

    kinds = {f.tensor: f.kind for f in fragile_activations(graph)}
    schemes, changed = read_at_8_bits(graph, config.schemes, set(kinds), leave=told)
    if not changed:
        return config
    order = list(kinds)
    meta = {**config.meta, "fragile_8bit_activations": [
        {"tensor": t, "kind": kinds[t]} for t in sorted(changed, key=order.index)]}  # fmt: skip
    return replace(config, schemes=schemes, meta=meta)


def equalized(graph: Graph) -> Graph:
    """A copy of ``graph`` with cross-layer equalisation applied (``ir.equalize``)."""
    import copy

    from plutflow.ir.equalize import equalize

    out = copy.deepcopy(graph)
    equalize(out)
    return out


def _check_rules(graph: Graph, patterns: list[str]) -> None:
    """Refuse a per-layer rule that matches no Conv/Gemm (a typo would otherwise be
    silently ignored)."""
    import fnmatch

    names = [n.name for n in graph.nodes if n.op in ("Conv", "Gemm")]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
            raise PlutflowError(
                f"rule pattern '{pattern}' matches no Conv/Gemm layer; the layers are named "
                f"{shown} (see plutflow inspect MODEL.onnx)"
            )


def quantize_model(
    model: str | Path | Graph,
    calib: np.ndarray,
    config: QuantConfig | QuantOptions | None = None,
    preprocess: Preprocess | None = None,
    progress: bool = True,
    source: str | Path | None = None,
    stats: dict[str, TensorStats] | None = None,
    labels: np.ndarray | None = None,
) -> IntModel:
    """Import (if needed), calibrate on ``calib`` (preprocessed float images) and build
    the integer model: INT8 with unified scale factors unless ``config`` (a
    :class:`QuantOptions` or a ready :class:`QuantConfig`) says otherwise. Exported as
    ``plutflow.quantize``.

    ``preprocess`` is remembered by the model; ``labels`` of the calibration images serve
    the task-loss search; ``source`` names the ONNX file an already imported ``model``
    came from (recorded with its SHA-256); ``stats`` are calibration statistics of
    ``calib`` already collected.
    """
    graph = model if isinstance(model, Graph) else import_onnx(model)
    source = source if isinstance(model, Graph) else model
    if isinstance(config, QuantOptions) and config.equalize:
        graph, stats = equalized(graph), None  # statistics of the equalised graph
    if stats is None:
        stats = collect_stats(graph, calib, progress=progress)
    if isinstance(config, QuantOptions):
        config = config.config(graph, calib, labels, stats)
    config = config or QuantConfig()
    meta = dict(config.meta)
    meta["calibration_images"] = len(calib)
    meta["calibration_input"] = input_summary(calib)
    if preprocess is not None:
        meta["preprocess"] = preprocess.to_dict()
    if source is not None:
        meta["source_sha256"] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        meta["source"] = Path(source).name
        meta["source_path"] = str(Path(source).resolve())  # for reports made elsewhere
    config = replace(config, meta=meta)
    hessians = None
    if config.rounding == "reconstruct":
        # the input codes each layer will see come from a first, nearest-rounded build
        specs = quantize(graph, stats, replace(config, rounding="nearest")).tensors
        hessians = input_hessians(graph, calib[:ROUNDING_IMAGES], progress=progress,
                                  specs=specs)  # fmt: skip
    model = quantize(graph, stats, config, hessians=hessians)
    name = graph.inputs[0]
    model.samples = {name: model.tensors[name].quantize(calib[:SAMPLE_IMAGES])}
    return model


def compile(model: IntModel, overlay: str = "board", array: int | None = None):
    """Compile ``model`` for an overlay: ``board`` (the KV260 bitstream's configuration)
    or a PE type (``int8``, ``shift``, ``plut``, ``plut-lutram``) with ``array`` P.
    Returns the :class:`~plutflow.runtime.Artifact` (``.save(path)`` writes a ``.pfa``).
    Exported as ``plutflow.compile``."""
    from plutflow.overlay.config import OverlayConfig
    from plutflow.runtime import Artifact

    if overlay == "board":
        cfg = OverlayConfig.named("board")
    else:
        try:
            cfg = OverlayConfig.for_pe(overlay, **({"p": array} if array else {}))
        except ValueError as exc:
            raise PlutflowError(f"overlay {overlay!r}, array {array}: {exc}") from None
    return Artifact.compile(model, cfg)


def evaluate(
    target: Any,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    backend: str = "golden",
    batch_size: int = 32,
    progress: bool = False,
    **backend_options: Any,
) -> dict[str, Any]:
    """Run preprocessed ``images`` through an :class:`IntModel` (golden) or an artifact on
    ``backend`` (golden, emu, sim, pynq, pynq-sim) and summarise: ``top1`` (with labels),
    ``outputs`` (first output's codes), ``cycles_per_image`` and ``wall_s``. Exported as
    ``plutflow.evaluate``."""
    from plutflow.evaluation import top1
    from plutflow.runtime import Accelerator, Artifact
    from plutflow.runtime.evaluate import evaluate as run_batches

    if isinstance(target, IntModel):
        if backend != "golden":
            raise PlutflowError(f"backend {backend!r} runs an artifact: compile the model first")
        from plutflow.evaluation import predict_golden

        out = {"outputs": predict_golden(target, images), "cycles_per_image": 0.0,
               "wall_s": 0.0}  # fmt: skip
    elif isinstance(target, Artifact):
        with Accelerator(target, backend, max_batch=batch_size, **backend_options) as acc:
            ev = run_batches(acc, images, batch_size=batch_size, progress=progress)
        out = {"outputs": ev.codes, "cycles_per_image": ev.cycles_per_image, "wall_s": ev.wall_s}
    else:
        raise PlutflowError("evaluate() takes an IntModel or an Artifact")
    if labels is not None:
        out["top1"] = top1(out["outputs"], labels)
    return out
