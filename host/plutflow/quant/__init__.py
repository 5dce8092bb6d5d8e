"""Quantizers: INT8 with unified scale factors (USPIQ)."""

from plutflow.quant.int8 import QuantConfig, quantize_int8, quantize_weights
from plutflow.quant.usf import quantize_multiplier

__all__ = ["QuantConfig", "quantize_int8", "quantize_multiplier", "quantize_weights"]
