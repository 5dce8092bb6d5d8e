"""The float pass of calibration on onnxruntime.

The IR graph (after folding and fusion) is written back as a plain ONNX model whose
outputs are every tensor calibration observes: each node's outputs and, for a fused
activation, the tensor before it (``name::pre``). onnxruntime runs it in batches and the
observer sees the same tensors, in the same order, as with the numpy reference
(:func:`plutflow.reference.run_float`), which stays the conformance reference.

A graph with an op this writer does not know (the data-movement forms with index maps:
Slice, Pad, Resize; standalone BatchNormalization, ReduceMean, Dropout) returns None,
and calibration runs on the numpy reference.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from plutflow.ir.graph import Graph, Node
from plutflow.reference.executor import PRE_SUFFIX

OPSET = 17
_ATTRS = {
    "Conv": ("kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"),
    "Gemm": ("alpha", "beta", "transA", "transB"),
    "MaxPool": ("kernel_shape", "strides", "pads", "dilations", "ceil_mode", "auto_pad"),
    "AveragePool": ("kernel_shape", "strides", "pads", "ceil_mode", "count_include_pad"),
    "Concat": ("axis",),
    "Flatten": ("axis",),
    "Reshape": ("allowzero",),
    "Transpose": ("perm",),
    "Softmax": ("axis",),
    "LeakyRelu": ("alpha",),
    "HardSigmoid": ("alpha", "beta"),
}
_PLAIN = {"MatMul", "Add", "Mul", "GlobalAveragePool", "Identity", "Relu", "HardSwish",
          "Sigmoid", "PRelu"}  # fmt: skip


class _Writer:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.observed: list[str] = list(graph.inputs)

    def const(self, name: str, value) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def activation(self, op: str, params: dict, x: str, y: str, tag: str) -> None:
        """Activation ``op`` from ``x`` to ``y`` (a fused ``act`` dict or node attrs)."""
        if op == "SiLU":
            self.nodes.append(helper.make_node("Sigmoid", [x], [f"{tag}::sig"]))
            self.nodes.append(helper.make_node("Mul", [x, f"{tag}::sig"], [y]))
        elif op == "Clip":
            ins = [x]
            for key in ("min", "max"):
                v = params.get(key)
                ins.append("" if v is None else self.const(f"{tag}::{key}", np.float32(v)))
            self.nodes.append(helper.make_node("Clip", ins, [y]))
        elif op == "PRelu":
            self.nodes.append(helper.make_node("PRelu", [x, params["slope"]], [y]))
        else:
            kept = {k: float(v) for k, v in params.items() if k in _ATTRS.get(op, ())}
            self.nodes.append(helper.make_node(op, [x], [y], **kept))

    def node(self, node: Node) -> bool:
        op = node.op
        if op not in _ATTRS and op not in _PLAIN and op not in ("SiLU", "Clip"):
            return False
        act = node.attrs.get("act")
        outs = list(node.outputs)
        if act:
            outs[0] = node.outputs[0] + PRE_SUFFIX
        if op in ("SiLU", "Clip") or (op in ("LeakyRelu", "HardSigmoid") and not act):
            self.activation(op, node.attrs, node.inputs[0], outs[0], node.name)
            if op == "Clip" and len(node.inputs) > 1:  # run-time bounds as inputs
                self.nodes[-1].input[1:] = node.inputs[1:3]
        else:
            kept = {k: v for k, v in node.attrs.items() if k in _ATTRS.get(op, ())}
            self.nodes.append(helper.make_node(op, list(node.inputs), outs, **kept))
        self.observed += [o for o in outs if o]
        if act:
            self.activation(act["op"], act, outs[0], node.outputs[0], node.name)
            self.observed.append(node.outputs[0])
        return True


def float_model(graph: Graph) -> tuple[onnx.ModelProto, list[str]] | None:
    """The ONNX model of ``graph`` with every observed tensor as an output, and those
    names in observation order; None when the graph holds an op the writer lacks."""
    w = _Writer(graph)
    if not all(w.node(n) for n in graph.nodes):
        return None
    used = {i for n in w.nodes for i in n.input}
    for name, value in graph.constants.items():
        if name in used:
            w.const(name, value)
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, _dims(graph, name))
        for name in graph.inputs
    ]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
               for n in dict.fromkeys(w.observed) if n not in graph.inputs]  # fmt: skip
    proto = helper.make_graph(w.nodes, "plutflow_calibration", inputs, outputs, w.inits)
    model = helper.make_model(proto, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model, list(dict.fromkeys(w.observed))


def _dims(graph: Graph, name: str) -> list | None:
    shape = graph.shapes.get(name)
    return [d if isinstance(d, int) else "N" for d in shape] if shape else None


def runner(graph: Graph) -> Callable[[np.ndarray], list[tuple[str, np.ndarray]]] | None:
    """A function from one input batch to ``(name, value)`` pairs in observation order,
    running on onnxruntime; None when the graph cannot be written or loaded."""
    import onnxruntime as ort

    written = float_model(graph)
    if written is None:
        return None
    model, names = written
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])  # fmt: skip
    except Exception:  # any refusal means: use the numpy reference
        return None
    outs = [n for n in names if n not in graph.inputs]
    first = graph.inputs[0]

    def run(x: np.ndarray) -> list[tuple[str, np.ndarray]]:
        values = dict(zip(outs, sess.run(outs, {first: x}), strict=True))
        values[first] = x
        return [(n, values[n]) for n in names]

    return run
