"""Data for a model: preprocessing (given, remembered by the model, or inferred from its
input), input shapes for models with free dimensions, and images with labels from files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plutflow.calib.preprocess import Preprocess
from plutflow.calib.sources import load_images, read_array, read_idx, read_labels
from plutflow.errors import CalibrationError
from plutflow.intmodel.model import IntModel
from plutflow.ir.graph import Graph
from plutflow.ir.importer import import_onnx, parse_input_shape


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
    if len(raw) == 0:
        raise CalibrationError(f"{source} holds no images")
    y = None
    if labels is not None:
        lp = Path(labels)
        y = read_idx(lp) if "idx" in lp.name else read_array(lp)
    else:
        y = read_labels(source)
    if y is not None:
        y = np.asarray(y)
        if y.dtype.kind not in "iu" or y.ndim != 1:
            raise CalibrationError(f"labels must be a 1-D array of class numbers; got "
                                   f"{y.dtype} of shape {y.shape}")  # fmt: skip
        if len(y) != len(raw):
            raise CalibrationError(f"{len(y)} labels for {len(raw)} images")
    if limit is not None:
        raw = raw[:limit]
        y = y[:limit] if y is not None else None
    return preprocess.apply(raw), (None if y is None else y.astype(np.int64))
