"""plutflow: pure-integer quantization of CNNs for the AMD/Xilinx Kria KV260.

The pipeline is ONNX -> :mod:`plutflow.ir` -> :mod:`plutflow.quant` -> integer model
(:mod:`plutflow.intmodel`) -> golden executor (:mod:`plutflow.golden`), the contract that
every backend is checked against.
"""

from plutflow.errors import (
    ArtifactError,
    CalibrationError,
    PlutflowError,
    ShapeError,
    UnsupportedModelError,
)

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "CalibrationError",
    "PlutflowError",
    "ShapeError",
    "UnsupportedModelError",
    "__version__",
]
