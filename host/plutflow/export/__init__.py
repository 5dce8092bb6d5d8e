"""Export of an integer model as a standard ONNX graph of integer ops (docs/export.md)."""

from __future__ import annotations

from plutflow.export.integer_onnx import export_integer_onnx

__all__ = ["export_integer_onnx"]
