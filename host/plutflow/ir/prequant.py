"""Pre-quantized ONNX: QDQ, QCDQ and QONNX ``Quant``/``IntQuant`` graphs.

Quantization-aware training tools and onnxruntime's ``quantize_static`` write a float
graph with fake-quantization nodes around it. This module removes those nodes before the
import and keeps what they say as hints for the quantizer:

* an activation ``x -> QuantizeLinear [-> Clip] -> DequantizeLinear`` (or a QONNX
  ``Quant`` on a run-time tensor) becomes a fixed :class:`ActivationHint` on ``x``: its
  scale, zero point and width are used as they are, never calibrated;
* a weight ``DequantizeLinear(W_int)``, ``QuantizeLinear -> DequantizeLinear`` or
  ``Quant`` on a constant becomes the float constant it stands for and a
  :class:`WeightHint` on the layer that reads it: its bits and per-channel scale.

Zero points of weights must be 0 (the integer model's weights are symmetric); block or
per-axis activation quantization, float8 and 16-bit types are refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from plutflow.errors import UnsupportedModelError

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
QONNX_OPS = ("Quant", "IntQuant")
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
_INT_TYPES = {
    onnx.TensorProto.INT8: (8, True),
    onnx.TensorProto.UINT8: (8, False),
    onnx.TensorProto.INT4: (4, True),
    onnx.TensorProto.UINT4: (4, False),
}


@dataclass
class ActivationHint:
    """Fixed quantization of an activation tensor: ``real = scale * (q - zero_point)``
    with ``q`` in the signed or unsigned ``bits``-bit range."""

    scale: float
    zero_point: int
    bits: int
    signed: bool
    narrow: bool = False

    def to_json(self) -> dict:
        return {
            "scale": self.scale,
            "zero_point": self.zero_point,
            "bits": self.bits,
            "signed": self.signed,
            "narrow": self.narrow,
        }


@dataclass
class WeightHint:
    """Fixed weight quantization of one layer: symmetric ``bits``-bit codes with a scale
    per output channel (or one for all)."""

    bits: int
    scale: list[float]


@dataclass
class QuantHints:
    """What a pre-quantized graph fixed: activations by tensor, weights by layer."""

    kind: str = ""  # "QDQ", "QCDQ" or "QONNX"; empty for a float graph
    activations: dict[str, ActivationHint] = field(default_factory=dict)
    weights: dict[str, WeightHint] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.kind)


def is_prequantized(model: onnx.ModelProto) -> bool:
    return any(n.op_type in QDQ_OPS or n.op_type in QONNX_OPS for n in model.graph.node)


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Stripper:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.m = model
        self.g = model.graph
        self.consts = {i.name: numpy_helper.to_array(i) for i in self.g.initializer}
        self.hints = QuantHints()
        self.kinds: set[str] = set()

    def const(self, node: onnx.NodeProto, i: int, what: str) -> np.ndarray | None:
        if len(node.input) <= i or not node.input[i]:
            return None
        name = node.input[i]
        if name not in self.consts:
            raise UnsupportedModelError(node.name, node.op_type, f"{what} must be a constant")
        return self.consts[name]

    def users(self, tensor: str) -> list[onnx.NodeProto]:
        return [n for n in self.g.node if tensor in n.input]

    # ------------------------------------------------------------------ parameters
    def qdq_params(self, node: onnx.NodeProto, dtype_from: np.ndarray | None) -> tuple:
        """(scale, zero point, bits, signed, axis) of a QuantizeLinear/DequantizeLinear."""
        a = _attrs(node)
        if a.get("block_size", 0):
            raise UnsupportedModelError(node.name, node.op_type, "block quantization")
        scale = self.const(node, 1, "the scale")
        zp = self.const(node, 2, "the zero point")
        if zp is not None:
            elem = helper.np_dtype_to_tensor_dtype(zp.dtype)
        elif dtype_from is not None:
            elem = helper.np_dtype_to_tensor_dtype(dtype_from.dtype)
        else:
            elem = a.get("output_dtype") or onnx.TensorProto.UINT8
        if elem not in _INT_TYPES:
            raise UnsupportedModelError(
                node.name, node.op_type, f"{onnx.TensorProto.DataType.Name(elem)} quantization"
            )
        bits, signed = _INT_TYPES[elem]
        zp = np.zeros_like(scale, np.int64) if zp is None else zp.astype(np.int64)
        return scale.astype(np.float64), zp, bits, signed, int(a.get("axis", 1))

    # ------------------------------------------------------------------ rewiring
    def replace_tensor(self, old: str, new: str) -> None:
        for n in self.g.node:
            for i, name in enumerate(n.input):
                if name == old:
                    n.input[i] = new
        for o in self.g.output:
            if o.name == old:
                o.name = new

    def add_const(self, name: str, value: np.ndarray) -> None:
        self.g.initializer.append(numpy_helper.from_array(value.astype(np.float32), name))
        self.consts[name] = value.astype(np.float32)

    def weight(
        self,
        out: str,
        codes: np.ndarray,
        scale,
        zp,
        bits: int,
        axis: int,
        node: onnx.NodeProto,
    ) -> None:
        """Replace ``out`` by its float value and hint every layer that reads it."""
        if np.any(np.asarray(zp) != 0):
            raise UnsupportedModelError(
                node.name, node.op_type, "weights with a non-zero zero point (asymmetric)"
            )
        s = np.asarray(scale, np.float64)
        shape = [1] * codes.ndim
        if s.size > 1:
            shape[axis % codes.ndim] = -1
        self.add_const(out, codes.astype(np.float64) * s.reshape(shape))
        for user in self.users(out):
            if user.op_type in ("Conv", "Gemm", "MatMul") and list(user.input).index(out) == 1:
                per = s.reshape(-1).tolist()
                if user.op_type == "MatMul" and s.size > 1 and axis % codes.ndim != 1:
                    raise UnsupportedModelError(
                        node.name, node.op_type, "MatMul weights quantized per input row"
                    )
                self.hints.weights[user.name] = WeightHint(bits, per)

    def activation(self, x: str, out: str, hint: ActivationHint) -> None:
        self.hints.activations.setdefault(x, hint)
        self.replace_tensor(out, x)

    # ------------------------------------------------------------------ patterns
    def strip(self) -> QuantHints:
        for node in list(self.g.node):
            if node not in self.g.node:
                continue
            if node.op_type == "QuantizeLinear":
                self.quantize_linear(node)
            elif node.op_type == "DequantizeLinear":
                self.dequantize_linear(node)
            elif node.op_type in QONNX_OPS:
                self.qonnx_quant(node)
        left = [n for n in self.g.node if n.op_type in (*QDQ_OPS, *QONNX_OPS)]
        if left:
            n = left[0]
            raise UnsupportedModelError(
                n.name, n.op_type, "a quantization node outside a Q -> DQ pair"
            )
        self.hints.kind = (
            "QONNX" if "QONNX" in self.kinds else ("QCDQ" if "QCDQ" in self.kinds else "QDQ")
        )
        return self.hints

    def quantize_linear(self, q: onnx.NodeProto) -> None:
        users = self.users(q.output[0])
        chain = [q]
        lo = hi = None
        if len(users) == 1 and users[0].op_type == "Clip":
            clip = users[0]
            lo, hi = self.const(clip, 1, "Clip's min"), self.const(clip, 2, "Clip's max")
            chain.append(clip)
            users = self.users(clip.output[0])
            self.kinds.add("QCDQ")
        if not users or any(u.op_type != "DequantizeLinear" for u in users):
            why = "QuantizeLinear must feed DequantizeLinear (integer tensors are not used)"
            raise UnsupportedModelError(q.name, q.op_type, why)
        scale, zp, bits, signed, axis = self.qdq_params(q, None)
        for dq in users:
            s2, z2, _, _, _ = self.qdq_params(
                dq, self.consts.get(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else None
            )
            if not (np.array_equal(s2, scale) and np.array_equal(z2, zp)):
                raise UnsupportedModelError(
                    dq.name, dq.op_type, "scale or zero point differs from its QuantizeLinear"
                )
        qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        narrow = False
        if lo is not None:
            qmin, qmax = max(qmin, int(lo)), min(qmax, int(hi))
            narrow = signed and qmin == -(2 ** (bits - 1)) + 1
            bits = _bits_of(qmin, qmax, signed, bits)
        x = q.input[0]
        if x in self.consts:
            codes = np.clip(
                np.rint(self.consts[x] / _bcast(scale, axis, self.consts[x].ndim))
                + _bcast(zp, axis, self.consts[x].ndim),
                qmin,
                qmax,
            )
            for dq in users:
                self.weight(dq.output[0], codes, scale, zp, bits, axis, dq)
        else:
            if scale.size != 1:
                raise UnsupportedModelError(q.name, q.op_type, "per-axis activation scales")
            hint = _activation_hint(
                float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0]), bits, signed, narrow
            )
            for dq in users:
                self.activation(x, dq.output[0], hint)
        for n in chain + users:
            self.g.node.remove(n)

    def dequantize_linear(self, dq: onnx.NodeProto) -> None:
        w = dq.input[0]
        if w not in self.consts:
            raise UnsupportedModelError(
                dq.name,
                dq.op_type,
                "DequantizeLinear of a run-time tensor without its QuantizeLinear",
            )
        codes = self.consts[w]
        if codes.dtype == np.int32:  # a bias (scale = input scale x weight scale): float
            scale = self.const(dq, 1, "the scale").astype(np.float64)
            zp = self.const(dq, 2, "the zero point")
            axis = int(_attrs(dq).get("axis", 1))
            zp = 0 if zp is None else _bcast(zp.astype(np.float64), axis, codes.ndim)
            self.add_const(dq.output[0], (codes - zp) * _bcast(scale, axis, codes.ndim))
            self.g.node.remove(dq)
            return
        scale, zp, bits, _, axis = self.qdq_params(dq, codes)
        self.weight(dq.output[0], codes.astype(np.int64), scale, zp, bits, axis, dq)
        self.g.node.remove(dq)

    def qonnx_quant(self, node: onnx.NodeProto) -> None:
        self.kinds.add("QONNX")
        a = _attrs(node)
        scale = self.const(node, 1, "the scale").astype(np.float64)
        zp = np.rint(self.const(node, 2, "the zero point")).astype(np.int64)
        bits_v = self.const(node, 3, "the bit width")
        bits = int(np.asarray(bits_v).reshape(-1)[0])
        if float(np.asarray(bits_v).reshape(-1)[0]) != bits or not 2 <= bits <= 8:
            raise UnsupportedModelError(
                node.name, node.op_type, f"bit width {bits_v}: 2 to 8 integer bits are supported"
            )
        signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
        mode = a.get("rounding_mode", b"ROUND")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        if narrow:
            qmin, qmax = (qmin + 1, qmax) if signed else (qmin, qmax - 1)
        x, out = node.input[0], node.output[0]
        if x in self.consts:
            w = self.consts[x].astype(np.float64)
            axis = _scale_axis(scale, w)
            r = w / _bcast(scale, axis, w.ndim) + _bcast(zp, axis, w.ndim)
            rounding = {
                "ROUND": np.rint,
                "HALF_EVEN": np.rint,
                "FLOOR": np.floor,
                "CEIL": np.ceil,
                "ROUND_TO_ZERO": np.trunc,
            }.get(mode.upper())
            if rounding is None:
                raise UnsupportedModelError(node.name, node.op_type, f"rounding_mode={mode}")
            r = rounding(r)
            codes = np.clip(r, qmin, qmax)
            self.weight(out, codes, scale, zp, bits, axis, node)
        else:
            if scale.size != 1:
                raise UnsupportedModelError(node.name, node.op_type, "per-axis activation scales")
            hint = _activation_hint(
                float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0]), bits, signed, narrow
            )
            self.activation(x, out, hint)
        self.g.node.remove(node)


def _bcast(v: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    v = np.asarray(v)
    if v.size == 1:
        return v.reshape(())
    shape = [1] * ndim
    shape[axis % ndim] = -1
    return v.reshape(shape)


def _scale_axis(scale: np.ndarray, w: np.ndarray) -> int:
    """The axis a QONNX scale of shape broadcastable to ``w`` varies along."""
    s = np.asarray(scale)
    if s.size == 1:
        return 0
    shape = s.shape if s.ndim == w.ndim else (1,) * (w.ndim - s.ndim) + s.shape
    axes = [i for i, d in enumerate(shape) if d != 1]
    return axes[0] if axes else 0


def _bits_of(qmin: int, qmax: int, signed: bool, bits: int) -> int:
    """The width a Clip narrows a QCDQ range to (Brevitas writes 4-bit as clipped int8)."""
    for b in range(2, bits + 1):
        lo, hi = (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if signed else (0, 2**b - 1)
        if lo <= qmin and qmax <= hi:
            return b
    return bits


def _activation_hint(scale: float, zp: int, bits: int, signed: bool, narrow: bool):
    if not np.isfinite(scale) or scale <= 0:
        raise UnsupportedModelError("", "QuantizeLinear", f"activation scale {scale}")
    return ActivationHint(scale, zp, bits, signed, narrow)


def strip_quantization(model: onnx.ModelProto) -> QuantHints:
    """Remove every fake-quantization node from ``model`` (in place); return the hints."""
    if not is_prequantized(model):
        return QuantHints()
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{node.output[0] if node.output else i}"
    return _Stripper(model).strip()
