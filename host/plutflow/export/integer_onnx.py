"""An :class:`~plutflow.intmodel.IntModel` as a plain ONNX graph of integer ops that
onnxruntime runs bit-exactly with the golden executor (docs/export.md).

Tensors keep golden's codes, dtypes and NCHW layout. Products run as ``ConvInteger`` /
``MatMulInteger`` on uint8 x uint8 (activation codes offset by 128 for int8 tensors,
weights by 128, with the offsets as zero points): exact on every CPU, unlike u8 x s8,
which saturates on AVX2 without VNNI. Requantization is int64 arithmetic (floor
division by ``Mod`` and ``Div``), or float64 where golden's exactness bound allows
(docs/spec.md 3.12). Every golden op has a translation; an exported graph's every
output equals golden's.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from plutflow.arith import code_range
from plutflow.errors import PlutflowError
from plutflow.fast.pack import epilogue, split_weights
from plutflow.intmodel.model import IntLayer, IntModel, TensorSpec
from plutflow.intmodel.schema import integer_weights, weight_scheme
from plutflow.kernels import windows as win
from plutflow.quant.tables import table_is_product

OPSET = 17
_ONNX_DTYPE = {"int8": TensorProto.INT8, "uint8": TensorProto.UINT8}
_INT32_LIMIT = 2**31


class ExportError(PlutflowError):
    """The model holds a layer this exporter cannot write exactly."""


def _offset(spec: TensorSpec) -> int:
    return 128 if spec.dtype == "int8" else 0


class _Graph:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"{hint}__{self.count}"

    def const(self, value, hint: str = "c") -> str:
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op: str, inputs: list[str], hint: str = "t", out: str | None = None,
           **attrs) -> str:  # fmt: skip
        out = out or self.fresh(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    # ---------------------------------------------------------------- integer helpers
    def i64(self, x: str) -> str:
        return self.op("Cast", [x], "i64", to=TensorProto.INT64)

    def to_u8(self, x: str, spec: TensorSpec) -> str:
        """Codes as uint8 ``q + off`` (off 128 for int8)."""
        if spec.dtype == "uint8":
            return x
        wide = self.op("Add", [self.op("Cast", [x], to=TensorProto.INT16),
                               self.const(np.int16(128))])  # fmt: skip
        return self.op("Cast", [wide], "u8", to=TensorProto.UINT8)

    def rounding_shift(self, t: str, n: np.ndarray) -> str:
        """``(t + 2**(n-1)) >> n`` (arithmetic) for int64 ``t``: floor division by Mod/Div."""
        n = np.asarray(n, np.int64)
        if not n.any():
            return t
        half = np.where(n > 0, np.left_shift(np.int64(1), np.maximum(n - 1, 0)), 0)
        div = np.left_shift(np.int64(1), n)
        t = self.op("Add", [t, self.const(half.astype(np.int64))])
        d = self.const(div.astype(np.int64))
        rem = self.op("Mod", [t, d], fmod=0)  # the sign of the divisor: 0 <= rem < 2**n
        return self.op("Div", [self.op("Sub", [t, rem]), d])  # exact: no rounding left

    def clamp_cast(self, v: str, lo: int, hi: int, dtype: str, out: str | None = None) -> str:
        v = self.op("Min", [self.op("Max", [v, self.const(np.int64(lo))]),
                            self.const(np.int64(hi))])  # fmt: skip
        return self.op("Cast", [v], out=out, to=_ONNX_DTYPE[dtype])

    def requantize(self, acc: str, mult, shift, zp: int, lo: int, hi: int, dtype: str,
                   out: str | None = None) -> str:  # fmt: skip
        """golden's ``requantize``: ``clamp(rshift(acc * M0, n) + z, lo, hi)``."""
        t = self.op("Mul", [acc, self.const(np.asarray(mult, np.int64))])
        t = self.op("Add", [self.rounding_shift(t, shift), self.const(np.int64(zp))])
        return self.clamp_cast(t, lo, hi, dtype, out)


def _channel_shape(values: np.ndarray, ndim: int) -> np.ndarray:
    """Per-channel constants broadcast along axis 1 of an ``ndim``-d tensor."""
    v = np.asarray(values)
    return v.reshape((1, -1) + (1,) * (ndim - 2)) if v.ndim and v.size > 1 else v.reshape(())


class _Exporter:
    def __init__(self, model: IntModel) -> None:
        self.model, self.g = model, _Graph()

    def spec(self, name: str) -> TensorSpec:
        return self.model.tensors[name]

    def layer(self, lay: IntLayer) -> None:
        fn = getattr(self, f"op_{lay.op}", None)
        if fn is None:
            raise ExportError(f"layer '{lay.name}': op {lay.op} has no integer ONNX form")
        fn(lay)

    # ------------------------------------------------------------- conv and gemm
    def _weights(self, lay: IntLayer) -> np.ndarray:
        in_spec = self.spec(lay.inputs[0])
        if weight_scheme(lay) == "plut" and not table_is_product(lay, in_spec):
            raise ExportError(f"layer '{lay.name}': its P-LUT table is not a product")
        return np.asarray(integer_weights(lay), np.int64)

    def _sums(self, lay: IntLayer, w: np.ndarray, conv: bool) -> str:
        """int64 ``sum w * q`` (golden's accumulator) by uint8 x uint8 products."""
        g, x, in_spec = self.g, lay.inputs[0], self.spec(lay.inputs[0])
        parts = split_weights(w)
        if parts is None:
            raise ExportError(f"layer '{lay.name}': weights beyond 14 bits")
        k = int(np.prod(w.shape[1:]))
        if 255 * 255 * k >= _INT32_LIMIT:  # the kernel's u8 x u8 partial sums stay int32
            raise ExportError(f"layer '{lay.name}': {k} products per output overflow int32")
        xu, off = g.to_u8(x, in_spec), _offset(in_spec)
        a = lay.attrs
        if conv:
            nd = len(a["kernel"])
            pads = list(a["pads"])
            if any(pads):
                pad_u = np.uint8(int(a["pad_value"]) + off)
                full = [0, 0, *pads[:nd], 0, 0, *pads[nd:]]
                xu = g.op("Pad", [xu, g.const(np.array(full, np.int64)), g.const(pad_u)],
                          mode="constant")  # fmt: skip
        cols = self._columns(lay, xu) if conv else None
        total = None
        for i, part in enumerate(parts):
            zps = [g.const(np.uint8(off)), g.const(np.uint8(128))]
            if cols is not None:  # (N*OH*OW, taps*C) x (taps*C, M), back to NCHW
                wt = part.transpose(2, 3, 1, 0).reshape(-1, part.shape[0])  # (i, j, c) rows
                wt = g.const((np.ascontiguousarray(wt) + 128).astype(np.uint8))
                mm = g.op("MatMulInteger", [cols[0], wt, *zps])
                acc = g.op("Transpose", [g.op("Reshape", [mm, cols[1]])], perm=[0, 3, 1, 2])
            elif conv:
                wu = g.const((part + 128).astype(np.uint8), f"{lay.name}.w{i}")
                acc = g.op("ConvInteger", [xu, wu, *zps], kernel_shape=list(a["kernel"]),
                           strides=list(a["strides"]), dilations=list(a["dilations"]),
                           group=int(a["group"]))  # fmt: skip
            else:
                wt = g.const((part.T + 128).astype(np.uint8), f"{lay.name}.wt{i}")
                acc = g.op("MatMulInteger", [xu, wt, *zps])
            acc = g.i64(acc)
            if i:
                acc = g.op("Mul", [acc, g.const(np.int64(128))])
            total = acc if total is None else g.op("Add", [total, acc])
        return total

    def _columns(self, lay: IntLayer, xu: str) -> tuple[str, str] | None:
        """For a 2-D, ungrouped conv with static spatial shapes: the im2col matrix of the
        padded input, (N * OH * OW, taps * C) in (tap, channel) order, and the shape that
        turns the product back into (N, OH, OW, M). onnxruntime's MatMulInteger is much
        faster than its ConvInteger. None otherwise."""
        a, g = lay.attrs, self.g
        out_shape = self.spec(lay.outputs[0]).shape
        if int(a["group"]) != 1 or len(a["kernel"]) != 2:
            return None
        if not all(isinstance(d, int) for d in out_shape[2:]):
            return None
        (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["strides"], a["dilations"]
        oh, ow = out_shape[2:]
        m = out_shape[1]
        taps = []
        for i in range(kh):
            for j in range(kw):
                if (kh, kw, sh, sw) == (1, 1, 1, 1):
                    taps.append(xu)
                    continue
                starts = np.array([i * dh, j * dw], np.int64)
                ends = starts + np.array([sh * (oh - 1) + 1, sw * (ow - 1) + 1], np.int64)
                taps.append(g.op("Slice", [xu, g.const(starts), g.const(ends),
                                           g.const(np.array([2, 3], np.int64)),
                                           g.const(np.array([sh, sw], np.int64))]))  # fmt: skip
        cols = taps[0] if len(taps) == 1 else g.op("Concat", taps, axis=1)
        cols = g.op("Transpose", [cols], perm=[0, 2, 3, 1])
        flat = g.op("Reshape", [cols, g.const(np.array([-1, kh * kw * self.spec(
            lay.inputs[0]).shape[1]], np.int64))])  # fmt: skip
        return flat, g.const(np.array([-1, oh, ow, m], np.int64))

    def _finish(self, lay: IntLayer, acc: str, w: np.ndarray, ndim: int) -> None:
        """Bias, requantization, clamp and the optional table (golden's ``_finish``)."""
        g, out = self.g, self.spec(lay.outputs[0])
        in_spec = self.spec(lay.inputs[0])
        pad = abs(int(lay.attrs.get("pad_value", 0)))
        u_max = max(abs(in_spec.qmin), abs(in_spec.qmax), pad)
        ep = epilogue(lay, w, 0, u_max, out.zero_point, 0)  # sums over codes: no offset
        m = w.shape[0]
        table = "table" in lay.params
        target = None if table else lay.outputs[0]
        if ep.exact_in_float64:
            a_mul, c_add = ep.float_constants()
            v = g.op("Cast", [acc], to=TensorProto.DOUBLE)
            v = g.op("Add", [g.op("Mul", [v, g.const(_channel_shape(a_mul, ndim))]),
                             g.const(_channel_shape(c_add, ndim))])  # fmt: skip
            v = g.op("Max", [g.op("Floor", [v]), g.const(np.float64(ep.lo - ep.zp))])
            v = g.op("Min", [v, g.const(np.float64(ep.hi - ep.zp))])
            v = g.op("Add", [g.op("Cast", [v], to=TensorProto.INT64), g.const(np.int64(ep.zp))])
        else:
            t = acc
            if ep.f:
                t = g.op("Mul", [t, g.const(np.int64(1 << ep.f))])
            t = g.op("Add", [t, g.const(_channel_shape(ep.bias, ndim))])
            t = g.op("Mul", [t, g.const(_channel_shape(ep.mult, ndim))])
            v = g.op("Add", [g.rounding_shift(t, _channel_shape(ep.shift, ndim)),
                             g.const(np.int64(ep.zp))])  # fmt: skip
            v = g.op("Min", [g.op("Max", [v, g.const(np.int64(ep.lo))]),
                             g.const(np.int64(ep.hi))])  # fmt: skip
        if not table:
            g.op("Cast", [v], out=target, to=_ONNX_DTYPE[out.dtype])
            return
        self._lookup(v, lay.params["table"], code_range("int8")[0], m, ndim, lay.outputs[0])

    def _lookup(self, v: str, table: np.ndarray, qmin: int, m: int, ndim: int, out: str):
        """``table[v - qmin]``, per channel (axis 1) for a (C, K) table."""
        g = self.g
        idx = g.op("Sub", [v, g.const(np.int64(qmin))])
        table = np.asarray(table)
        if table.ndim == 2:
            rows = np.arange(table.shape[0], dtype=np.int64) * table.shape[1]
            idx = g.op("Add", [idx, g.const(_channel_shape(rows, ndim))])
        g.op("Gather", [g.const(table.reshape(-1)), idx], out=out, axis=0)

    def op_conv(self, lay: IntLayer) -> None:
        w = self._weights(lay)
        self._finish(lay, self._sums(lay, w, conv=True), w, 2 + len(lay.attrs["kernel"]))

    def op_gemm(self, lay: IntLayer) -> None:
        w = self._weights(lay)
        self._finish(lay, self._sums(lay, w, conv=False), w, 2)

    # ------------------------------------------------------------- pooling
    def op_maxpool(self, lay: IntLayer) -> None:
        a, out = lay.attrs, self.spec(lay.outputs[0])
        if out.dtype != self.spec(lay.inputs[0]).dtype:
            raise ExportError(f"layer '{lay.name}': max pool changes the code type")
        self.g.op("MaxPool", [lay.inputs[0]], out=lay.outputs[0],
                  kernel_shape=list(a["kernel"]), strides=list(a["strides"]),
                  dilations=list(a["dilations"]), pads=list(a["pads"]),
                  ceil_mode=int(a.get("ceil_mode", 0)))  # fmt: skip

    def op_avgpool(self, lay: IntLayer) -> None:
        g, a = self.g, lay.attrs
        in_spec, out = self.spec(lay.inputs[0]), self.spec(lay.outputs[0])
        spatial = in_spec.shape[2:]
        if len(spatial) != 2 or not all(isinstance(d, int) for d in spatial):
            raise ExportError(f"layer '{lay.name}': average pool needs a static 2-D input")
        geom = win.resolve(spatial, a["kernel"], a["strides"], a["dilations"], a["pads"],
                           ceil_mode=bool(a.get("ceil_mode", 0)))  # fmt: skip
        centre = in_spec.zero_point + _offset(in_spec)
        xu = g.to_u8(lay.inputs[0], in_spec)
        ends = [e + x for e, x in zip(geom.pads_end, geom.extra_end, strict=True)]
        full = [0, 0, *geom.pads_begin, 0, 0, *ends]
        if any(full):
            xu = g.op("Pad", [xu, g.const(np.array(full, np.int64)), g.const(np.uint8(centre))],
                      mode="constant")  # fmt: skip
        c = in_spec.shape[1]
        ones = g.const(np.ones((c, 1, *geom.kernel), np.uint8))
        total = g.op("ConvInteger", [xu, ones, g.const(np.uint8(centre)), g.const(np.uint8(0))],
                     kernel_shape=list(geom.kernel), strides=list(geom.strides),
                     dilations=list(geom.dilations), group=int(c))  # fmt: skip
        counts = win.window_counts(geom, bool(a["count_include_pad"]))
        mult = np.asarray(lay.params["mult"], np.int64)[counts][None, None]
        g.requantize(g.i64(total), mult, a["shift"], out.zero_point, a["lo"], a["hi"],
                     out.dtype, lay.outputs[0])  # fmt: skip

    def op_global_avgpool(self, lay: IntLayer) -> None:
        g, a = self.g, lay.attrs
        in_spec, out = self.spec(lay.inputs[0]), self.spec(lay.outputs[0])
        nd = len(in_spec.shape)
        centred = g.op("Sub", [g.i64(lay.inputs[0]), g.const(np.int64(in_spec.zero_point))])
        total = g.op("ReduceSum", [centred, g.const(np.arange(2, nd, dtype=np.int64))],
                     keepdims=1)  # fmt: skip
        g.requantize(total, _channel_shape(a["mult"], nd), _channel_shape(a["shift"], nd),
                     out.zero_point, a["lo"], a["hi"], out.dtype, lay.outputs[0])  # fmt: skip

    # ------------------------------------------------------------- elementwise
    def _centred(self, name: str) -> str:
        return self.g.op(
            "Sub", [self.g.i64(name), self.g.const(np.int64(self.spec(name).zero_point))]
        )

    def op_add(self, lay: IntLayer) -> None:
        g, a, out = self.g, lay.attrs, self.spec(lay.outputs[0])
        ta = g.op("Mul", [self._centred(lay.inputs[0]), g.const(np.int64(a["mult_a"]))])
        tb = g.op("Mul", [self._centred(lay.inputs[1]), g.const(np.int64(a["mult_b"]))])
        y = g.op("Add", [g.rounding_shift(g.op("Add", [ta, tb]), np.int64(a["shift"])),
                         g.const(np.int64(out.zero_point))])  # fmt: skip
        g.clamp_cast(y, a["lo"], a["hi"], out.dtype, lay.outputs[0])

    def op_mul(self, lay: IntLayer) -> None:
        g, a, out = self.g, lay.attrs, self.spec(lay.outputs[0])
        prod = g.op("Mul", [self._centred(lay.inputs[0]), self._centred(lay.inputs[1])])
        g.requantize(prod, a["mult"], a["shift"], out.zero_point, a["lo"], a["hi"], out.dtype,
                     lay.outputs[0])  # fmt: skip

    def op_concat(self, lay: IntLayer) -> None:
        g, a, out = self.g, lay.attrs, self.spec(lay.outputs[0])
        parts = []
        for name, m, n in zip(lay.inputs, a["mults"], a["shifts"], strict=True):
            if m is None:
                parts.append(g.op("Cast", [name], to=_ONNX_DTYPE[out.dtype]))
            else:
                parts.append(g.requantize(self._centred(name), m, n, out.zero_point, out.qmin,
                                          out.qmax, out.dtype))  # fmt: skip
        g.op("Concat", parts, out=lay.outputs[0], axis=int(a["axis"]))

    def op_table(self, lay: IntLayer) -> None:
        in_spec = self.spec(lay.inputs[0])
        nd = len(in_spec.shape)
        self._lookup(self.g.i64(lay.inputs[0]), lay.params["table"], in_spec.qmin,
                     0, nd, lay.outputs[0])  # fmt: skip

    def op_softmax(self, lay: IntLayer) -> None:
        g, axis = self.g, int(lay.attrs["axis"])
        x = g.i64(lay.inputs[0])
        d = g.op("Sub", [g.op("ReduceMax", [x], axes=[axis], keepdims=1), x])
        e = g.op("Gather", [g.const(np.asarray(lay.params["exp_table"], np.int64)), d], axis=0)
        t = g.op("ReduceSum", [e, g.const(np.array([axis], np.int64))], keepdims=1)
        num = g.op("Add", [g.op("Mul", [e, g.const(np.int64(2 * 255))]), t])
        y = g.op("Div", [num, g.op("Mul", [t, g.const(np.int64(2))])])  # both >= 0: floor
        g.op("Cast", [y], out=lay.outputs[0], to=_ONNX_DTYPE[self.spec(lay.outputs[0]).dtype])

    # ------------------------------------------------------------- data movement
    def op_reshape(self, lay: IntLayer) -> None:
        shape = np.array(lay.attrs["shape"], np.int64)
        self.g.op("Reshape", [lay.inputs[0], self.g.const(shape)], out=lay.outputs[0])

    def op_flatten(self, lay: IntLayer) -> None:
        self.g.op("Flatten", [lay.inputs[0]], out=lay.outputs[0], axis=int(lay.attrs["axis"]))

    def op_transpose(self, lay: IntLayer) -> None:
        self.g.op("Transpose", [lay.inputs[0]], out=lay.outputs[0],
                  perm=list(lay.attrs["perm"]))  # fmt: skip

    def op_slice(self, lay: IntLayer) -> None:
        g, sl = self.g, lay.attrs["slices"]
        if not sl:
            g.op("Identity", [lay.inputs[0]], out=lay.outputs[0])
            return
        starts, ends, axes, steps = [], [], [], []
        for axis, start, step, count in sl:
            stop = start + step * count
            starts.append(start)
            ends.append(stop if stop >= 0 else -(2**62))  # below the first: "to the start"
            axes.append(axis)
            steps.append(step)
        ins = [lay.inputs[0]] + [g.const(np.array(v, np.int64)) for v in (starts, ends, axes,
                                                                           steps)]  # fmt: skip
        g.op("Slice", ins, out=lay.outputs[0])

    def op_pad(self, lay: IntLayer) -> None:
        g, a = self.g, lay.attrs
        if a["mode"] not in ("constant", "reflect", "edge"):
            raise ExportError(f"layer '{lay.name}': pad mode {a['mode']} needs opset 19")
        pads = np.array([p[0] for p in a["pads"]] + [p[1] for p in a["pads"]], np.int64)
        dtype = self.spec(lay.inputs[0]).np_dtype
        g.op("Pad", [lay.inputs[0], g.const(pads), g.const(np.asarray(a["value"], dtype))],
             out=lay.outputs[0], mode=a["mode"])  # fmt: skip

    def op_resize_nearest(self, lay: IntLayer) -> None:
        g, x = self.g, lay.inputs[0]
        items = list(lay.attrs["index"].items())
        for i, (axis, idx) in enumerate(items):
            out = lay.outputs[0] if i == len(items) - 1 else None
            x = g.op("Gather", [x, g.const(np.asarray(idx, np.int64))], out=out, axis=int(axis))
        if not items:
            g.op("Identity", [x], out=lay.outputs[0])


def export_integer_onnx(model: IntModel, every_tensor: bool = False) -> onnx.ModelProto:
    """The ONNX model: integer codes in, integer codes out, equal to golden's. With
    ``every_tensor`` each layer's output is also a graph output (for comparisons)."""
    ex = _Exporter(model)
    for lay in model.layers:
        ex.layer(lay)
    g = ex.g

    def info(name: str) -> onnx.ValueInfoProto:
        spec = model.tensors[name]
        dims = [d if isinstance(d, int) else "N" for d in spec.shape]
        return helper.make_tensor_value_info(name, _ONNX_DTYPE[spec.dtype], dims)

    outputs = list(model.outputs)
    if every_tensor:
        outputs += [lay.outputs[0] for lay in model.layers if lay.outputs[0] not in outputs]
    used = {i for n in g.nodes for i in n.input}
    inits = g.inits + [numpy_helper.from_array(v, k) for k, v in model.constants.items()
                       if k in used]  # fmt: skip
    graph = helper.make_graph(g.nodes, f"{model.name}_integer", [info(n) for n in model.inputs],
                              [info(n) for n in outputs], inits)  # fmt: skip
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="plutflow")  # fmt: skip
    proto.ir_version = 8
    proto.doc_string = (
        "Integer codes in and out; equal to plutflow's golden executor. Inputs: quantize "
        "floats as round(x / scale) + zero_point, clamped to the code range."
    )
    for name in model.inputs + outputs:
        s = model.tensors[name]
        meta = proto.metadata_props.add()
        meta.key, meta.value = (
            f"{name}.quantization",
            f"scale={s.scale!r} zero_point={s.zero_point}",
        )
    onnx.checker.check_model(proto)
    return proto
