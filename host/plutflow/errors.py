"""Error types. Every error plutflow raises on bad input is a :class:`PlutflowError`."""

from __future__ import annotations


class PlutflowError(Exception):
    """Base class of every error raised on bad input or an unsupported model."""


class UnsupportedModelError(PlutflowError):
    """The model uses an op, attribute value or dynamic shape that plutflow cannot handle.

    The message always names the node, its op type and the reason.
    """

    def __init__(self, node: str, op: str, reason: str) -> None:
        self.node, self.op, self.reason = node, op, reason
        super().__init__(f"node '{node}' (op {op}): {reason}")


class ShapeError(PlutflowError):
    """An input array has the wrong shape or dtype for the model."""


class ArtifactError(PlutflowError):
    """A saved integer model or artifact is corrupt, truncated or of an unknown version."""


class CalibrationError(PlutflowError):
    """Calibration data could not be read or does not fit the model."""
