"""High-level entry points: load data, quantize an ONNX model, evaluate, bundled assets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from plutflow.calib.calibrate import collect_stats
from plutflow.calib.drift import input_summary
from plutflow.calib.observers import TensorStats
from plutflow.calib.preprocess import Preprocess
from plutflow.calib.sources import load_images, read_idx, read_labels
from plutflow.golden.executor import GoldenExecutor
from plutflow.intmodel.model import IntModel
from plutflow.ir.graph import Graph
from plutflow.ir.importer import import_onnx, parse_input_shape
from plutflow.quant.builder import QuantConfig, quantize
from plutflow.quant.rounding import input_hessians
from plutflow.reference.executor import run_float

DATA_DIR = Path(__file__).parent / "data"
#: Calibration images a quantized model carries as input codes, for self-tests.
SAMPLE_IMAGES = 8
#: Calibration images whose layer inputs drive rounding reconstruction.
ROUNDING_IMAGES = 256


@dataclass(frozen=True)
class DemoAssets:
    """The bundled Fashion-MNIST model and data."""

    model: Path = DATA_DIR / "fashion_mnist_demo.onnx"
    data: Path = DATA_DIR / "fashion_mnist_test2000.npz"
    meta: Path = DATA_DIR / "fashion_mnist_demo.json"

    def preprocess(self) -> Preprocess:
        return Preprocess.from_file(self.meta)

    def classes(self) -> list[str]:
        return json.loads(self.meta.read_text())["classes"]

    def test_set(self) -> tuple[np.ndarray, np.ndarray]:
        with np.load(self.data, allow_pickle=False) as z:
            return self.preprocess().apply(z["images"]), z["labels"].astype(np.int64)

    def calib_set(self) -> np.ndarray:
        with np.load(self.data, allow_pickle=False) as z:
            return self.preprocess().apply(z["calib_images"])

    def calib_labels(self) -> np.ndarray:
        """Labels of the calibration images (used only by the task-loss range search)."""
        with np.load(self.data, allow_pickle=False) as z:
            return z["calib_labels"].astype(np.int64)


def preprocess_for(
    model: IntModel | None, path: str | Path | None = None, graph: Graph | None = None
) -> Preprocess:
    """The preprocessing config at ``path``, else the one ``model`` was calibrated with,
    else one inferred from the input shape of ``model`` or ``graph`` (layout, channels,
    size; pixels scaled to [0, 1], no normalisation)."""
    if path:
        return Preprocess.from_file(path)
    if model is not None and "preprocess" in model.meta:
        return Preprocess.from_dict(model.meta["preprocess"])
    if model is not None:
        return Preprocess.for_input(model.tensors[model.inputs[0]].shape)
    if graph is not None:
        return Preprocess.for_input(graph.shapes.get(graph.inputs[0]))
    return Preprocess()


def input_shapes(
    texts: list[str] | None, preprocess: Preprocess | None = None
) -> dict[str | None, tuple[int, ...]]:
    """``--input-shape`` values, else the preprocessing config's ``input_shape``."""
    shapes = dict(parse_input_shape(t) for t in texts or [])
    if not shapes and preprocess is not None and preprocess.input_shape:
        shapes[None] = tuple(preprocess.input_shape)
    return shapes


def import_for_quantize(
    path: str | Path, shape_args: list[str] | None, preprocess_path: str | Path | None
) -> tuple[Graph, Preprocess]:
    """Import an ONNX model with its input shapes fixed and the preprocessing to feed it:
    the given config, or one inferred from the model's input."""
    given = Preprocess.from_file(preprocess_path) if preprocess_path else None
    graph = import_onnx(path, input_shapes=input_shapes(shape_args, given))
    return graph, given or preprocess_for(None, graph=graph)


def inferred_note(pre: Preprocess) -> str | None:
    """A note for a preprocessing config that was guessed, not given."""
    if not pre.inferred:
        return None
    return (
        f"no preprocessing config given; using one inferred from the model input "
        f"({pre.describe()}). If the model was trained on normalised inputs, pass "
        "--preprocess with its mean and std, or results will be wrong."
    )


def load_data(
    source: str | Path,
    preprocess: Preprocess,
    limit: int | None = None,
    labels: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read and preprocess images; labels come from ``labels`` (idx/.npy) or the .npz."""
    raw = load_images(source, preprocess.size, preprocess.channels)
    y = None
    if labels is not None:
        lp = Path(labels)
        y = read_idx(lp) if "idx" in lp.name else np.load(lp, allow_pickle=False)
    else:
        y = read_labels(source)
    if limit is not None:
        raw = raw[:limit]
        y = y[:limit] if y is not None else None
    return preprocess.apply(raw), (None if y is None else np.asarray(y).astype(np.int64))


def quantize_model(
    model: str | Path | Graph,
    calib: np.ndarray,
    config: QuantConfig | None = None,
    preprocess: Preprocess | None = None,
    progress: bool = True,
    source: str | Path | None = None,
    stats: dict[str, TensorStats] | None = None,
) -> IntModel:
    """Import (if needed), calibrate on ``calib`` and build the integer model (INT8-USF
    unless ``config`` says otherwise).

    ``source`` names the ONNX file an already imported ``model`` came from (recorded with
    its SHA-256 in the model's metadata); ``stats`` are calibration statistics of
    ``calib`` already collected.
    """
    config = config or QuantConfig()
    graph = model if isinstance(model, Graph) else import_onnx(model)
    source = source if isinstance(model, Graph) else model
    if stats is None:
        stats = collect_stats(graph, calib, progress=progress)
    meta = dict(config.meta)
    meta["calibration_images"] = len(calib)
    meta["calibration_input"] = input_summary(calib)
    if preprocess is not None:
        meta["preprocess"] = preprocess.to_dict()
    if source is not None:
        meta["source_sha256"] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        meta["source"] = Path(source).name
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


def predict_float(graph: Graph, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Float logits of the first output, batched."""
    outs = [
        run_float(graph, {graph.inputs[0]: x[i : i + batch_size]})[graph.outputs[0]]
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(outs)


def predict_fake_quant(
    graph: Graph, model: IntModel, x: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Float logits with every activation the integer model quantizes rounded to its
    codes and back (weights stay float): the activation-quantization loss alone."""

    def fake(name: str, value: np.ndarray) -> np.ndarray:
        spec = model.tensors.get(name)
        return value if spec is None else spec.dequantize(spec.quantize(value))

    outs = [
        run_float(graph, {graph.inputs[0]: x[i : i + batch_size]}, transform=fake)[graph.outputs[0]]
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(outs)


def predict_golden(model: IntModel, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Integer output codes of the first output for float inputs ``x``, batched."""
    ex = GoldenExecutor(model)
    outs = []
    for i in range(0, len(x), batch_size):
        codes = ex.quantize_inputs(x[i : i + batch_size])
        outs.append(ex.run(codes)[model.outputs[0]])
    return np.concatenate(outs)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Percent of positions where two outputs pick the same class (argmax over axis 1,
    per image for (N, C) and per spatial position for dense (N, C, H, W) outputs)."""
    a = np.asarray(a).reshape(len(a), a.shape[1] if a.ndim > 1 else 1, -1)
    b = np.asarray(b).reshape(a.shape)
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean() * 100.0)


def top1(scores: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in percent."""
    return float((scores.reshape(len(scores), -1).argmax(axis=1) == labels).mean() * 100.0)
