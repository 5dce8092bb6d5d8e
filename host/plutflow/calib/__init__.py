"""Calibration: data sources, declarative preprocessing, observers and statistics."""

from plutflow.calib.calibrate import collect_stats
from plutflow.calib.observers import OBSERVERS, TensorStats, choose_range
from plutflow.calib.preprocess import Preprocess
from plutflow.calib.sources import load_images, read_idx

__all__ = [
    "OBSERVERS",
    "Preprocess",
    "TensorStats",
    "choose_range",
    "collect_stats",
    "load_images",
    "read_idx",
]
