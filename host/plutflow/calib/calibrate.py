"""Run the float model over calibration batches and record per-tensor statistics."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from plutflow.calib.observers import TensorStats
from plutflow.calib.ort_float import runner
from plutflow.errors import CalibrationError, ShapeError
from plutflow.ir.graph import Graph
from plutflow.notes import progress_bar
from plutflow.reference.executor import run_float


def batches(x: np.ndarray, batch_size: int) -> Iterable[np.ndarray]:
    for i in range(0, len(x), batch_size):
        yield x[i : i + batch_size]


def check_finite(x: np.ndarray, what: str) -> None:
    """Refuse NaN or infinite inputs: one NaN pixel would make every range useless."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        if bad:
            raise CalibrationError(
                f"{what} hold {bad} NaN or infinite values after preprocessing; check the "
                "data and the preprocessing config (a std of 0, a NaN scale)"
            )


def collect_stats(
    graph: Graph,
    data: np.ndarray,
    batch_size: int = 64,
    progress: bool = True,
    seed: int = 0,
    runtime: str = "auto",
) -> dict[str, TensorStats]:
    """Statistics of every tensor (and every fused activation's input) over ``data``.

    ``data`` is already preprocessed to the model's first input layout. The float pass
    runs on onnxruntime (``runtime="onnxruntime"``, or ``"auto"`` when the graph can be
    written as ONNX: :mod:`plutflow.calib.ort_float`) or on the numpy reference
    (``"numpy"``); both feed the observers the same tensors in the same order.
    """
    if runtime not in ("auto", "onnxruntime", "numpy"):
        raise CalibrationError(f"unknown calibration runtime '{runtime}'")
    if len(graph.inputs) != 1:
        raise CalibrationError("calibration supports single-input models")
    if len(data) == 0:
        raise CalibrationError("no calibration images")
    check_finite(data, "calibration images")
    rng = np.random.default_rng(seed)
    stats: dict[str, TensorStats] = {}

    def observe(name: str, value: np.ndarray) -> None:
        if np.issubdtype(np.asarray(value).dtype, np.floating):
            stats.setdefault(name, TensorStats()).update(value, rng)

    fast = None if runtime == "numpy" else runner(graph)
    if fast is None and runtime == "onnxruntime":
        raise CalibrationError("this graph cannot run on onnxruntime; use runtime='numpy'")
    bar = progress_bar(total=len(data), progress=progress, desc="calibrating", unit="img")
    try:
        for xb in batches(data, batch_size):
            if fast is None:
                run_float(graph, {graph.inputs[0]: xb}, observe=observe)
            else:
                for name, value in fast(np.ascontiguousarray(xb, np.float32)):
                    observe(name, value)
            bar.update(len(xb))
    except ShapeError as exc:
        raise CalibrationError(f"calibration data does not fit the model: {exc}") from exc
    finally:
        bar.close()
    return stats
