"""ONNX import to a small IR: shape inference, constant folding, BN folding and fusion."""

from plutflow.ir.graph import Graph, Node, Shape
from plutflow.ir.importer import SUPPORTED_OPS, import_onnx, load_model

__all__ = ["SUPPORTED_OPS", "Graph", "Node", "Shape", "import_onnx", "load_model"]
