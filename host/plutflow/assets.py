"""The bundled demo: a Fashion-MNIST CNN (ONNX), its preprocessing config, 2,000 test
images and the unlabelled calibration images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plutflow.calib.preprocess import Preprocess

DATA_DIR = Path(__file__).parent / "data"


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
