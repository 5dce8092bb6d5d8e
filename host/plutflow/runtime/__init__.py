"""Runtime: compiled artifacts and the driver for the simulated overlay and PYNQ boards."""

from plutflow.runtime.accelerator import Accelerator, LayerTiming, RunResult
from plutflow.runtime.artifact import Artifact
from plutflow.runtime.plan import LayerPlan, plan_model
from plutflow.runtime.transport import (
    AcceleratorError,
    OverlayMismatch,
    Transport,
    TransportError,
)

__all__ = [
    "Accelerator",
    "AcceleratorError",
    "Artifact",
    "LayerPlan",
    "LayerTiming",
    "OverlayMismatch",
    "RunResult",
    "Transport",
    "TransportError",
    "plan_model",
]
