"""A tiny builder for ONNX test models."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class ModelBuilder:
    """Append nodes and float initializers, then build a ModelProto."""

    def __init__(self, input_shape: tuple, input_name: str = "x", opset: int = 17) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.opset = opset
        self.input = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))
        self.count = 0
        self.rng = np.random.default_rng(7)

    def const(self, value: np.ndarray, name: str | None = None) -> str:
        self.count += 1
        name = name or f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], n_out: int = 1, **attrs: Any) -> str:
        self.count += 1
        outs = [f"t{self.count}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=f"{op}_{self.count}", **attrs))
        return outs[0]

    def conv(
        self,
        x: str,
        cin: int,
        cout: int,
        k: int = 3,
        group: int = 1,
        bias: bool = True,
        **attrs: Any,
    ) -> str:
        w = self.rng.normal(0, 1 / np.sqrt(cin // group * k * k), (cout, cin // group, k, k))
        ins = [x, self.const(w.astype(np.float32))]
        if bias:
            ins.append(self.const(self.rng.normal(0, 0.1, cout).astype(np.float32)))
        return self.node("Conv", ins, kernel_shape=[k, k], group=group, **attrs)

    def bn(self, x: str, c: int) -> str:
        r = self.rng
        params = [
            r.uniform(0.5, 1.5, c),
            r.normal(0, 0.2, c),
            r.normal(0, 0.2, c),
            r.uniform(0.5, 2.0, c),
        ]
        return self.node(
            "BatchNormalization", [x, *(self.const(p.astype(np.float32)) for p in params)]
        )

    def gemm(self, x: str, k: int, m: int) -> str:
        w = self.rng.normal(0, 1 / np.sqrt(k), (m, k)).astype(np.float32)
        b = self.rng.normal(0, 0.1, m).astype(np.float32)
        return self.node("Gemm", [x, self.const(w), self.const(b)], transB=1)

    def build(self, output: str) -> onnx.ModelProto:
        out = onnx.ValueInfoProto(name=output)
        out.type.tensor_type.elem_type = TensorProto.FLOAT
        graph = helper.make_graph(self.nodes, "test", [self.input], [out], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 8
        return model


def run_ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]
