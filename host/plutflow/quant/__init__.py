"""Quantizers: INT8 with unified scale factors (USPIQ), uniform k-bit, PoT, UPoT and P-LUT
weights, adaptive activation scale and zero point, per-layer mixed precision."""

from plutflow.quant.builder import QuantConfig, quantize, quantize_int8
from plutflow.quant.scheme import LayerScheme, SchemeConfig
from plutflow.quant.usf import quantize_multiplier
from plutflow.quant.weights import QuantizedWeights, quantize_weights

__all__ = [
    "LayerScheme",
    "QuantConfig",
    "QuantizedWeights",
    "SchemeConfig",
    "quantize",
    "quantize_int8",
    "quantize_multiplier",
    "quantize_weights",
]
