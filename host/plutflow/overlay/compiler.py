"""The compiler: an integer model to what the overlay runs (``docs/spec.md`` 9.7).

:func:`compile_model` lowers every layer (:mod:`plutflow.overlay.lowering`), chooses its
tiles (:mod:`plutflow.overlay.tiling`) and packs the parameter blocks once; the result,
a :class:`Compiled`, is what an artifact stores. :meth:`Compiled.program` then lays out
device memory for a batch size (program, parameters, one buffer per tensor) and emits
the descriptors, grouped into segments that alternate with host layers.

Each descriptor records which layer and tile it computes (``Descriptor.note``); the
driver names them in errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plutflow.intmodel.model import IntModel
from plutflow.intmodel.schema import validate
from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.lowering import Lowered, NotOnOverlay, OverlayOp, lower_model
from plutflow.overlay.pack import (
    parameter_block,
    ptab_block,
    requant_block,
    table_block,
    tensor_to_memory,
    tile_beats,
    tile_block,
)
from plutflow.overlay.program import DESC_BYTES, Descriptor, encode
from plutflow.overlay.tiling import Tiles, choose_tiles

ALIGN = 4096  # every region starts on a page


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _align(v: int, a: int = ALIGN) -> int:
    return _ceil(v, a) * a


@dataclass
class Block:
    """A parameter block in the parameter region, with the sizes a descriptor needs."""

    offset: int
    rq_groups: int = 0
    tslots: int = 0
    ptab_beats: int = 0
    ntiles: int = 0
    tile_beats: int = 0


@dataclass
class OpPlan:
    """An overlay op with its tiles and parameter blocks (keyed by (mblock, cblock))."""

    op: OverlayOp
    tiles: Tiles
    blocks: dict[tuple[int, int], Block] = field(default_factory=dict)


@dataclass
class TensorLoc:
    """A tensor in device memory: channels-last, channel groups of P bytes."""

    offset: int  # image 0, pixel (0, 0), its first channel group
    h: int
    w: int
    c: int
    ps: int  # pixel stride (bytes)
    rs: int  # row stride
    ns: int  # image stride

    def at(self, n: int, y: int, x: int, g: int, p: int) -> int:
        return self.offset + n * self.ns + y * self.rs + x * self.ps + g * p


@dataclass
class Segment:
    """A run of descriptors on the overlay, or one layer on the host."""

    kind: str  # "overlay" | "host"
    first: int = 0  # overlay: index of the first descriptor
    count: int = 0
    layer: str = ""  # host: the layer
    layers: list[str] = field(default_factory=list)  # overlay: the layers it computes


@dataclass
class Program:
    """Everything the driver loads for one batch size."""

    batch: int
    mem_size: int
    prog_offset: int
    descriptors: list[Descriptor]
    segments: list[Segment]
    tensors: dict[str, TensorLoc]
    param_offset: int

    def bytes(self) -> bytes:
        return encode(self.descriptors)

    def describe(self, index: int) -> str:
        """What descriptor ``index`` computes (layer and tile), for error messages."""
        if 0 <= index < len(self.descriptors):
            return self.descriptors[index].note or f"descriptor {index}"
        return f"descriptor {index}"


@dataclass
class Compiled:
    """A model compiled for an overlay configuration: placement, tiles, parameters."""

    model: IntModel
    cfg: OverlayConfig
    lowered: Lowered
    plans: dict[str, list[OpPlan]]  # layer -> its ops' plans
    params: bytes  # the parameter region (blocks and constants)
    const_at: dict[str, int]  # constant tensors used as operand B -> offset in params

    # ---------------------------------------------------------------- placement
    def target(self, layer: str) -> str:
        return "overlay" if layer in self.plans else "host"

    def reason(self, layer: str) -> str:
        return self.lowered.host.get(layer, "")

    def placement(self) -> list[dict[str, Any]]:
        """Per layer: where it runs, why not on the overlay, its kind and tiles."""
        rows = []
        for lay in self.model.layers:
            plans = self.plans.get(lay.name, [])
            view = lay.op in ("flatten", "reshape") and lay.name not in self.lowered.host
            row: dict[str, Any] = {
                "layer": lay.name,
                "op": lay.op,
                "target": "overlay" if plans or view else "host",
                "reason": self.lowered.host.get(lay.name, ""),
                "macs": sum(pl.op.macs for pl in plans),
            }
            if plans:
                pl = plans[0]
                row.update(pl.op.summary())
                row["tiles"] = [pl.tiles.g_t, pl.tiles.c_t, pl.tiles.oh_t, pl.tiles.ow_t]
            elif lay.op in ("flatten", "reshape") and lay.name not in self.lowered.host:
                row["kind"] = "view"
            rows.append(row)
        return rows

    # ---------------------------------------------------------------- programs
    def program(self, batch: int) -> Program:
        """Memory layout and descriptors for ``batch`` images."""
        return _ProgramBuilder(self, batch).build()


# --------------------------------------------------------------------------- compile
def compile_model(model: IntModel, cfg: OverlayConfig) -> Compiled:
    """Lower, tile and pack ``model`` for the overlay ``cfg`` (after checking it against
    the op schemas: nothing outside docs/spec.md reaches the packers or the RTL)."""
    validate(model)
    lowered = lower_model(model, cfg)
    plans: dict[str, list[OpPlan]] = {}
    for name, ops in lowered.ops.items():
        try:
            plans[name] = [OpPlan(op, choose_tiles(op, cfg, None if op.per_image else 1))
                           for op in ops]  # fmt: skip
        except NotOnOverlay as why:
            lowered.host[name] = str(why)
    for name in lowered.host:
        lowered.ops.pop(name, None)
        plans.pop(name, None)
    params = bytearray()
    for pls in plans.values():
        for pl in pls:
            _pack_blocks(pl, cfg, params)
    const_at: dict[str, int] = {}
    for pls in plans.values():
        for pl in pls:
            b = pl.op.b
            if b is not None and b in model.constants and b not in const_at:
                raw = tensor_to_memory(np.asarray(model.constants[b]).reshape(1, -1, *(
                    np.asarray(model.constants[b]).shape[2:] if np.ndim(model.constants[b]) == 4
                    else ())), cfg.p)  # fmt: skip
                params.extend(bytes((-len(params)) % ALIGN))
                const_at[b] = len(params)
                params.extend(raw.tobytes())
    return Compiled(model, cfg, lowered, plans, bytes(params), const_at)


def _pack_blocks(pl: OpPlan, cfg: OverlayConfig, params: bytearray) -> None:
    """Parameter blocks of every (mblock, cblock) of an op."""
    op, t, p = pl.op, pl.tiles, cfg.p
    g = op.geo
    mg, cg = _ceil(g.m, p), _ceil(g.c, p)
    nmb = _ceil(mg, t.g_t)
    ncb = _ceil(cg, t.c_t) if op.kind == "CONV" else 1
    for mb in range(nmb):
        ch0, ch1 = mb * t.g_t * p, min((mb + 1) * t.g_t * p, g.m)
        groups = _ceil(ch1 - ch0, p)
        for cb in range(ncb):
            last = cb == ncb - 1
            rq = tab = ptab = tiles = b""
            blk = Block(0)
            if op.rq is not None and last:
                bias, m0, n = (v[ch0:ch1] for v in op.rq)
                rq = requant_block(bias, m0, n, p)
                blk.rq_groups = groups
            if op.table is not None and last:
                per = op.table.ndim == 2
                tab = table_block(op.table[ch0:ch1] if per else op.table, p)
                blk.tslots = groups if per else 1
            if op.kind == "CONV":
                w = op.weights
                if w.ptab is not None:
                    ptab = ptab_block(w.ptab, cfg.wbits, cfg.abits, p)
                    blk.ptab_beats = len(ptab) // p
                c0, c1 = cb * t.c_t * p, min((cb + 1) * t.c_t * p, g.c)
                tiles = _conv_tiles(w.fields[ch0:ch1, c0:c1], p, w.field_w)
                blk.ntiles = groups * g.taps * _ceil(c1 - c0, p)
                blk.tile_beats = tile_beats(w.field_w, p)
            elif op.kind == "DW":
                tiles = _dw_tiles(op.dw_weights[ch0:ch1], p)
                blk.ntiles = groups * g.taps
                blk.tile_beats = tile_beats(0, p)
            data = parameter_block(rq, tab, ptab, tiles)
            if data:
                params.extend(bytes((-len(params)) % 64))
                blk.offset = len(params)
                params.extend(data)
            pl.blocks[(mb, cb)] = blk


def _conv_tiles(w: np.ndarray, p: int, field_w: int) -> bytes:
    """(M, C, KH, KW) weights as tiles in the order (g, ky, kx, cg), each P x P (output
    lane major), zero past M or C."""
    m, c, kh, kw = w.shape
    mg, cg = _ceil(m, p), _ceil(c, p)
    full = np.zeros((mg * p, cg * p, kh, kw), np.int64)
    full[:m, :c] = w
    t = full.reshape(mg, p, cg, p, kh, kw).transpose(0, 4, 5, 2, 1, 3)  # g, ky, kx, cg, o, i
    return tile_block(t.reshape(-1, p, p), field_w, p)


def _dw_tiles(w: np.ndarray, p: int) -> bytes:
    """(M, KH, KW) int16 depthwise weights as tiles (g, ky, kx) of P lanes."""
    m, kh, kw = w.shape
    mg = _ceil(m, p)
    full = np.zeros((mg * p, kh, kw), np.int64)
    full[:m] = w
    t = full.reshape(mg, p, kh, kw).transpose(0, 2, 3, 1)
    return tile_block(t.reshape(-1, p), 0, p)


# --------------------------------------------------------------------------- programs
class _ProgramBuilder:
    def __init__(self, comp: Compiled, batch: int) -> None:
        self.c, self.n = comp, batch
        self.cfg = comp.cfg
        self.p = comp.cfg.p
        self.descs: list[Descriptor] = []
        self.segments: list[Segment] = []
        self.tensors: dict[str, TensorLoc] = {}
        self.top = 0
        self.wkey: list[Any] = [None, None]  # what each weight bank holds
        self.akey: list[Any] = [None, None]  # ... each activation bank
        self.prev_w = 0
        self.prev_a = 0
        self.written: set[str] = set()  # tensors produced in the current overlay segment

    # ---------------------------------------------------------------- memory
    def _alloc(self, size: int) -> int:
        self.top = _align(self.top)
        at = self.top
        self.top += max(size, 1)
        return at

    def _tensor(self, name: str) -> TensorLoc:
        """The memory of a tensor (a view shares its base tensor's)."""
        if name in self.tensors:
            return self.tensors[name]
        model = self.c.model
        base, g0 = self.c.lowered.views.get(name, (name, 0))
        if base != name:
            loc = self._tensor(base)
            s = _chw(model, name)
            view = TensorLoc(loc.offset + g0 * self.p, s[1], s[2], s[0], loc.ps, loc.rs, loc.ns)
            if s[1] * s[2] != loc.h * loc.w:  # a flatten read by a gemm: same bytes
                view = loc
            self.tensors[name] = view
            return view
        c, h, w = _chw(model, name)
        if name in self.c.lowered.gathered:  # written gathered by the host (a stem's input)
            window, _ = self.c.lowered.gathered[name]
            c, (h, w) = c * int(np.prod(window.kernel)), window.out_shape
        owner = self._concat_owner(name)
        if owner is not None:  # a concatenation input lives in its output's slice
            out, g0 = owner
            loc = self._tensor(out)
            view = TensorLoc(loc.offset + g0 * self.p, h, w, c, loc.ps, loc.rs, loc.ns)
            self.tensors[name] = view
            return view
        ps = _ceil(c, self.p) * self.p
        loc = TensorLoc(0, h, w, c, ps, w * ps, h * w * ps)
        loc.offset = self._alloc(self.n * loc.ns)
        self.tensors[name] = loc
        return loc

    def _concat_owner(self, name: str) -> tuple[str, int] | None:
        return None  # inputs are copied into the concatenation's slices by COPY tiles

    # ---------------------------------------------------------------- build
    def build(self) -> Program:
        comp = self.c
        model = comp.model
        count_guess = self._count_descriptors()
        self.prog_offset = self._alloc(count_guess * DESC_BYTES)
        self.param_offset = self._alloc(len(comp.params))
        seg: Segment | None = None
        for lay in model.layers:
            if lay.name in comp.plans:
                if seg is None:
                    seg = Segment("overlay", first=len(self.descs))
                    self.written = set()
                    self.wkey, self.akey = [None, None], [None, None]
                for i, pl in enumerate(comp.plans[lay.name]):
                    self._emit(pl, f"layer {lay.name}" + (f" part {i}" if i else ""))
                seg.layers.append(lay.name)
            elif lay.op in ("flatten", "reshape") and lay.name not in comp.lowered.host:
                continue  # a view: no work
            else:
                if seg is not None:
                    seg.count = len(self.descs) - seg.first
                    if seg.count:
                        self.segments.append(seg)
                    seg = None
                self.segments.append(Segment("host", layer=lay.name))
        if seg is not None:
            seg.count = len(self.descs) - seg.first
            if seg.count:
                self.segments.append(seg)
        assert len(self.descs) <= count_guess, "descriptor count estimate too small"
        return Program(self.n, _align(self.top), self.prog_offset, self.descs, self.segments,
                       self.tensors, self.param_offset)  # fmt: skip

    def _count_descriptors(self) -> int:
        """An upper bound of the descriptors (the program region is laid out first)."""
        total = 0
        for pls in self.c.plans.values():
            for pl in pls:
                total += len(list(self._tiles(pl)))
        return total

    def _tiles(self, pl: OpPlan):
        """(n, mb, cb, oy0, oh, ox0, ow, region mult) of every tile of an op, in the
        order they run: weights outermost, then images, then pixels, then input groups."""
        op, t = pl.op, pl.tiles
        g = op.geo
        p = self.p
        mg, cg = _ceil(g.m, p), _ceil(g.c, p)
        nmb = _ceil(mg, t.g_t)
        ncb = _ceil(cg, t.c_t) if op.kind == "CONV" else 1
        images = range(self.n) if op.per_image else range(1)
        ow_total = g.ow if op.per_image else self.n
        regions = op.regions or [(0, g.oh, 0, ow_total, op.mult_a)]
        for mb in range(nmb):
            for n in images:
                for y0, y1, x0, x1, mult in regions:
                    for oy in range(y0, y1, t.oh_t):
                        for ox in range(x0, x1, t.ow_t):
                            for cb in range(ncb):
                                yield (
                                    n,
                                    mb,
                                    cb,
                                    oy,
                                    min(t.oh_t, y1 - oy),
                                    ox,
                                    min(t.ow_t, x1 - ox),
                                    mult,
                                )

    def _emit(self, pl: OpPlan, note: str) -> None:
        op, t = pl.op, pl.tiles
        g = op.geo
        p = self.p
        a_loc = self._tensor(op.a)
        o_loc = self._tensor(op.out)
        b_loc = None
        b_const = op.b is not None and op.b in self.c.model.constants
        if op.b is not None and not b_const:
            b_loc = self._tensor(op.b)
        mg, cg = _ceil(g.m, p), _ceil(g.c, p)
        ncb = _ceil(cg, t.c_t) if op.kind == "CONV" else 1
        reads = [op.a] + ([op.b] if op.b is not None and not b_const else [])
        barrier = any(r in self.written or self._base(r) in self.written for r in reads)
        first = True
        for k, (n, mb, cb, oy, oh, ox, ow, mult) in enumerate(self._tiles(pl)):
            g0 = mb * t.g_t
            groups = min(t.g_t, mg - g0)
            c0 = cb * t.c_t if op.kind == "CONV" else g0
            cgs = min(t.c_t, cg - c0) if op.kind == "CONV" else groups
            v: dict[str, int] = {}
            flags: set[str] = set()
            if cb == 0:
                flags.add("PSUM_FIRST")
            if cb == ncb - 1:
                flags.add("PSUM_LAST")
            # operand A: the input rows and columns with the kernel's halo
            if op.per_image:
                iy0, ix0 = oy * g.sh - g.pt, ox * g.sw - g.pl
                ih, iw = g.in_rows(oh), g.in_cols(ow)
                r0, r1 = max(iy0, 0), min(iy0 + ih, g.h)
                q0, q1 = max(ix0, 0), min(ix0 + iw, g.w)
                rows, cols = max(r1 - r0, 0), max(q1 - q0, 0)
                pad_t = r0 - iy0 if rows else 0
                pad_l = q0 - ix0 if cols else 0
                a_addr = a_loc.at(n, r0, q0, c0, p) if rows and cols else a_loc.offset
                a_rs, a_ps = a_loc.rs, a_loc.ps
                o_addr = o_loc.at(n, oy, ox, op.out_group + g0, p)
                o_rs, o_ps = o_loc.rs, o_loc.ps
            else:  # gemm: the batch is the row of pixels
                ih, iw, rows, cols, pad_t, pad_l = 1, ow, 1, ow, 0, 0
                a_addr = a_loc.at(ox, 0, 0, c0, p)
                a_rs, a_ps = a_loc.ns * ow, a_loc.ns
                o_addr = o_loc.at(ox, 0, 0, op.out_group + g0, p)
                o_rs, o_ps = o_loc.ns * ow, o_loc.ns
            if not rows or not cols:
                rows = cols = 0
            v.update(IH=ih, IW=iw, ICG=cgs, OMG=groups, OH=oh, OW=ow, KH=g.kh, KW=g.kw,
                     SH=g.sh, SW=g.sw, DH=g.dh, DW=g.dw, PAD_T=pad_t, PAD_L=pad_l,
                     A_ROWS=rows, A_COLS=cols, A_ADDR=a_addr, A_RS=a_rs, A_PS=a_ps,
                     O_ADDR=o_addr, O_RS=o_rs, O_PS=o_ps, PADV=op.padv, ZP=op.zp,
                     LO=op.lo, HI=op.hi, ZA=op.za, ZB=op.zb, SHIFT=op.shift,
                     MULT_A=mult if op.regions else op.mult_a, MULT_B=op.mult_b,
                     FSHIFT=op.fshift)  # fmt: skip
            if self.c.model.tensors[op.a].dtype == "int8":
                flags.add("A_SIGNED")
            if op.kind == "CONV":
                self._conv_fields(op, v, flags)
            if op.rq is not None:
                flags.add("RQ_PER_CH")
            if op.table is not None:
                flags.add("TABLE")
                if op.table.ndim == 2:
                    flags.add("TABLE_PER_CH")
            # operand B
            if op.b is not None:
                if self.c.model.tensors[op.b].dtype == "int8":
                    flags.add("B_SIGNED")
                if op.b_bcast:
                    flags.add("B_BCAST")
                if b_const:
                    base = self.param_offset + self.c.const_at[op.b]
                    cshape = np.shape(self.c.model.constants[op.b])
                    full = len(cshape) == 4 and cshape[2] * cshape[3] > 1
                    c_ps = _ceil(g.c, p) * p
                    bw = cshape[3] if full else 1
                    v.update(B_ADDR=base + ((oy * bw + ox) * c_ps if full else 0) + g0 * p,
                             B_RS=bw * c_ps, B_PS=c_ps)  # fmt: skip
                else:
                    if op.b_bcast:
                        v.update(B_ADDR=b_loc.at(n, 0, 0, g0, p), B_RS=b_loc.rs, B_PS=b_loc.ps)
                    else:
                        v.update(B_ADDR=b_loc.at(n, oy, ox, g0, p), B_RS=b_loc.rs,
                                 B_PS=b_loc.ps)  # fmt: skip
            # parameters: the weight bank
            blk = pl.blocks.get((mb, cb))
            uses_w = blk is not None and (blk.ntiles or blk.rq_groups or blk.tslots)
            if uses_w:
                key = (op.layer, op.out_group, mb, cb)
                if key in self.wkey:
                    wb = self.wkey.index(key)
                else:
                    wb = 1 - self.prev_w
                    flags.add("LOAD_W")
                    self.wkey[wb] = key
                    v.update(W_ADDR=self.param_offset + blk.offset, RQ_GROUPS=blk.rq_groups,
                             TSLOTS=blk.tslots, PTAB_BEATS=blk.ptab_beats,
                             NTILES=blk.ntiles)  # fmt: skip
                v.update(TILE_BEATS=blk.tile_beats)
                self.prev_w = wb
                if wb:
                    flags.add("WBANK")
            # activations: reuse a bank that holds this tile's operand A (the same words:
            # the same load geometry of the same tensor)
            akey = (op.a, *(v.get(f, 0) for f in ("A_ADDR", "A_RS", "A_PS", "IH", "IW", "ICG",
                                                   "PAD_T", "PAD_L", "A_ROWS", "A_COLS",
                                                   "PADV")))  # fmt: skip
            binary = op.kind in ("ADD", "MUL")
            if akey in self.akey and not binary:
                ab = self.akey.index(akey)
            else:
                ab = 1 - self.prev_a
                flags.add("LOAD_A")
                self.akey[ab] = akey
                if binary:
                    flags.add("LOAD_B")
                    self.akey[1 - ab] = ("B", op.b, n, oy, ox)
            self.prev_a = ab
            if ab:
                flags.add("ABANK")
            if first and barrier:
                flags.add("BARRIER")
            first = False
            self.descs.append(
                Descriptor(op.kind, flags, v, note=f"{note} tile {k}", layer=op.layer)
            )
        self.written.add(self._base(op.out))

    def _base(self, name: str) -> str:
        return self.c.lowered.views.get(name, (name, 0))[0]

    def _conv_fields(self, op: OverlayOp, v: dict[str, int], flags: set[str]) -> None:
        w = op.weights
        cfg = self.cfg
        v["FIELD_W"] = w.field_w
        v["WBITS"] = w.field_w
        if w.int8:
            flags.add("W_SIGNED")
            if cfg.pe_type != "int8":
                flags.add("INT8_PATH")
            return
        if w.exp1:
            v["EXP1"] = sum((e & 7) << (4 * i) for i, e in enumerate(w.exp1))
            v["EXP2"] = sum((e & 7) << (4 * i) for i, e in enumerate(w.exp2))
        if w.levels:
            lev = list(w.levels) + [0] * 16
            for j in range(4):
                v[f"LEV{j}"] = sum((int(lev[4 * j + k]) & 0xFF) << (8 * k) for k in range(4))
        if w.ptab is not None:
            v["ABITS"] = w.abits
            v["AQMIN"] = w.aqmin


def _chw(model: IntModel, name: str) -> tuple[int, int, int]:
    s = tuple(1 if d is None else int(d) for d in model.tensors[name].shape)
    if len(s) == 2:
        return s[1], 1, 1
    return s[1], s[2], s[3]
