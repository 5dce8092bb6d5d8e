"""Integer-model layers as overlay operations (``docs/spec.md`` 9.7).

:func:`lower_model` decides, layer by layer, how the overlay runs it — which descriptor
kind, which weight encoding (the PE type's native codes or the int8 path), which tensors
are only views of others (flatten, reshape, concat slices) — or why it stays on the host.
Every lowering keeps the integers of the golden executor: where the hardware computes
differently from the model's description (a P-LUT table as a product, an average pool's
divisor per window), the lowering proves equality first and falls back otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plutflow.intmodel.model import IntLayer, IntModel, TensorSpec
from plutflow.intmodel.schema import integer_weights, weight_bits, weight_scheme
from plutflow.kernels import windows as win
from plutflow.overlay.config import OverlayConfig
from plutflow.quant.tables import table_is_product

MAX_KERNEL = 255
MAX_STRIDE = 15
MAX_DIM = (1 << 16) - 1


class NotOnOverlay(Exception):
    """The layer runs on the host; the message says why."""


@dataclass
class Geometry:
    """A layer's windows over a channels-last image: input H x W x C, output OH x OW x M."""

    h: int
    w: int
    c: int
    m: int
    oh: int
    ow: int
    kh: int = 1
    kw: int = 1
    sh: int = 1
    sw: int = 1
    dh: int = 1
    dw: int = 1
    pt: int = 0
    pl: int = 0

    @property
    def taps(self) -> int:
        return self.kh * self.kw

    def in_rows(self, oh: int) -> int:
        """Input rows (padding included) that ``oh`` output rows read."""
        return (oh - 1) * self.sh + (self.kh - 1) * self.dh + 1

    def in_cols(self, ow: int) -> int:
        return (ow - 1) * self.sw + (self.kw - 1) * self.dw + 1


@dataclass
class Weights:
    """CONV weights as the PEs take them: ``fields`` (M, C, KH, KW) of ``field_w`` bits
    (8: int8 path / int8 PEs; the PE code width: native codes), plus the shift exponents,
    P-LUT levels or LUT-RAM product table of native codes. Depthwise: int16 (M, KH, KW)."""

    fields: np.ndarray
    field_w: int
    int8: bool
    exp1: list[int] = field(default_factory=list)
    exp2: list[int] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    ptab: np.ndarray | None = None
    abits: int = 0
    aqmin: int = 0


@dataclass
class OverlayOp:
    """One layer as the overlay runs it."""

    layer: str
    kind: str  # CONV | DW | MAXPOOL | SUMPOOL | ADD | MUL | COPY
    a: str  # operand A (a tensor of the model)
    out: str
    geo: Geometry
    b: str | None = None  # operand B (a tensor or a constant)
    per_image: bool = True  # False: the batch runs as columns of one image (gemm)
    weights: Weights | None = None
    dw_weights: np.ndarray | None = None  # (M, KH, KW) int64
    rq: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # bias, M0, n per channel
    fshift: int = 0
    mult_a: int = 1
    mult_b: int = 0
    shift: int = 0
    za: int = 0
    zb: int = 0
    zp: int = 0
    lo: int = -128
    hi: int = 127
    padv: int = 0
    table: np.ndarray | None = None  # (256,) or (M, 256)
    b_bcast: bool = False
    regions: list[tuple[int, int, int, int, int]] = field(default_factory=list)  # SUMPOOL
    macs: int = 0
    out_group: int = 0  # the output is a slice of a wider tensor, from this channel group

    def summary(self) -> dict[str, Any]:
        g = self.geo
        return {
            "kind": self.kind,
            "in": [g.h, g.w, g.c],
            "out": [g.oh, g.ow, g.m],
            "kernel": [g.kh, g.kw],
            "format": None
            if self.weights is None
            else ("int8" if self.weights.int8 else f"native {self.weights.field_w}-bit"),
        }


@dataclass
class Lowered:
    """The whole model: overlay ops by layer (a concatenation is several), host layers
    with reasons, and tensors that are views of others (same memory, maybe offset by
    whole channel groups)."""

    ops: dict[str, list[OverlayOp]]
    host: dict[str, str]  # layer -> reason
    views: dict[str, tuple[str, int]]  # tensor -> (the tensor it lives in, first group)
    # model inputs the host writes already gathered (see gather_input): tensor -> the
    # window of the convolution that reads them
    gathered: dict[str, tuple[win.WindowGeometry, int]] = field(default_factory=dict)

    def placed(self, layer: str) -> bool:
        return layer in self.ops


# --------------------------------------------------------------------------- helpers
def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _shape(model: IntModel, name: str) -> tuple[int, ...]:
    return tuple(1 if s is None else int(s) for s in model.tensors[name].shape)


def _chw(model: IntModel, name: str) -> tuple[int, int, int]:
    s = _shape(model, name)
    if len(s) == 2:
        return s[1], 1, 1
    if len(s) != 4:
        raise NotOnOverlay(f"tensor '{name}' has rank {len(s)}, the overlay takes 2 or 4")
    return s[1], s[2], s[3]


def _window(layer: IntLayer, h: int, w: int) -> win.WindowGeometry:
    a = layer.attrs
    if len(a["kernel"]) != 2:
        raise NotOnOverlay("only 2-D windows run on the overlay")
    return win.resolve(
        (h, w), a["kernel"], a["strides"], a["dilations"], a["pads"],
        ceil_mode=bool(a.get("ceil_mode", 0)),
    )  # fmt: skip


def _check_window(g: Geometry) -> None:
    if max(g.kh, g.kw) > MAX_KERNEL:
        raise NotOnOverlay(f"kernel {g.kh}x{g.kw} above {MAX_KERNEL}")
    if max(g.sh, g.sw, g.dh, g.dw) > MAX_STRIDE:
        raise NotOnOverlay(f"stride or dilation above {MAX_STRIDE}")
    if max(g.h, g.w, g.oh, g.ow) > MAX_DIM or max(g.pt, g.pl) > 255:
        raise NotOnOverlay("a dimension above 65535 or padding above 255")


def _geometry(layer: IntLayer, c: int, h: int, w: int, m: int) -> Geometry:
    geom = _window(layer, h, w)
    g = Geometry(
        h, w, c, m, geom.out_shape[0], geom.out_shape[1], geom.kernel[0], geom.kernel[1],
        geom.strides[0], geom.strides[1], geom.dilations[0], geom.dilations[1],
        geom.pads_begin[0], geom.pads_begin[1],
    )  # fmt: skip
    _check_window(g)
    return g


def _requant(layer: IntLayer, out: TensorSpec, op: OverlayOp) -> None:
    """Per-channel records, clamp and table of a conv/gemm (spec 2)."""
    a, p = layer.attrs, layer.params
    m = int(p["bias"].shape[0])
    mult = np.broadcast_to(np.asarray(p["mult"], np.int64), (m,))
    shift = np.broadcast_to(np.asarray(p["shift"], np.int64), (m,))
    if mult.max(initial=0) >= 1 << 16 or mult.min(initial=0) < 0:
        raise NotOnOverlay("a requantization multiplier above 16 bits")
    if shift.max(initial=0) > 62 or int(a.get("bias_shift", 0)) > 31:
        raise NotOnOverlay("a requantization shift above 62 or bias shift above 31")
    op.rq = (np.asarray(p["bias"], np.int64), mult.copy(), shift.copy())
    op.fshift = int(a.get("bias_shift", 0))
    op.lo, op.hi = int(a["lo"]), int(a["hi"])
    if "table" in p:
        op.table = np.asarray(p["table"], np.int64)
        op.zp = int(a["mid_zero_point"])
    else:
        op.zp = int(out.zero_point)


def _weights(layer: IntLayer, in_spec: TensorSpec, cfg: OverlayConfig) -> Weights:
    """The layer's weights in a format the PEs of ``cfg`` run, or NotOnOverlay."""
    p = layer.params
    scheme, k = weight_scheme(layer), weight_bits(layer)
    if (
        "weight" not in p
        and scheme == "plut"
        and not table_is_product(layer, in_spec)
        and cfg.pe_type != "plut-lutram"
    ):
        raise NotOnOverlay("its P-LUT table is not a product of weight and code")
    ints = integer_weights(layer)
    fits8 = int(np.abs(ints).max(initial=0)) <= 127
    native = _native(layer, in_spec, cfg, scheme, k)
    if native is not None:
        return native
    if cfg.runs_int8() and fits8:
        return Weights(ints, 8, True)
    if not fits8:
        raise NotOnOverlay(f"{scheme} weights beyond int8 on a {cfg.pe_type} overlay")
    raise NotOnOverlay(f"{scheme} weights on a {cfg.pe_type} overlay without the int8 path")


def _native(
    layer: IntLayer, in_spec: TensorSpec, cfg: OverlayConfig, scheme: str, k: int
) -> Weights | None:
    """The layer as native codes of a low-bit PE type, if they fit."""
    p, a = layer.params, layer.attrs
    if cfg.pe_type == "int8" or "weight_codes" not in p:
        return None
    codes = np.asarray(p["weight_codes"], np.int64)
    mb_in, mb_hw = k - 1, cfg.wbits - 1
    sign = codes >> mb_in
    idx = codes & ((1 << mb_in) - 1)
    levels = np.asarray(p["levels"], np.int64)
    if cfg.pe_type == "shift" and scheme in ("pot", "upot"):
        terms = a.get("terms", [])
        t1 = list(terms[0]) if terms else []
        t2 = list(terms[1]) if len(terms) > 1 else []
        b2 = (len(t2) + 1).bit_length() - 1 if t2 else 0
        b1 = mb_in - b2
        if b2 > cfg.b2 or b1 > mb_hw - cfg.b2 or max(t1 + t2, default=0) > 7:
            return None
        i1, i2 = idx >> b2, idx & ((1 << b2) - 1)
        hw = sign << mb_hw | i1 << cfg.b2 | i2
        return Weights(hw, cfg.wbits, False, exp1=t1, exp2=t2)
    if cfg.pe_type == "plut" and mb_in <= mb_hw and levels.max(initial=0) <= 255:
        if scheme == "plut" and not table_is_product(layer, in_spec):
            return None
        lev = np.zeros(1 << mb_hw, np.int64)
        lev[: levels.size] = levels
        return Weights(sign << mb_hw | idx, cfg.wbits, False, levels=lev.tolist()[:16])
    if cfg.pe_type == "plut-lutram" and mb_in <= mb_hw and in_spec.bits <= cfg.abits:
        if scheme == "plut":
            table = np.asarray(p["product_table"], np.int64)[: 1 << mb_in]
        else:  # a product table from the levels: exact by construction
            cols = np.arange(in_spec.qmin, in_spec.qmin + (1 << in_spec.bits))
            table = levels[: 1 << mb_in, None] * cols[None, :]
        if np.abs(table).max(initial=0) >= 1 << 15:
            return None
        if scheme == "plut" and not np.array_equal(
            -np.asarray(p["product_table"], np.int64)[: 1 << mb_in],
            np.asarray(p["product_table"], np.int64)[1 << mb_in :],
        ):
            return None  # the PEs negate by the sign bit: T[c + 2^(k-1)] must be -T[c]
        return Weights(
            sign << mb_hw | idx, cfg.wbits, False, ptab=table, abits=int(in_spec.bits),
            aqmin=int(in_spec.qmin),
        )  # fmt: skip
    return None


# --------------------------------------------------------------------------- per op
def _conv(model: IntModel, layer: IntLayer, cfg: OverlayConfig, flat_src: str | None) -> OverlayOp:
    a, p = layer.attrs, layer.params
    x = flat_src or layer.inputs[0]
    in_spec = model.tensors[layer.inputs[0]]
    out = model.tensors[layer.outputs[0]]
    m = int(p["bias"].shape[0])
    if layer.op == "gemm":
        if flat_src is not None:  # Flatten (N, C, H, W) then Gemm: a full-image kernel
            c, h, w = _chw(model, flat_src)
            g = Geometry(h, w, c, m, 1, 1, h, w)
            per_image = True
        else:
            k = _shape(model, layer.inputs[0])[1]
            g = Geometry(1, 0, k, m, 1, 0)  # the batch fills the columns (set per program)
            per_image = False
        _check_window(Geometry(g.h, max(g.w, 1), g.c, g.m, 1, 1, g.kh, g.kw))
        op = OverlayOp(layer.name, "CONV", x, layer.outputs[0], g, per_image=per_image)
    else:
        c, h, w = _chw(model, x)
        group = int(a["group"])
        g = _geometry(layer, c, h, w, m)
        if group == c == m and group > 1:
            op = OverlayOp(layer.name, "DW", x, layer.outputs[0], g)
        else:  # a grouped conv runs as a dense one with zero weights between the groups
            op = OverlayOp(layer.name, "CONV", x, layer.outputs[0], g)
        op.padv = int(a["pad_value"])
    _requant(layer, out, op)
    if op.kind == "DW":  # int16 weights in the vector lanes, whatever the scheme
        if weight_scheme(layer) == "plut" and not table_is_product(layer, in_spec):
            raise NotOnOverlay("its P-LUT table is not a product of weight and code")
        op.dw_weights = integer_weights(layer).reshape(m, op.geo.kh, op.geo.kw)
        if np.abs(op.dw_weights).max(initial=0) >= 1 << 15:
            raise NotOnOverlay("depthwise weights beyond int16")
    else:
        op.weights = _weights(layer, in_spec, cfg)
        if layer.op == "conv" and int(a["group"]) > 1:
            op.weights.fields = _block_diagonal(op.weights.fields, int(a["group"]), c)
        if layer.op == "gemm" and flat_src is not None:
            c, h, w = _chw(model, flat_src)
            op.weights.fields = op.weights.fields.reshape(m, c, h, w)
        elif layer.op == "gemm":
            op.weights.fields = op.weights.fields.reshape(m, -1, 1, 1)
    bound = int(a["acc_bound"]) << op.fshift
    if bound + int(np.abs(op.rq[0]).max(initial=0)) >= 1 << 31:
        raise NotOnOverlay("its accumulator bound exceeds 32 bits")
    g = op.geo
    op.macs = g.oh * max(g.ow, 1) * g.m * g.taps * (1 if op.kind == "DW" else g.c)
    return op


def _block_diagonal(fields: np.ndarray, groups: int, c: int) -> np.ndarray:
    """Grouped conv weights (M, C/G, KH, KW) as dense (M, C, KH, KW): group g's output
    channels see only its input channels, the other weights are 0 (a zero field is a zero
    weight in every format, spec 9.4)."""
    f = np.asarray(fields, np.int64)
    m, cg = f.shape[0], f.shape[1]
    mg = m // groups
    dense = np.zeros((m, c, *f.shape[2:]), np.int64)
    for g in range(groups):
        dense[g * mg : (g + 1) * mg, g * cg : (g + 1) * cg] = f[g * mg : (g + 1) * mg]
    return dense


def _pool(model: IntModel, layer: IntLayer) -> OverlayOp:
    x = layer.inputs[0]
    c, h, w = _chw(model, x)
    in_spec, out = model.tensors[x], model.tensors[layer.outputs[0]]
    a = layer.attrs
    if layer.op == "global_avgpool":
        g = Geometry(h, w, c, c, 1, 1, h, w)
        _check_window(g)
        op = OverlayOp(layer.name, "SUMPOOL", x, layer.outputs[0], g)
        op.regions = [(0, 1, 0, 1, int(a["mult"]))]
        op.shift, op.za, op.padv = int(a["shift"]), in_spec.zero_point, in_spec.zero_point
        op.zp, op.lo, op.hi = out.zero_point, int(a["lo"]), int(a["hi"])
        return _vector_check(op)
    geom = _window(layer, h, w)
    g = _geometry(layer, c, h, w, c)
    if layer.op == "maxpool":
        op = OverlayOp(layer.name, "MAXPOOL", x, layer.outputs[0], g)
        op.padv, op.mult_a, op.shift, op.zp = in_spec.qmin, 1, 0, 0
        op.lo, op.hi = in_spec.qmin, in_spec.qmax
        return op
    op = OverlayOp(layer.name, "SUMPOOL", x, layer.outputs[0], g)
    op.za, op.padv = in_spec.zero_point, in_spec.zero_point
    op.shift, op.zp, op.lo, op.hi = int(a["shift"]), out.zero_point, int(a["lo"]), int(a["hi"])
    include = bool(a["count_include_pad"])
    mult = np.asarray(layer.params["mult"], np.int64)
    cy = _axis_counts(geom, 0, include)
    cx = _axis_counts(geom, 1, include)
    # regions of equal divisor: runs of equal row counts x runs of equal column counts
    for y0, y1 in _runs(cy):
        for x0, x1 in _runs(cx):
            op.regions.append((y0, y1, x0, x1, int(mult[cy[y0] * cx[x0]])))
    return _vector_check(op)


def _axis_counts(geom: win.WindowGeometry, dim: int, include_pad: bool) -> np.ndarray:
    start = np.arange(geom.out_shape[dim]) * geom.strides[dim] - geom.pads_begin[dim]
    taps = start[:, None] + np.arange(geom.kernel[dim]) * geom.dilations[dim]
    lo = -geom.pads_begin[dim] if include_pad else 0
    hi = geom.in_shape[dim] + (geom.pads_end[dim] if include_pad else 0)
    return ((taps >= lo) & (taps < hi)).sum(axis=1)


def _runs(v: np.ndarray) -> list[tuple[int, int]]:
    out, s = [], 0
    for i in range(1, len(v) + 1):
        if i == len(v) or v[i] != v[s]:
            out.append((s, i))
            s = i
    return out


def _vector_check(op: OverlayOp) -> OverlayOp:
    for *_, mult in op.regions:
        if not 0 <= mult < 1 << 16:
            raise NotOnOverlay("an average-pool multiplier above 16 bits")
    if op.shift > 62:
        raise NotOnOverlay("a shift above 62")
    return op


def _binary(model: IntModel, layer: IntLayer) -> OverlayOp:
    a_name, b_name = layer.inputs
    sa, sb = (_shape(model, n) for n in layer.inputs)
    a = layer.attrs
    za, zb = model.tensors[a_name].zero_point, model.tensors[b_name].zero_point
    ma, mb = (a["mult_a"], a["mult_b"]) if layer.op == "add" else (a["mult"], 0)
    full = sa if len(sa) >= len(sb) else sb
    if np.prod(sa) < np.prod(sb):  # the broadcast operand goes second
        a_name, b_name, sa, sb, za, zb, ma, mb = b_name, a_name, sb, sa, zb, za, mb, ma
    bcast = tuple(sb) != tuple(sa)
    if len(sa) not in (2, 4) or len(sb) != len(sa):
        raise NotOnOverlay(f"{layer.op} of shapes {sa} and {sb}")
    if bcast and not (sb[1] == sa[1] and all(d == 1 for d in sb[2:]) and sb[0] in (1, sa[0])):
        raise NotOnOverlay(f"{layer.op} broadcasting {sb} over {sa} (only per channel)")
    c, h, w = (full[1], 1, 1) if len(full) == 2 else full[1:]
    g = Geometry(h, w, c, c, h, w)
    op = OverlayOp(layer.name, "ADD" if layer.op == "add" else "MUL", a_name, layer.outputs[0],
                   g, b=b_name, b_bcast=bcast)  # fmt: skip
    out = model.tensors[layer.outputs[0]]
    op.za, op.zb, op.zp, op.lo, op.hi = za, zb, out.zero_point, int(a["lo"]), int(a["hi"])
    if layer.op == "add":
        op.mult_a, op.mult_b = int(ma), int(mb)
    else:
        op.mult_a = int(ma)
    op.shift = int(a["shift"])
    if not (0 <= op.mult_a < 1 << 16 and 0 <= op.mult_b < 1 << 16) or op.shift > 62:
        raise NotOnOverlay(f"{layer.op} multipliers above 16 bits or shift above 62")
    if bcast and sb[0] == 1 and sa[0] != 1 and b_name not in model.constants:
        raise NotOnOverlay(f"{layer.op} with a batch-1 operand from another layer")
    return op


def _copy(model: IntModel, layer: IntLayer, x: str, mult, shift, table=None) -> OverlayOp:
    """A per-element requantization (concat input) or table lookup, into layer's output."""
    c, h, w = _chw(model, x)
    in_spec, out = model.tensors[x], model.tensors[layer.outputs[0]]
    op = OverlayOp(layer.name, "COPY", x, layer.outputs[0], Geometry(h, w, c, c, h, w))
    if table is not None:  # index = code - qmin: requantize to code - qmin - 128
        op.za, op.mult_a, op.shift, op.zp, op.lo, op.hi = in_spec.qmin, 1, 0, -128, -128, 127
        op.table = np.asarray(table, np.int64)
    else:
        op.za = in_spec.zero_point
        op.mult_a, op.shift = (1, 0) if mult is None else (int(mult), int(shift))
        if mult is None:
            op.za = 0  # a copy: the code itself, within the output's range
        op.zp, op.lo, op.hi = (0 if mult is None else out.zero_point), out.qmin, out.qmax
    return _vector_check(op)


# --------------------------------------------------------------------------- the model
def lower_model(model: IntModel, cfg: OverlayConfig) -> Lowered:
    """Decide every layer's fate (see the module docstring)."""
    ops: dict[str, list[OverlayOp]] = {}
    host: dict[str, str] = {}
    views: dict[str, tuple[str, int]] = {}
    consumers: dict[str, list[IntLayer]] = {}
    for lay in model.layers:
        for t in lay.inputs:
            consumers.setdefault(t, []).append(lay)
    flat_of: dict[str, str] = {}  # flatten output -> its spatial input, for a gemm
    for lay in model.layers:
        try:
            if lay.op in ("conv", "gemm"):
                src = flat_of.get(lay.inputs[0]) if lay.op == "gemm" else None
                ops[lay.name] = [_conv(model, lay, cfg, src)]
            elif lay.op in ("maxpool", "avgpool", "global_avgpool"):
                ops[lay.name] = [_pool(model, lay)]
            elif lay.op in ("add", "mul"):
                ops[lay.name] = [_binary(model, lay)]
            elif lay.op == "table":
                ops[lay.name] = [_copy(model, lay, lay.inputs[0], None, None,
                                       lay.params["table"])]  # fmt: skip
            elif lay.op in ("flatten", "reshape"):
                _view(model, lay, views, flat_of, consumers)
            elif lay.op == "concat":
                ops[lay.name] = _concat(model, lay, cfg)
            else:
                raise NotOnOverlay(f"{lay.op} has no overlay implementation")
        except NotOnOverlay as why:
            host[lay.name] = str(why)
    gathered = {}
    for lay in model.layers:
        if lay.name in ops and lay.op == "conv":
            how = _gather(model, lay, ops[lay.name][0], consumers, cfg)
            if how is not None:
                gathered[lay.inputs[0]] = how
    for name, lst in list(ops.items()):
        for op in lst:
            if (
                op.table is not None
                and op.table.ndim == 2
                and op.kind != "CONV"
                and (op.kind not in ("DW", "COPY"))
            ):
                host[name] = "a per-channel table after this kind of layer"
                del ops[name]
                break
    return Lowered(ops, host, views, gathered)


def _gather(model: IntModel, lay: IntLayer, op: OverlayOp, consumers, cfg: OverlayConfig):
    """A first-layer convolution with few input channels (an RGB stem) leaves most array
    lanes idle: when the model input feeds only this layer, the host writes the input
    already gathered (each output pixel's window as K*K*C channels, padding positions
    holding the padding code) and the layer runs as a 1 x 1 convolution over them. The
    integers are identical; the steps per pixel drop from KH*KW*ceil(C/P) to
    ceil(KH*KW*C/P). Returns (window, padding code) and rewrites ``op``, or None."""
    x = lay.inputs[0]
    g = op.geo
    if x not in model.inputs or len(consumers.get(x, [])) != 1 or op.kind != "CONV":
        return None
    if int(lay.attrs["group"]) != 1 or g.taps == 1:
        return None
    p = cfg.p
    k2c = g.taps * g.c
    if -(-k2c // p) >= g.taps * -(-g.c // p):
        return None
    window = _window(lay, g.h, g.w)
    w = np.asarray(op.weights.fields)  # (M, C, KH, KW) -> (M, KH*KW*C, 1, 1), (ky, kx, c)
    op.weights.fields = np.moveaxis(w, 1, -1).reshape(w.shape[0], k2c, 1, 1)
    op.geo = Geometry(g.oh, g.ow, k2c, g.m, g.oh, g.ow, 1, 1)
    pad, op.padv = op.padv, 0
    return window, pad


def gather_input(codes: np.ndarray, window: win.WindowGeometry, pad_code: int) -> np.ndarray:
    """(N, C, H, W) codes as (N, KH*KW*C, OH, OW): each output pixel's window, channel
    (ky*KW + kx)*C + c, padding positions holding ``pad_code`` (see _gather)."""
    from plutflow.kernels.conv import im2col

    n = codes.shape[0]
    oh, ow = window.out_shape
    cols = im2col(codes, window, pad_code)  # (N*OH*OW, K, C)
    return np.moveaxis(cols.reshape(n, oh, ow, -1), -1, 1)


def _view(model, lay, views, flat_of, consumers) -> None:
    """Flatten/reshape that keeps the memory layout ((N, C, 1, 1) <-> (N, C)), or a
    flatten of (N, C, H, W) read only by gemms (they take the spatial tensor)."""
    x = lay.inputs[0]
    sin, sout = _shape(model, x), _shape(model, lay.outputs[0])
    flat_in = len(sin) in (2, 4) and all(d == 1 for d in sin[2:])
    flat_out = len(sout) in (2, 4) and all(d == 1 for d in sout[2:])
    if flat_in and flat_out and sin[:2] == sout[:2]:
        views[lay.outputs[0]] = views.get(x, (x, 0))
        return
    users = consumers.get(lay.outputs[0], [])
    flattens = lay.op == "flatten" or (len(sout) == 2 and len(sin) == 4
                                       and sout[1] == int(np.prod(sin[1:])))  # fmt: skip
    if flattens and len(sin) == 4 and users and all(u.op == "gemm" for u in users):
        flat_of[lay.outputs[0]] = x
        views[lay.outputs[0]] = views.get(x, (x, 0))
        return
    raise NotOnOverlay(f"{lay.op} {sin} -> {sout} changes the memory layout")


def _concat(model, lay, cfg) -> list[OverlayOp]:
    """Concatenation along channels: each input requantized (or copied) into its slice of
    the output by a COPY; slices start at whole channel groups."""
    out_shape = _shape(model, lay.outputs[0])
    if lay.attrs["axis"] != 1 or len(out_shape) not in (2, 4):
        raise NotOnOverlay("concatenation not along channels")
    offset = 0
    parts = []
    for x, m, n in zip(lay.inputs, lay.attrs["mults"], lay.attrs["shifts"], strict=True):
        if offset % cfg.p:
            raise NotOnOverlay(
                f"a concatenated input starts at channel {offset}, not a multiple of {cfg.p}"
            )
        if x in model.constants:
            raise NotOnOverlay("a constant input")
        op = _copy(model, lay, x, m, n)
        op.out_group = offset // cfg.p
        parts.append(op)
        offset += _chw(model, x)[0]
    return parts
