"""The quantizer: float IR + calibration statistics -> pure-integer model.

Every Conv/Gemm gets a per-layer scheme (:mod:`plutflow.quant.scheme`): int8 with
unified scale factors (the USPIQ method), uniform k-bit, PoT, UPoT or P-LUT weights, and
activations of 2 to 8 bits with an adaptive scale and zero point. Biases are int32 and
every layer ends in one integer requantization ``(M0, n)`` per channel. Nonlinear
activations become tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from plutflow.arith import INT32_MAX
from plutflow.calib.observers import TensorStats, choose_range
from plutflow.errors import CalibrationError, UnsupportedModelError
from plutflow.intmodel.model import IntLayer, IntModel, TensorSpec
from plutflow.intmodel.schema import validate
from plutflow.ir.graph import Graph, Node
from plutflow.kernels import windows as win
from plutflow.quant.qparams import clamp_codes, spec_from_range
from plutflow.quant.rounding import reconstruct
from plutflow.quant.scheme import LayerScheme, SchemeConfig
from plutflow.quant.tables import activation_table, product_table, softmax_exp_table
from plutflow.quant.usf import REQUANT_BITS, quantize_multiplier, shared_shift
from plutflow.quant.weights import QuantizedWeights, quantize_weights
from plutflow.reference.executor import PRE_SUFFIX

#: Ops whose output reuses the input's quantization (no requantization).
PASS_THROUGH = ("MaxPool", "Reshape", "Flatten", "Transpose", "Slice", "Pad", "Resize")


def root_tensor(graph: Graph, tensor: str) -> str:
    """The tensor whose quantization ``tensor`` shares (through layout/max-pool ops)."""
    prod = graph.producer(tensor)
    while prod is not None and prod.op in PASS_THROUGH:
        tensor = prod.inputs[0]
        prod = graph.producer(tensor)
    return tensor


@dataclass
class QuantConfig:
    """Options of the quantizer.

    ``observer`` sets the range of 8-bit tensors; ``lowbit_observer`` that of tensors
    below 8 bits (``adaptive``: scale and zero point searched together for the least
    reconstruction error).
    """

    observer: str = "minmax"
    percentile: float = 99.99
    requant_bits: int = REQUANT_BITS
    meta: dict[str, Any] = field(default_factory=dict)
    schemes: SchemeConfig = field(default_factory=SchemeConfig)
    lowbit_observer: str = "adaptive"
    bias_correction: bool = True
    #: tensor name -> (lo, hi): ranges fixed by a task-loss search (``quant.tasktune``)
    range_overrides: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: weight rounding below 8 bits: "nearest", or "reconstruct" (``quant.rounding``:
    #: up or down per weight for the least layer-output error on calibration data)
    rounding: str = "nearest"
    #: fixed quantization from a pre-quantized model (:mod:`plutflow.ir.prequant`):
    #: activations by tensor name, weights by layer name; used as given
    fixed: Any = None


class IntBuilder:
    """Walks the IR in order and emits integer layers."""

    def __init__(
        self,
        graph: Graph,
        stats: dict[str, TensorStats],
        config: QuantConfig,
        weight_cache: dict | None = None,
        hessians: dict[str, list[np.ndarray]] | None = None,
    ) -> None:
        self.g, self.stats, self.cfg = graph, stats, config
        self.hessians = hessians or {}
        # quantized weights depend only on the graph, stats and scheme: reusable across builds
        self.weight_cache = {} if weight_cache is None else weight_cache
        self.specs: dict[str, TensorSpec] = {}
        self.layers: list[IntLayer] = []
        self.constants: dict[str, np.ndarray] = {}
        self.weight_report: dict[str, dict[str, Any]] = {}
        self.decisions: list[dict[str, str]] = []
        self.layer_schemes = self._assign_schemes()
        self.tensor_bits = self._tensor_bits()

    def _assign_schemes(self) -> dict[str, LayerScheme]:
        mac_nodes = [n for n in self.g.nodes if n.op in ("Conv", "Gemm")]
        out = {
            n.name: self.cfg.schemes.for_layer(n.name, i, len(mac_nodes), self.g.is_depthwise(n))
            for i, n in enumerate(mac_nodes)
        }
        fixed = self.cfg.fixed
        if fixed:  # a pre-quantized model's widths replace the recipe's
            for n in mac_nodes:
                w = fixed.weights.get(n.name)
                a = fixed.activations.get(root_tensor(self.g, n.inputs[0]))
                wbits = w.bits if w else out[n.name].wbits
                abits = a.bits if a else out[n.name].abits
                if w or a:
                    kind = out[n.name].weights if not w else "int8" if wbits == 8 else "uniform"
                    out[n.name] = LayerScheme(kind, wbits, max(abits, 2))
        return out

    def _tensor_bits(self) -> dict[str, int]:
        """Activation width of each tensor: the widest request of the layers reading it."""
        bits: dict[str, int] = {}
        for node in self.g.nodes:
            if node.name in self.layer_schemes:
                root = root_tensor(self.g, node.inputs[0])
                bits[root] = max(bits.get(root, 2), self.layer_schemes[node.name].abits)
        return bits

    # ------------------------------------------------------------------ helpers
    def _input_moments(self, node: Node, w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Mean and mean square of the input each weight multiplies, shaped like ``w``."""
        stats = self.stats.get(node.inputs[0])
        moments = stats.channel_moments() if stats is not None else None
        if moments is None:
            return None
        mean, sq = moments
        m = w.shape[0]
        if node.op == "Gemm":
            if mean.shape[0] != w.shape[1]:
                return None
            return np.broadcast_to(mean, w.shape), np.broadcast_to(sq, w.shape)
        group = int(node.attrs.get("group", 1))
        cg = w.shape[1]
        chan = (np.arange(m)[:, None] // (m // group)) * cg + np.arange(cg)[None, :]  # (M, Cg)
        tail = (1,) * (w.ndim - 2)
        return (
            np.broadcast_to(mean[chan].reshape(m, cg, *tail), w.shape),
            np.broadcast_to(sq[chan].reshape(m, cg, *tail), w.shape),
        )

    def _shape(self, name: str) -> tuple:
        """The graph's shape of ``name``, or a derived tensor's (a requantized copy)."""
        if name not in self.g.shapes and name in self.specs:
            return tuple(self.specs[name].shape)
        return tuple(self.g.shapes.get(name, ()))

    def _observed(
        self, name: str, node: Node, signed: bool | None = None, bits: int | None = None
    ) -> TensorSpec:
        if name not in self.stats:
            raise UnsupportedModelError(
                node.name, node.op, f"tensor '{name}' was never observed during calibration"
            )
        hint = self.cfg.fixed.activations.get(name) if self.cfg.fixed else None
        if hint is not None and bits in (None, hint.bits):
            return _fixed_spec(hint, self._shape(name.removesuffix(PRE_SUFFIX)))
        bits = bits or self.tensor_bits.get(name, 8)
        method = self.cfg.observer if bits >= 8 else self.cfg.lowbit_observer
        if name in self.cfg.range_overrides:
            lo, hi = self.cfg.range_overrides[name]
        else:
            lo, hi = choose_range(self.stats[name], method, self.cfg.percentile, bits)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise CalibrationError(
                f"tensor '{name}' (node {node.name}) took values in [{lo}, {hi}] on the "
                "calibration data: the float model overflows or produces NaN there"
            )
        shape = self._shape(name.removesuffix(PRE_SUFFIX))
        return spec_from_range(lo, hi, shape, signed, bits)

    def spec(self, name: str, node: Node) -> TensorSpec:
        """The spec of an input tensor: an earlier layer's output or a quantized constant."""
        if name in self.specs:
            return self.specs[name]
        if self.g.is_constant(name):
            value = self.g.const(name).astype(np.float64)
            if not np.all(np.isfinite(value)):
                why = f"constant '{name}' holds NaN or infinite values"
                raise UnsupportedModelError(node.name, node.op, why)
            spec = spec_from_range(value.min(), value.max(), value.shape)
            self.constants[name] = spec.quantize(value)
            self.specs[name] = spec
            return spec
        raise UnsupportedModelError(node.name, node.op, f"input '{name}' has no quantization")

    def _require_static(self, node: Node, name: str) -> tuple[int, ...]:
        shape = self._shape(name)
        if not shape or any(d is None for d in shape[1:]):
            raise UnsupportedModelError(
                node.name,
                node.op,
                f"tensor '{name}' needs a static shape apart from the batch, got {shape}; "
                "give the model input a size with --input-shape NAME=1x3xHxW (or "
                "input_shape in the preprocessing config)",
            )
        return shape

    def _emit(
        self,
        node: Node,
        op: str,
        inputs: list[str],
        spec: TensorSpec,
        attrs: dict,
        params: dict | None = None,
    ) -> None:
        out = node.outputs[0]
        self.specs[out] = spec
        self.layers.append(IntLayer(node.name, op, inputs, [out], attrs, params or {}, [node.name]))

    # ------------------------------------------------------------------ layers
    def conv_or_gemm(self, node: Node) -> None:
        x = node.inputs[0]
        if node.op == "Gemm" and (
            node.attrs.get("transB") != 1 or set(node.attrs) - {"transB", "act"}
        ):
            raise UnsupportedModelError(
                node.name,
                node.op,
                "only Gemm with constant weights, no transA and a per-column bias can be quantized",
            )
        if not all(self.g.is_constant(i) for i in node.inputs[1:] if i):
            raise UnsupportedModelError(node.name, node.op, "weights must be constant")
        in_spec = self.spec(x, node)
        scheme = self.layer_schemes[node.name]
        if scheme.weights == "plut" and in_spec.bits > 4:
            x, in_spec = self._narrowed(node, x, in_spec, min(scheme.abits, 4))
        w = self.g.const(node.inputs[1]).astype(np.float64)
        m = w.shape[0]
        b = (
            self.g.const(node.inputs[2]).astype(np.float64)
            if len(node.inputs) > 2 and node.inputs[2]
            else np.zeros(m)
        )
        moments = self._input_moments(node, w)
        qw = self._quantized_weights(node, w, scheme, moments)
        wq, w_scale = qw.values, qw.scale
        if moments is not None and self.cfg.bias_correction:
            # expected output shift caused by the weight error, folded into the bias
            err = w - wq * w_scale.reshape(-1, *([1] * (w.ndim - 1)))
            b = b + (err * moments[0]).reshape(m, -1).sum(axis=1)
        bias, shift_f, acc_bound = self._accumulator(node, b, wq, w_scale, in_spec)
        out_spec, attrs, params = self._output_stage(node, in_spec.scale * w_scale / 2**shift_f)
        attrs.update(acc_bound=acc_bound, bias_shift=shift_f)
        attrs.update(weight_scheme=qw.scheme, weight_bits=qw.bits)
        params["bias"] = bias.astype(np.int32)
        if qw.codes is None:
            params["weight"] = wq
        else:
            params.update(weight_codes=qw.codes, levels=qw.levels)
            if qw.terms:
                attrs["terms"] = qw.terms
        if qw.scheme == "plut":
            params["product_table"] = product_table(qw.levels, qw.bits, in_spec)
        if node.op == "Conv":
            shape = self._require_static(node, x)
            geom = win.resolve(
                shape[2:],
                list(w.shape[2:]),
                node.attrs.get("strides"),
                node.attrs.get("dilations"),
                node.attrs.get("pads"),
                node.attrs.get("auto_pad", "NOTSET"),
            )
            attrs.update(
                kernel=list(geom.kernel),
                strides=list(geom.strides),
                dilations=list(geom.dilations),
                pads=list(geom.pads_begin) + list(geom.pads_end),
                group=int(node.attrs.get("group", 1)),
                pad_value=int(in_spec.zero_point),
            )
        self._emit(node, node.op.lower(), [x], out_spec, attrs, params)

    def _narrowed(self, node: Node, x: str, in_spec: TensorSpec, bits: int) -> tuple:
        """The rule for a tensor whose readers want different widths (docs/spec.md 4):
        the tensor keeps the widest request, and a P-LUT reader, which cannot take more
        than 4 bits, reads a ``bits``-wide copy made by a requantizing table layer (one
        per tensor and width, shared by every such reader)."""
        name = f"{x}::a{bits}"
        if name not in self.specs:
            spec = self._observed(x, node, bits=bits)
            codes = np.arange(in_spec.qmin, in_spec.qmax + 1)
            table = spec.quantize(in_spec.dequantize(codes))
            self.specs[name] = spec
            self.layers.append(IntLayer(f"{x}::requant_a{bits}", "table", [x], [name],
                                        {"activation": "Requantize"}, {"table": table},
                                        [node.name]))  # fmt: skip
        self.decisions.append({
            "layer": node.name, "tensor": x,
            "decision": f"reads a {bits}-bit copy of '{x}' (P-LUT takes at most 4 bits; "
                        f"another reader keeps it at {in_spec.bits})"})  # fmt: skip
        return name, self.specs[name]

    def _quantized_weights(
        self,
        node: Node,
        w: np.ndarray,
        scheme: LayerScheme,
        moments: tuple[np.ndarray, np.ndarray] | None,
    ) -> QuantizedWeights:
        """The layer's weights under ``scheme``, errors weighted by the input's mean square."""
        rounding = self.cfg.rounding if scheme.wbits < 8 and node.name in self.hessians else ""
        key = (node.name, scheme, rounding)
        hint = self.cfg.fixed.weights.get(node.name) if self.cfg.fixed else None
        if hint is not None:
            key = (node.name, "fixed")
            self.weight_cache[key] = _fixed_weights(w, hint)
        if key not in self.weight_cache:
            importance = None if moments is None or scheme.wbits >= 8 else moments[1]
            qw = quantize_weights(w, scheme.weights, scheme.wbits, scheme.plut_base, importance)
            if rounding == "reconstruct":
                qw = reconstruct(qw, w, self.hessians[node.name])
            self.weight_cache[key] = qw
        qw = self.weight_cache[key]
        self.weight_report[node.name] = {
            "scheme": qw.scheme,
            "bits": qw.bits,
            "sqnr_db": qw.sqnr_db(w),
            "mse": qw.mse(w),
        }
        return qw

    def _accumulator(
        self, node: Node, b: np.ndarray, wq: np.ndarray, w_scale: np.ndarray, in_spec: TensorSpec
    ) -> tuple[np.ndarray, int, int]:
        """The int32 bias (input zero point folded in), the bias shift ``f`` and the bound
        of the products' sum. Small integer weights (k-bit codes) give a coarse
        accumulator step; shifting the products left by ``f`` bits before adding the bias
        keeps the bias as precise as with int8 weights."""
        m = wq.shape[0]
        wsum = wq.reshape(m, -1).astype(np.int64).sum(axis=1)
        amax_in = max(abs(in_spec.qmin), abs(in_spec.qmax))
        acc_bound = int(amax_in * np.abs(wq.reshape(m, -1)).astype(np.int64).sum(axis=1).max())
        wmax = int(np.abs(wq).max())
        for shift_f in range(max(0, 6 - int(np.log2(wmax))) if wmax else 0, -1, -1):
            bias_q = np.rint(b * 2.0**shift_f / (in_spec.scale * w_scale)).astype(np.int64)
            bias = bias_q - (in_spec.zero_point * wsum << shift_f)
            if (acc_bound << shift_f) + int(np.abs(bias).max()) <= INT32_MAX:
                return bias, shift_f, acc_bound
        raise UnsupportedModelError(
            node.name,
            node.op,
            "the int32 accumulator could overflow (too many taps or too large a bias)",
        )

    def _output_stage(self, node: Node, acc_scale: np.ndarray) -> tuple[TensorSpec, dict, dict]:
        """Requantization (and fused activation) of an accumulator with real scale ``acc_scale``."""
        out = node.outputs[0]
        act = node.attrs.get("act")
        out_spec = self._observed(out, node, signed=None)
        attrs: dict[str, Any] = {"activation": act["op"]} if act else {}
        params: dict[str, np.ndarray] = {}
        if act is None or act["op"] in ("Relu", "Clip"):
            lo_real = 0.0 if act else None
            hi_real = None
            if act and act["op"] == "Clip":
                lo_real, hi_real = act.get("min"), act.get("max")
            attrs["lo"], attrs["hi"] = clamp_codes(out_spec, lo_real, hi_real)
            target = out_spec
        else:
            mid = self._observed(out + PRE_SUFFIX, node, signed=True, bits=8)
            act_params = dict(act)
            if act["op"] == "PRelu":
                act_params["slope"] = self.g.const(act["slope"]).reshape(-1)
            params["table"] = activation_table(act["op"], act_params, mid, out_spec)
            attrs.update(
                lo=mid.qmin, hi=mid.qmax, mid_zero_point=mid.zero_point, mid_scale=mid.scale
            )
            target = mid
        m0, n = quantize_multiplier(np.asarray(acc_scale) / target.scale, self.cfg.requant_bits)
        params["mult"], params["shift"] = m0, n
        return out_spec, attrs, params

    def pool(self, node: Node) -> None:
        x = node.inputs[0]
        in_spec = self.spec(x, node)
        shape = self._require_static(node, x)
        a = node.attrs
        geom = win.resolve(
            shape[2:],
            a["kernel_shape"],
            a.get("strides"),
            a.get("dilations"),
            a.get("pads"),
            a.get("auto_pad", "NOTSET"),
            bool(a.get("ceil_mode", 0)),
        )
        attrs = dict(
            kernel=list(geom.kernel),
            strides=list(geom.strides),
            dilations=list(geom.dilations),
            pads=list(geom.pads_begin) + list(geom.pads_end),
            ceil_mode=int(a.get("ceil_mode", 0)),
        )
        if node.op == "MaxPool":
            spec = replace(in_spec, shape=self._shape(node.outputs[0]))
            self._emit(node, "maxpool", [x], spec, attrs)
            return
        out_spec = self._observed(node.outputs[0], node)
        kmax = int(np.prod(geom.kernel))
        mults, shift = shared_shift(
            [in_spec.scale / (out_spec.scale * c) for c in range(1, kmax + 1)],
            self.cfg.requant_bits,
        )
        attrs.update(
            count_include_pad=int(a.get("count_include_pad", 0)),
            shift=shift,
            lo=out_spec.qmin,
            hi=out_spec.qmax,
        )
        self._emit(
            node, "avgpool", [x], out_spec, attrs, {"mult": np.asarray([0, *mults], dtype=np.int32)}
        )

    def global_pool(self, node: Node) -> None:
        x = node.inputs[0]
        in_spec = self.spec(x, node)
        count = int(np.prod(self._require_static(node, x)[2:]))
        out_spec = self._observed(node.outputs[0], node)
        m0, n = quantize_multiplier(in_spec.scale / (out_spec.scale * count), self.cfg.requant_bits)
        self._emit(
            node,
            "global_avgpool",
            [x],
            out_spec,
            {"mult": int(m0), "shift": int(n), "lo": out_spec.qmin, "hi": out_spec.qmax},
        )

    def add(self, node: Node) -> None:
        sa, sb = (self.spec(i, node) for i in node.inputs)
        out_spec = self._observed(node.outputs[0], node)
        (ma, mb), n = shared_shift(
            [sa.scale / out_spec.scale, sb.scale / out_spec.scale], self.cfg.requant_bits
        )
        act = node.attrs.get("act")
        lo_real = hi_real = None
        if act:
            lo_real = 0.0 if act["op"] == "Relu" else act.get("min")
            hi_real = act.get("max") if act["op"] == "Clip" else None
        lo, hi = clamp_codes(out_spec, lo_real, hi_real)
        self._emit(
            node,
            "add",
            list(node.inputs),
            out_spec,
            {"mult_a": ma, "mult_b": mb, "shift": n, "lo": lo, "hi": hi},
        )

    def mul(self, node: Node) -> None:
        sa, sb = (self.spec(i, node) for i in node.inputs)
        out_spec = self._observed(node.outputs[0], node)
        m0, n = quantize_multiplier(sa.scale * sb.scale / out_spec.scale, self.cfg.requant_bits)
        self._emit(
            node,
            "mul",
            list(node.inputs),
            out_spec,
            {"mult": int(m0), "shift": int(n), "lo": out_spec.qmin, "hi": out_spec.qmax},
        )

    def concat(self, node: Node) -> None:
        specs = [self.spec(i, node) for i in node.inputs]
        out_spec = self._observed(node.outputs[0], node)
        mults: list[int | None] = []
        shifts: list[int | None] = []
        for s in specs:
            if (s.scale, s.zero_point, s.dtype) == (
                out_spec.scale,
                out_spec.zero_point,
                out_spec.dtype,
            ):
                mults.append(None)
                shifts.append(None)
            else:
                m0, n = quantize_multiplier(s.scale / out_spec.scale, self.cfg.requant_bits)
                mults.append(int(m0))
                shifts.append(int(n))
        rank = len(self._shape(node.outputs[0])) or len(self._shape(node.inputs[0]))
        axis = node.attrs["axis"] % rank
        self._emit(
            node,
            "concat",
            list(node.inputs),
            out_spec,
            {"axis": axis, "mults": mults, "shifts": shifts},
        )

    def activation(self, node: Node) -> None:
        x = node.inputs[0]
        in_spec = self.spec(x, node)
        out_spec = self._observed(node.outputs[0], node)
        params = dict(node.attrs)
        if node.op == "PRelu":
            if not self.g.is_constant(node.inputs[1]):
                raise UnsupportedModelError(node.name, node.op, "slope must be constant")
            params["slope"] = self.g.const(node.inputs[1]).reshape(-1)
        if node.op == "Clip" and len(node.inputs) > 1:
            raise UnsupportedModelError(node.name, node.op, "bounds must be constant")
        table = activation_table(node.op, params, in_spec, out_spec)
        self._emit(node, "table", [x], out_spec, {"activation": node.op}, {"table": table})

    def layout(self, node: Node) -> None:
        x = node.inputs[0]
        in_spec = self.spec(x, node)
        out_shape = self._shape(node.outputs[0])
        spec = replace(in_spec, shape=out_shape)  # same codes: same quantization and bits
        if node.op == "Transpose":
            perm = node.attrs.get("perm") or list(range(len(self._shape(x))))[::-1]
            self._emit(node, "transpose", [x], spec, {"perm": [int(p) for p in perm]})
        elif node.op == "Flatten":
            axis = node.attrs.get("axis", 1)
            axis = axis + len(self._shape(x)) if axis < 0 else axis
            self._emit(node, "flatten", [x], spec, {"axis": int(axis)})
        else:
            if not self.g.is_constant(node.inputs[1]):
                raise UnsupportedModelError(node.name, node.op, "target shape must be constant")
            target = [int(s) for s in self.g.const(node.inputs[1])]
            in_shape = self._shape(x)
            if in_shape and in_shape[0] is None and target and target[0] not in (0, -1):
                raise UnsupportedModelError(
                    node.name,
                    node.op,
                    f"target shape {target} fixes the batch size; re-export with a dynamic batch",
                )
            if node.attrs.get("allowzero", 0) and 0 in target:
                raise UnsupportedModelError(node.name, node.op, "allowzero=1 is not supported")
            self._emit(node, "reshape", [x], spec, {"shape": target})

    def movement(self, node: Node) -> None:
        """Slice, Pad and nearest Resize move codes: the output keeps the input's
        quantization. A constant pad value becomes its code (exact for 0, which every
        activation grid holds)."""
        x = node.inputs[0]
        in_spec = self.spec(x, node)
        self._require_static(node, x)
        spec = replace(in_spec, shape=self._shape(node.outputs[0]))
        a = node.attrs
        if node.op == "Slice":
            self._emit(node, "slice", [x], spec, {"slices": a["slices"]})
        elif node.op == "Resize":
            self._emit(node, "resize_nearest", [x], spec, {"index": a["index"]})
        else:
            code = int(in_spec.quantize(np.asarray(a["value"])))
            self._emit(node, "pad", [x], spec, {"pads": a["pads"], "mode": a["mode"],
                                                "value": code})  # fmt: skip

    def reduce_mean(self, node: Node) -> None:
        raise UnsupportedModelError(
            node.name,
            node.op,
            f"a mean over axes {node.attrs['axes']} has no integer implementation (only the "
            "mean over all spatial axes, global average pooling, has)",
        )

    def softmax(self, node: Node) -> None:
        x = node.inputs[0]
        in_spec = self.spec(x, node)
        rank = len(self._shape(x))
        axis = node.attrs.get("axis", -1) % rank
        if node.attrs.get("legacy_2d") and axis != rank - 1:
            raise UnsupportedModelError(node.name, node.op, "opset<13 softmax over several axes")
        out_spec = TensorSpec(self._shape(node.outputs[0]), "uint8", 0, 1.0 / 255.0)  # 8 bits
        self._emit(
            node,
            "softmax",
            [x],
            out_spec,
            {"axis": axis},
            {"exp_table": softmax_exp_table(in_spec)},
        )

    # ------------------------------------------------------------------ driver
    def build(self) -> IntModel:
        for name in self.g.inputs:
            self.specs[name] = self._observed(name, Node("Input", name, [], [name]))
        dispatch = {
            "Conv": self.conv_or_gemm, "Gemm": self.conv_or_gemm,
            "MaxPool": self.pool, "AveragePool": self.pool,
            "GlobalAveragePool": self.global_pool,
            "Add": self.add, "Mul": self.mul, "Concat": self.concat,
            "Reshape": self.layout, "Flatten": self.layout, "Transpose": self.layout,
            "Slice": self.movement, "Pad": self.movement, "Resize": self.movement,
            "ReduceMean": self.reduce_mean,
            "Softmax": self.softmax,
            **{op: self.activation for op in ("Relu", "Clip", "LeakyRelu", "PRelu", "HardSigmoid",
                                              "HardSwish", "Sigmoid", "SiLU")},
        }  # fmt: skip
        for node in self.g.nodes:
            handler = dispatch.get(node.op)
            if handler is None:
                raise UnsupportedModelError(
                    node.name, node.op, "cannot be quantized to integer (no integer implementation)"
                )
            handler(node)
        tensors = dict(self.specs)
        return IntModel(
            name=self.g.name,
            inputs=list(self.g.inputs),
            outputs=list(self.g.outputs),
            tensors=tensors,
            layers=self.layers,
            constants=self.constants,
            meta={
                "quantizer": {
                    "observer": self.cfg.observer,
                    "lowbit_observer": self.cfg.lowbit_observer,
                    "requant_bits": self.cfg.requant_bits,
                    "rounding": self.cfg.rounding,
                    "layers": {k: v.label for k, v in self.layer_schemes.items()},
                    "weights": self.weight_report,
                    "decisions": self.decisions,
                    **(
                        {
                            "prequantized": {
                                "kind": self.cfg.fixed.kind,
                                "activations": {
                                    k: h.to_json() for k, h in self.cfg.fixed.activations.items()
                                },
                                "weights": {k: h.bits for k, h in self.cfg.fixed.weights.items()},
                            }
                        }
                        if self.cfg.fixed
                        else {}
                    ),
                },
                **self.cfg.meta,
            },
        )


def _fixed_spec(hint: Any, shape: tuple) -> TensorSpec:
    """The exact TensorSpec of a pre-quantized activation (unsigned codes with a non-zero
    zero point become the equivalent signed codes)."""
    half = 2 ** (hint.bits - 1)
    if hint.signed:
        return TensorSpec(tuple(shape), "int8", int(hint.zero_point), float(hint.scale), hint.bits)
    if hint.zero_point == 0:
        return TensorSpec(tuple(shape), "uint8", 0, float(hint.scale), hint.bits)
    return TensorSpec(tuple(shape), "int8", int(hint.zero_point) - half, float(hint.scale),
                      hint.bits)  # fmt: skip


def _fixed_weights(w: np.ndarray, hint: Any) -> QuantizedWeights:
    """A pre-quantized layer's weights: its own codes and per-channel scale (codes at the
    asymmetric end of the range, -2^(b-1), move to -(2^(b-1) - 1))."""
    m = w.shape[0]
    scale = np.broadcast_to(np.asarray(hint.scale, np.float64).reshape(-1), (m,)).copy()
    if scale.size != m:
        scale = np.full(m, float(np.asarray(hint.scale).reshape(-1)[0]))
    qmax = 2 ** (hint.bits - 1) - 1
    flat = w.reshape(m, -1).astype(np.float64)
    values = np.clip(np.rint(flat / scale[:, None]), -qmax, qmax).reshape(w.shape)
    kind = "int8" if hint.bits == 8 else "uniform"
    return QuantizedWeights(kind, hint.bits, values.astype(np.int8), scale)


def quantize(
    graph: Graph,
    stats: dict[str, TensorStats],
    config: QuantConfig | None = None,
    weight_cache: dict | None = None,
    hessians: dict[str, list[np.ndarray]] | None = None,
) -> IntModel:
    """Build the integer model of ``graph`` from calibration ``stats`` (default: INT8-USF).

    ``weight_cache`` (a dict) keeps quantized weights between builds of the same graph;
    ``hessians`` (:func:`plutflow.quant.rounding.input_hessians`) are needed by
    ``config.rounding == "reconstruct"``.
    """
    config = config or QuantConfig()
    if config.fixed is None and graph.quant_hints:
        config = replace(config, fixed=graph.quant_hints)
    model = IntBuilder(graph, stats, config, weight_cache, hessians).build()
    validate(model)  # nothing outside docs/spec.md leaves the quantizer
    return model


#: The INT8-USF quantizer is the default configuration.
quantize_int8 = quantize
