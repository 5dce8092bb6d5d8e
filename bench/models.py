"""Builders of the benchmark networks as ONNX, with random weights (He-initialised convs,
random BatchNorm statistics): a ResNet-18-style network (BasicBlocks, 64-512 channel
stages) and a MobileNetV2-style network (inverted residuals, depthwise convs, ReLU6),
both at any resolution and width, and a small YOLO-style detector (SiLU, channel Split,
max pooling, nearest upsampling, Concat, reflect Pad, channel Slice). No PyTorch needed.

    python bench/models.py build/bench_models        # writes resnet18.onnx, mobilenetv2.onnx
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Net:
    """Append ONNX nodes with float initializers."""

    def __init__(self, shape: tuple[int, ...], seed: int = 0) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)
        self.n = 0
        self.input = helper.make_tensor_value_info("input", TensorProto.FLOAT, list(shape))

    def _name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}_{self.n}"

    def const(self, value: np.ndarray) -> str:
        name = self._name("w")
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def const_i64(self, value: list[int]) -> str:
        name = self._name("i")
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.int64), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv_bn(self, x: str, cin: int, cout: int, k: int, stride: int = 1, group: int = 1,
                act: str | None = "Relu") -> str:  # fmt: skip
        fan_in = cin // group * k * k
        w = self.rng.normal(0, np.sqrt(2.0 / fan_in), (cout, cin // group, k, k))
        y = self.node("Conv", [x, self.const(w)], kernel_shape=[k, k], strides=[stride] * 2,
                      pads=[k // 2] * 4, group=group)  # fmt: skip
        r = self.rng
        bn = [r.uniform(0.5, 1.2, cout), r.normal(0, 0.1, cout), r.normal(0, 0.1, cout),
              r.uniform(0.5, 1.5, cout)]  # fmt: skip
        y = self.node("BatchNormalization", [y, *(self.const(p) for p in bn)])
        if act == "Relu":
            y = self.node("Relu", [y])
        elif act == "Relu6":
            y = self.node("Clip", [y, self.const(np.array(0.0)), self.const(np.array(6.0))])
        return y

    def head(self, x: str, c: int, classes: int) -> str:
        y = self.node("GlobalAveragePool", [x])
        y = self.node("Flatten", [y], axis=1)
        w = self.rng.normal(0, np.sqrt(1.0 / c), (classes, c))
        return self.node("Gemm", [y, self.const(w), self.const(np.zeros(classes))], transB=1)

    def silu(self, x: str) -> str:
        return self.node("Mul", [x, self.node("Sigmoid", [x])])

    def build(self, out: str, name: str, classes: int | list[int]) -> onnx.ModelProto:
        shape = [1, classes] if isinstance(classes, int) else classes
        o = helper.make_tensor_value_info(out, TensorProto.FLOAT, shape)
        graph = helper.make_graph(self.nodes, name, [self.input], [o], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def resnet18(size: int = 224, width: int = 64, classes: int = 1000, seed: int = 0):
    """ResNet-18: 7x7/2 stem, 3x3/2 max pool, four stages of two BasicBlocks (widths
    w, 2w, 4w, 8w; 1x1/2 projection shortcuts), global average pool, FC."""
    net = Net((1, 3, size, size), seed)
    x = net.conv_bn("input", 3, width, 7, 2)
    x = net.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = width
    for stage, c in enumerate((width, 2 * width, 4 * width, 8 * width)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            y = net.conv_bn(x, cin, c, 3, stride)
            y = net.conv_bn(y, c, c, 3, 1, act=None)
            sc = x if stride == 1 and cin == c else net.conv_bn(x, cin, c, 1, stride, act=None)
            x = net.node("Relu", [net.node("Add", [y, sc])])
            cin = c
    return net.build(net.head(x, cin, classes), "resnet18", classes)


def mobilenet_v2(size: int = 224, width: float = 1.0, classes: int = 1000, seed: int = 0):
    """MobileNetV2: 3x3/2 stem, inverted residual blocks (1x1 expand, 3x3 depthwise,
    1x1 project; ReLU6; residual Add where shapes allow), 1x1 head conv, pool, FC."""

    def ch(c: int) -> int:
        return max(8, int(c * width + 4) // 8 * 8)

    net = Net((1, 3, size, size), seed)
    cin = ch(32)
    x = net.conv_bn("input", 3, cin, 3, 2, act="Relu6")
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):  # fmt: skip
        c = ch(c)
        for i in range(n):
            stride = s if i == 0 else 1
            hid = cin * t
            y = x if t == 1 else net.conv_bn(x, cin, hid, 1, act="Relu6")
            y = net.conv_bn(y, hid, hid, 3, stride, group=hid, act="Relu6")
            y = net.conv_bn(y, hid, c, 1, act=None)
            x = net.node("Add", [x, y]) if stride == 1 and cin == c else y
            cin = c
    last = ch(1280) if width > 1.0 else 1280
    x = net.conv_bn(x, cin, last, 1, act="Relu6")
    return net.build(net.head(x, last, classes), "mobilenetv2", classes)


def detector_like(size: int = 32, width: int = 16, seed: int = 0) -> onnx.ModelProto:
    """A YOLO-style detector: a strided SiLU backbone, a CSP-style block (channel Split, a
    conv branch, Concat), an SPPF-style max pool, nearest 2x upsampling with a skip Concat,
    a reflect-padded head conv and a box/class split of the head by channel Slices."""
    w = width
    net = Net((1, 3, size, size), seed)
    p1 = net.silu(net.conv_bn("input", 3, w, 3, 2, act=None))
    p2 = net.silu(net.conv_bn(p1, w, 2 * w, 3, 2, act=None))
    halves = [net._name("split"), net._name("split")]
    net.nodes.append(helper.make_node("Split", [p2, net.const_i64([w, w])], halves,
                                      name=net._name("Split"), axis=1))  # fmt: skip
    b = net.silu(net.conv_bn(halves[1], w, w, 3, act=None))
    m = net.node("MaxPool", [b], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    c = net.silu(net.conv_bn(net.node("Concat", [halves[0], b, m], axis=1), 3 * w, 2 * w, 1,
                             act=None))  # fmt: skip
    up = net.node("Resize", [c, "", net.const(np.array([1, 1, 2, 2]))], mode="nearest",
                  coordinate_transformation_mode="asymmetric", nearest_mode="floor")  # fmt: skip
    f = net.silu(net.conv_bn(net.node("Concat", [up, p1], axis=1), 3 * w, w, 3, act=None))
    f = net.node("Pad", [f, net.const_i64([0, 0, 1, 1, 0, 0, 1, 1])], mode="reflect")
    wh = net.rng.normal(0, np.sqrt(1.0 / (9 * w)), (8, w, 3, 3))
    h = net.node("Conv", [f, net.const(wh), net.const(np.zeros(8))], kernel_shape=[3, 3])
    box = net.node("Slice", [h, net.const_i64([0]), net.const_i64([4]), net.const_i64([1])])
    cls = net.node("Slice", [h, net.const_i64([4]), net.const_i64([8]), net.const_i64([1])])
    out = net.node("Concat", [box, net.node("Sigmoid", [cls])], axis=1)
    return net.build(out, "detector_like", [1, 8, size // 2, size // 2])


def lowbit_qat_cnn(fmt: str = "qonnx", size: int = 16, seed: int = 0) -> onnx.ModelProto:
    """A small CNN as a quantization-aware training tool exports it at 4 bits: per-channel
    4-bit narrow weights, 8-bit input, 4-bit unsigned activations after each ReLU.

    ``fmt="qonnx"`` writes QONNX ``Quant`` nodes (Brevitas' QONNX export);
    ``fmt="qcdq"`` writes the same quantizers as QuantizeLinear -> Clip -> DequantizeLinear
    (its QCDQ export), which onnxruntime runs: the two graphs compute the same values.
    """
    rng = np.random.default_rng(seed)
    net = Net((1, 3, size, size), seed)
    qdomain = "qonnx.custom_op.general"

    def quant(x: str, scale, bits: int, signed: bool, narrow: bool) -> str:
        scale = np.asarray(scale, np.float32)
        if fmt == "qonnx":
            out = net._name("quant")
            net.nodes.append(helper.make_node(
                "Quant", [x, net.const(scale), net.const(np.zeros_like(scale)),
                          net.const(np.array(float(bits)))], [out], name=out, domain=qdomain,
                signed=int(signed), narrow=int(narrow), rounding_mode="ROUND"))  # fmt: skip
            return out
        lo = -(2 ** (bits - 1)) + int(narrow) if signed else 0
        hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 1 - int(narrow)
        dt = np.int8 if signed else np.uint8
        zp = np.zeros(scale.shape, dt)
        axis = {"axis": 0} if scale.size > 1 else {}
        sc = net.const(scale.reshape(-1) if scale.size > 1 else scale.reshape(()))
        z = net._name("zp")
        net.inits.append(numpy_helper.from_array(zp.reshape(-1) if scale.size > 1
                                                 else zp.reshape(()), z))  # fmt: skip
        q = net.node("QuantizeLinear", [x, sc, z], **axis)
        lo_c, hi_c = net._name("lo"), net._name("hi")
        net.inits.append(numpy_helper.from_array(np.array(lo, dt), lo_c))
        net.inits.append(numpy_helper.from_array(np.array(hi, dt), hi_c))
        c = net.node("Clip", [q, lo_c, hi_c])
        return net.node("DequantizeLinear", [c, sc, z], **axis)

    def qconv(x: str, cin: int, cout: int, k: int, stride: int) -> str:
        w = rng.normal(0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k)).astype(np.float32)
        s = np.abs(w).reshape(cout, -1).max(1) / 7
        wq = quant(net.const(w), s.reshape(-1, 1, 1, 1) if fmt == "qonnx" else s, 4, True,
                   True)  # fmt: skip
        b = net.const(rng.normal(0, 0.05, cout))
        y = net.node("Conv", [x, wq, b], kernel_shape=[k, k], strides=[stride] * 2,
                     pads=[k // 2] * 4)  # fmt: skip
        return quant(net.node("Relu", [y]), 0.25, 4, False, False)

    x = quant("input", 1.0 / 127, 8, True, False)
    x = qconv(x, 3, 16, 3, 2)
    x = qconv(x, 16, 32, 3, 2)
    x = qconv(x, 32, 32, 3, 1)
    y = net.node("Flatten", [net.node("GlobalAveragePool", [x])], axis=1)
    w = rng.normal(0, np.sqrt(1.0 / 32), (10, 32)).astype(np.float32)
    wq = quant(net.const(w), (np.abs(w).max(1) / 127).reshape(-1, 1) if fmt == "qonnx"
               else np.abs(w).max(1) / 127, 8, True, True)  # fmt: skip
    out = net.node("Gemm", [y, wq, net.const(np.zeros(10))], transB=1)
    o = helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 10])
    net.input.type.tensor_type.shape.dim[0].dim_param = "N"
    graph = helper.make_graph(net.nodes, f"qat_{fmt}", [net.input], [o], net.inits)
    opsets = [helper.make_opsetid("", 13)]
    if fmt == "qonnx":
        opsets.append(helper.make_opsetid(qdomain, 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "build/bench_models")
    out.mkdir(parents=True, exist_ok=True)
    for name, model in (("resnet18", resnet18()), ("mobilenetv2", mobilenet_v2())):
        onnx.save(model, out / f"{name}.onnx")
        print(f"wrote {out / name}.onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
