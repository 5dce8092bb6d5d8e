"""Runtime: compiled artifacts and the driver for the emulated, simulated and board
overlays."""

from plutflow.overlay.driver import OverlayMismatch, OverlayRunError
from plutflow.runtime.accelerator import BACKENDS, Accelerator, RunResult
from plutflow.runtime.artifact import Artifact

__all__ = [
    "BACKENDS",
    "Accelerator",
    "Artifact",
    "OverlayMismatch",
    "OverlayRunError",
    "RunResult",
]
