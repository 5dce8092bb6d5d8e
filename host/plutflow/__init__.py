"""plutflow: pure-integer quantization of CNNs for the AMD/Xilinx Kria KV260.

The pipeline is ONNX -> :mod:`plutflow.ir` -> :mod:`plutflow.quant` -> integer model
(:mod:`plutflow.intmodel`) -> golden executor (:mod:`plutflow.golden`), the contract that
every backend is checked against. The library API (:mod:`plutflow.api`):
``plutflow.quantize``, ``plutflow.compile``, ``plutflow.evaluate``, ``plutflow.QuantOptions``.
"""

from typing import Any

from plutflow.errors import (
    ArtifactError,
    CalibrationError,
    PlutflowError,
    ShapeError,
    UnsupportedModelError,
)

__version__ = "0.1.0"

_API = {"quantize": "quantize_model", "compile": "compile", "evaluate": "evaluate",
        "QuantOptions": "QuantOptions"}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The API functions, imported on first use (``import plutflow`` stays light)."""
    if name in _API:
        from plutflow import api

        return getattr(api, _API[name])
    raise AttributeError(f"module 'plutflow' has no attribute {name!r}")


__all__ = [
    "ArtifactError",
    "CalibrationError",
    "PlutflowError",
    "QuantOptions",
    "ShapeError",
    "UnsupportedModelError",
    "__version__",
    "compile",
    "evaluate",
    "quantize",
]
