"""Each layer of an integer model as a fast step: its packed constants, how it runs on its
own (``run``) and how it lowers into a whole-network program (``lower``), with the padded
layout it reads its input in (``want``). Layers without a fast kernel run their golden op
(docs/fast.md sections 1-5)."""

from __future__ import annotations

import numpy as np

from plutflow.errors import ShapeError
from plutflow.fast import kernels as fk
from plutflow.fast import program as prog
from plutflow.fast import tiles
from plutflow.fast.env import Env, Step, offset
from plutflow.fast.pack import epilogue, pack_dense, split_weights, sums_fit_int32
from plutflow.golden.ops import INT_OPS
from plutflow.intmodel.model import IntLayer, IntModel, TensorSpec
from plutflow.intmodel.schema import integer_weights, weight_scheme
from plutflow.kernels import windows as win
from plutflow.quant.tables import table_is_product

#: groups of a grouped (not depthwise) conv up to which it runs as one block-diagonal GEMM
MAX_DENSE_GROUPS = 8
_NO_PAD = win.resolve((1, 1), (1, 1))
_TAP0 = np.zeros(1, np.int64)


def _padded_hw(geom: win.WindowGeometry, h: int, w: int) -> tuple[int, int]:
    """Height and width of an (h, w) input with the declared and ceil-mode padding."""
    (pt, pl), (pb, pr), (eb, er) = geom.pads_begin, geom.pads_end, geom.extra_end
    return h + pt + pb + eb, w + pl + pr + er


def _padded(x: np.ndarray, geom: win.WindowGeometry, cp: int, value: int) -> np.ndarray:
    """(N, H, W, C) -> (N, H + pads, W + pads, cp) filled with ``value`` around ``x``."""
    n, h, w, c = x.shape
    hp, wp = _padded_hw(geom, h, w)
    if (hp, wp, cp) == (h, w, c):
        return np.ascontiguousarray(x)
    xp = np.empty((n, hp, wp, cp), np.uint8)
    fk.pad_nhwc(np.ascontiguousarray(x).reshape(-1), n, h, w, c, *geom.pads_begin, hp, wp, cp,
                value, xp.reshape(-1))  # fmt: skip
    return xp


def _padded_input(env: Env, name: str, geom: win.WindowGeometry, cp: int, value: int):
    """:func:`_padded` of a tensor, straight from golden's layout when the environment
    holds only that (the model's input): one pass instead of a transpose and a copy."""
    if env.has_u(name) or name not in env.golden:
        return _padded(env.get_u(name), geom, cp, value)
    q = env.golden[name]
    n, c, h, w = q.shape
    hp, wp = _padded_hw(geom, h, w)
    xp = np.empty((n, hp, wp, cp), np.uint8)
    flip = 0x80 if env.tensors[name].dtype == "int8" else 0
    fk.pad_nchw(np.ascontiguousarray(q).view(np.uint8).reshape(-1), n, c, h, w, flip,
                *geom.pads_begin, hp, wp, cp, value, xp.reshape(-1))  # fmt: skip
    return xp


def _lower_pad(lw: prog.Lowering, name: str, geom: win.WindowGeometry, cp: int,
               value: int) -> tuple[int, int, int]:  # fmt: skip
    """The slot, padded height and width of tensor ``name`` as :func:`_padded` makes it:
    the tensor's own slot when no padding is needed, else a row filling a new one."""
    shape = lw.nhwc(name)
    n, h, w, c = shape if len(shape) == 4 else (shape[0], 1, 1, shape[1])
    hp, wp = _padded_hw(geom, h, w)
    if (hp, wp, cp) == (h, w, c):
        return lw.src(name), hp, wp
    if lw.padded.get(name) == (value, hp, wp, *geom.pads_begin, cp):  # its producer padded it
        return lw.src(name), hp, wp
    slot = lw.temp(n * hp * wp * cp)
    lw.emit(prog.PAD_NHWC, slot, (lw.src(name),),
            (n, h, w, c, *geom.pads_begin, hp, wp, cp, value))  # fmt: skip
    return slot, hp, wp


def _want(windows: _Windows, cp: int | None, value: int):
    """A reader's ``want``: the padded layout (:data:`plutflow.fast.program.Layout`) it
    reads an (N, H, W, C) input of a given shape in, or None when it needs no padding."""

    def want(shape: tuple[int, ...]) -> prog.Layout | None:
        if len(shape) != 4:
            return None
        geom, _ = windows(shape)
        hp, wp = _padded_hw(geom, *shape[1:3])
        stride = cp or shape[3]
        if (hp, wp, stride) == tuple(shape[1:]):
            return None
        return (value, hp, wp, *geom.pads_begin, stride)

    return want


def _lower_pool(lw: prog.Lowering, op: int, name: str, outname: str, windows: _Windows,
                pad: int, extra) -> None:  # fmt: skip
    """The rows of a window kernel (max or average pool) over ``name`` padded with
    ``pad``: the kernel's window arguments, then ``extra(geom)``."""
    n, _, _, c = shape = lw.nhwc(name)
    geom, taps = windows(shape)
    (oh, ow), (sh, sw) = geom.out_shape, geom.strides
    xs, hp, wp = _lower_pad(lw, name, geom, c, pad)
    ys = lw.out(outname, (n, oh, ow, c))
    lw.emit(op, ys, (xs,), (n, hp, wp, c, oh, ow, sh, sw, lw.const("i64", taps),
                            *extra(geom)))  # fmt: skip


def _pool(kernel, x: np.ndarray, windows: _Windows, pad: int, dtype, *extra):
    """Run a window ``kernel`` (max or sum) over ``x`` padded with ``pad``: its geometry
    and its (N, OH, OW, C) output of ``dtype``."""
    geom, taps = windows(x.shape)
    xp = _padded(x, geom, x.shape[3], pad)
    (oh, ow), (sh, sw), c = geom.out_shape, geom.strides, x.shape[3]
    y = np.empty((x.shape[0], oh, ow, c), dtype)
    kernel(xp.reshape(-1), x.shape[0], xp.shape[1], xp.shape[2], c, oh, ow, sh, sw, taps,
           *extra, y.reshape(-1))  # fmt: skip
    return geom, y


def _tap_offsets(geom: win.WindowGeometry, wp: int, cp: int) -> np.ndarray:
    (kh, kw), (dh, dw) = geom.kernel, geom.dilations
    return np.array([(i * dh * wp + j * dw) * cp for i in range(kh) for j in range(kw)], np.int64)


class _Windows:
    """A layer's window geometry and tap offsets (for a channel stride ``cp``, default the
    input's channels), resolved once per input shape."""

    def __init__(self, layer: IntLayer, cp: int | None = None) -> None:
        self.layer, self.cp = layer, cp
        self.cache: dict[tuple, tuple[win.WindowGeometry, np.ndarray]] = {}

    def __call__(self, shape: tuple[int, ...]) -> tuple[win.WindowGeometry, np.ndarray]:
        """For an input of NHWC ``shape``."""
        hit = self.cache.get(shape[1:])
        if hit is None:
            geom = _geometry(self.layer, shape[1:3])
            wp = _padded_hw(geom, *shape[1:3])[1]
            hit = (geom, _tap_offsets(geom, wp, self.cp or shape[3]))
            self.cache[shape[1:]] = hit
        return hit


def _geometry(layer: IntLayer, hw: tuple[int, int]) -> win.WindowGeometry:
    a = layer.attrs
    return win.resolve(
        hw, a["kernel"], a["strides"], a["dilations"], a["pads"],
        ceil_mode=bool(a.get("ceil_mode", 0)),
    )  # fmt: skip


class _ColumnPass:
    """The packed weights, epilogue columns and tile of output channels ``c0 .. c0+mc``."""

    def __init__(self, parts, cp: int, c0: int, mc: int, nparts: int, vectors, path: str):
        self.c0, self.mc = c0, mc
        self.mr, nv = tiles.tile_shape(mc, path)
        self.nr = 16 * nv
        self.v = tiles.variant(self.mr, nv, nparts, path)
        blocks = -(-mc // self.nr)
        self.packed = pack_dense([pt[c0 : c0 + mc] for pt in parts], cp, self.nr)
        if path != "vnni512":
            self.packed = tiles.k_major(self.packed, self.nr)
        self.psize = self.packed.size // (blocks * nparts)
        self.vectors = np.ascontiguousarray(vectors[:, c0 : c0 + blocks * self.nr])


class Compiler:
    """Turns each layer into a :class:`~plutflow.fast.env.Step` (``compile``)."""

    def __init__(self, model: IntModel, path: str) -> None:
        self.model, self.path = model, path
        self.tensors = model.tensors

    # ------------------------------------------------------------------ fallbacks
    def golden(self, layer: IntLayer, why: str) -> Step:
        op, tensors = INT_OPS[layer.op], self.tensors
        in_specs = [tensors[i] for i in layer.inputs]
        out = tensors[layer.outputs[0]]

        def run(env: Env) -> None:
            ins = [env.get_golden(i) for i in layer.inputs]
            env.golden[layer.outputs[0]] = op(layer, ins, in_specs, out)

        return Step(layer, "golden", why, run)

    def compile(self, layer: IntLayer) -> Step:
        method = getattr(self, f"op_{layer.op}", None)
        if method is None:
            return self.golden(layer, "no fast kernel for this op")
        step = method(layer)
        return step if isinstance(step, Step) else self.golden(layer, step)

    def specs(self, layer: IntLayer) -> tuple[TensorSpec, TensorSpec]:
        return self.tensors[layer.inputs[0]], self.tensors[layer.outputs[0]]

    # ------------------------------------------------------------------ conv / gemm
    def _weights(self, layer: IntLayer, in_spec: TensorSpec) -> np.ndarray | str:
        if weight_scheme(layer) == "plut" and not table_is_product(layer, in_spec):
            return "its P-LUT table is not a product of weight and activation"
        return np.asarray(integer_weights(layer), np.int64)

    def op_conv(self, layer: IntLayer) -> Step | str:
        in_spec, out = self.specs(layer)
        a = layer.attrs
        if len(a["kernel"]) != 2 or len(in_spec.shape) != 4:
            return "only 2-D convolutions have a fast kernel"
        w = self._weights(layer, in_spec)
        if isinstance(w, str):
            return w
        group, (m, cg) = int(a["group"]), w.shape[:2]
        if group > 1 and cg == 1 and m == group:
            return self._depthwise(layer, w, in_spec, out)
        if group > 1:
            if group > MAX_DENSE_GROUPS:
                return f"grouped convolution with {group} groups"
            dense = np.zeros((m, cg * group, *w.shape[2:]), np.int64)
            mg = m // group
            for g in range(group):
                dense[g * mg : (g + 1) * mg, g * cg : (g + 1) * cg] = w[g * mg : (g + 1) * mg]
            w = dense
        return self._dense(layer, np.moveaxis(w, 1, -1), in_spec, out, conv=True)

    def op_gemm(self, layer: IntLayer) -> Step | str:
        in_spec, out = self.specs(layer)
        if len(in_spec.shape) != 2:
            return "gemm input is not 2-D"
        w = self._weights(layer, in_spec)
        if isinstance(w, str):
            return w
        return self._dense(layer, w[:, None, None, :], in_spec, out, conv=False)

    def _u_max(self, layer: IntLayer, in_spec: TensorSpec) -> tuple[int, int]:
        off = offset(in_spec)
        pad_u = int(layer.attrs.get("pad_value", in_spec.zero_point)) + off
        return max(in_spec.qmax + off, pad_u), pad_u

    def _dense(self, layer, w, in_spec, out, conv: bool) -> Step | str:
        """Conv (or FC as a 1x1 conv on a 1x1 image) by the implicit-GEMM tile kernel.
        ``w`` is (M, kh, kw, C)."""
        parts = split_weights(w)
        if parts is None:
            return "weights beyond 14 bits"
        u_max, pad_u = self._u_max(layer, in_spec)
        if not sums_fit_int32(parts, u_max):
            return "int32 sums could overflow (255 * sum|w| >= 2**31)"
        m, c = w.shape[0], w.shape[-1]
        nparts, cp = len(parts), -(-c // 4) * 4
        vectors, sc, lut = self._epilogue(layer, w, in_spec, out, m + 64)
        passes = [_ColumnPass(parts, cp, c0, mc, nparts, vectors, self.path)
                  for c0, mc in tiles.column_passes(m, self.path)]  # fmt: skip
        drive = tiles.conv_gemm_vnni if self.path == "vnni512" else tiles.conv_gemm_generic
        name, outname, windows = layer.inputs[0], layer.outputs[0], _Windows(layer, cp)

        def run(env: Env) -> None:
            if conv:
                shape = env.nhwc_shape(name)
                n = shape[0]
                geom, taps = windows(shape)
                xp = _padded_input(env, name, geom, cp, pad_u)
                (oh, ow), (sh, sw) = geom.out_shape, geom.strides
                hp, wp = xp.shape[1:3]
            else:
                x = env.get_u(name)
                n = x.shape[0]
                xp = x if cp == c else _padded(x[:, None, None, :], _NO_PAD, cp, pad_u)
                oh = ow = sh = sw = hp = wp = 1
                taps = _TAP0
            y = np.empty(n * oh * ow * m, np.uint8)
            yg = np.array([oh, ow, 0, 0, m], np.int64)
            for ps in passes:
                drive(ps.v, ps.mr, ps.nr, xp.reshape(-1), n, hp, wp, cp, oh, ow, sh, sw, taps,
                      cp // 4, ps.packed, ps.psize, nparts, ps.vectors, sc, ps.c0, ps.mc, y,
                      yg)  # fmt: skip
            if lut is not None:
                fk.lookup_channels(y, lut)
            env.u[outname] = y.reshape((n, oh, ow, m) if conv else (n, m))

        def lower(lw: prog.Lowering) -> bool:
            shape = lw.nhwc(name)
            n = shape[0]
            if conv:
                geom, taps = windows(shape)
                (oh, ow), (sh, sw) = geom.out_shape, geom.strides
            else:
                geom, taps, oh, ow, sh, sw = _NO_PAD, _TAP0, 1, 1, 1, 1
            xs, hp, wp = _lower_pad(lw, name, geom, cp, pad_u)
            if conv and lut is None:  # (a table would also map a padded buffer's border)
                ys, yg = lw.out_layout(outname, (n, oh, ow, m))
            else:
                ys, yg = lw.out(outname, (n, oh, ow, m) if conv else (n, m)), (oh, ow, 0, 0, m)
            taps_i, sc_i, yg_i = (lw.const("i64", a) for a in (taps, sc, yg))
            for ps in passes:
                lw.emit(prog.GEMM, ys, (xs,), (
                    ps.v, ps.mr, ps.nr, n, hp, wp, cp, oh, ow, sh, sw, taps_i, cp // 4,
                    lw.const("i8", ps.packed), ps.psize, nparts, lw.const("i64m", ps.vectors),
                    sc_i, ps.c0, ps.mc, yg_i))  # fmt: skip
            if lut is not None:
                lw.emit(prog.LUT, ys, (), (lw.const("u8m", lut), n * oh * ow * m))
            return True

        form = "float64" if sc[5] else "int64"
        shapes = " + ".join(f"{ps.mr}x{ps.nr}" for ps in reversed(passes))
        note = f"{self.path} tile {shapes}, {nparts} weight part(s), {form} epilogue"
        want = _want(windows, cp, pad_u) if conv else None
        return Step(layer, "fast", note, run, lower, want)

    def _depthwise(self, layer, w, in_spec, out) -> Step | str:
        u_max, pad_u = self._u_max(layer, in_spec)
        if not sums_fit_int32([w], u_max):
            return "int32 sums could overflow (255 * sum|w| >= 2**31)"
        if np.abs(w).max(initial=0) >= 2**15:
            return "depthwise weights beyond 16 bits"
        m = w.shape[0]
        cpad = -(-m // 16) * 16
        wv = np.zeros((w.shape[2] * w.shape[3], cpad), np.int16)  # (taps, channels)
        wv[:, :m] = w.reshape(m, -1).T
        vectors, sc, lut = self._epilogue(layer, w, in_spec, out, cpad)
        name, outname, windows = layer.inputs[0], layer.outputs[0], _Windows(layer)
        dw = tiles.depthwise_avx512 if self.path == "vnni512" else tiles.depthwise

        def run(env: Env) -> None:
            x = env.get_u(name)
            geom, taps = windows(x.shape)
            xp = _padded(x, geom, m, pad_u)
            (oh, ow), (sh, sw) = geom.out_shape, geom.strides
            y = np.empty((x.shape[0], oh, ow, m), np.uint8)
            dw(xp.reshape(-1), x.shape[0], xp.shape[1], xp.shape[2], m, oh, ow, sh, sw, taps, wv,
               vectors, sc, y.reshape(-1), np.array([oh, ow, 0, 0, m], np.int64))  # fmt: skip
            if lut is not None:
                fk.lookup_channels(y.reshape(-1), lut)
            env.u[outname] = y

        def lower(lw: prog.Lowering) -> bool:
            n = lw.nhwc(name)[0]
            geom, taps = windows(lw.nhwc(name))
            (oh, ow), (sh, sw) = geom.out_shape, geom.strides
            xs, hp, wp = _lower_pad(lw, name, geom, m, pad_u)
            if lut is None:
                ys, yg = lw.out_layout(outname, (n, oh, ow, m))
            else:  # (a table would also map a padded buffer's border)
                ys, yg = lw.out(outname, (n, oh, ow, m)), (oh, ow, 0, 0, m)
            lw.emit(prog.DW, ys, (xs,), (
                n, hp, wp, m, oh, ow, sh, sw, lw.const("i64", taps), lw.const("i16m", wv),
                lw.const("i64m", vectors), lw.const("i64", sc), lw.const("i64", yg)))  # fmt: skip
            if lut is not None:
                lw.emit(prog.LUT, ys, (), (lw.const("u8m", lut), n * oh * ow * m))
            return True

        form = "float64" if sc[5] else "int64"
        return Step(layer, "fast", f"depthwise row kernel, {form} epilogue", run, lower,
                    _want(windows, m, pad_u))  # fmt: skip

    def _epilogue(self, layer, w, in_spec, out, width):
        """The epilogue vectors (``width`` columns), scalars and output table of a
        conv/gemm with integer weights ``w`` (M first)."""
        ep = epilogue(layer, w, offset(in_spec), self._u_max(layer, in_spec)[0],
                      out.zero_point, offset(out))  # fmt: skip
        return ep.vectors(width), ep.scalars(), (ep.lut() if ep.has_table else None)

    # ------------------------------------------------------------------ pooling
    def op_maxpool(self, layer: IntLayer) -> Step | str:
        in_spec, out = self.specs(layer)
        if len(layer.attrs["kernel"]) != 2 or len(in_spec.shape) != 4:
            return "only 2-D pooling has a fast kernel"
        if out.dtype != in_spec.dtype:
            return "max pool changes the code type"
        pad_u, name, outname = in_spec.qmin + offset(in_spec), layer.inputs[0], layer.outputs[0]
        windows = _Windows(layer)

        def run(env: Env) -> None:
            env.u[outname] = _pool(fk.max_pool, env.get_u(name), windows, pad_u, np.uint8)[1]

        def lower(lw: prog.Lowering) -> bool:
            _lower_pool(lw, prog.MAXPOOL, name, outname, windows, pad_u, lambda geom: ())
            return True

        return Step(layer, "fast", "max pool kernel", run, lower, _want(windows, None, pad_u))

    def op_avgpool(self, layer: IntLayer) -> Step | str:
        in_spec, out = self.specs(layer)
        if len(layer.attrs["kernel"]) != 2 or len(in_spec.shape) != 4:
            return "only 2-D pooling has a fast kernel"
        a = layer.attrs
        if np.ndim(a["shift"]):
            return "average pool with per-channel shifts"
        centre = in_spec.zero_point + offset(in_spec)
        # after the centre and the multipliers: shift, zero point, clamp, output offset
        consts = (int(a["shift"]), out.zero_point, int(a["lo"]), int(a["hi"]), offset(out))
        name, outname = layer.inputs[0], layer.outputs[0]
        windows, mults = _Windows(layer), {}

        def mult_of(geom: win.WindowGeometry) -> np.ndarray:
            """The multiplier of each output position's window count."""
            if geom not in mults:
                n = win.window_counts(geom, bool(a["count_include_pad"]))
                mults[geom] = np.ascontiguousarray(
                    np.asarray(layer.params["mult"], np.int64)[n].reshape(-1)
                )
            return mults[geom]

        def run(env: Env) -> None:
            x = env.get_u(name)
            mult = mult_of(windows(x.shape)[0])
            env.u[outname] = _pool(fk.avg_pool, x, windows, centre, np.uint8, centre, mult,
                                   *consts)[1]  # fmt: skip

        def lower(lw: prog.Lowering) -> bool:
            _lower_pool(
                lw,
                prog.AVGPOOL,
                name,
                outname,
                windows,
                centre,
                lambda geom: (centre, lw.const("i64", mult_of(geom)), *consts),
            )
            return True

        return Step(layer, "fast", "average pool kernel", run, lower,
                    _want(windows, None, centre))  # fmt: skip

    def op_global_avgpool(self, layer: IntLayer) -> Step | str:
        in_spec, out = self.specs(layer)
        if len(in_spec.shape) != 4:
            return "only 2-D pooling has a fast kernel"
        a, centre = layer.attrs, in_spec.zero_point + offset(in_spec)
        if np.ndim(a["mult"]) or np.ndim(a["shift"]):
            return "global average with per-channel multipliers"
        consts = (centre, int(a["mult"]), int(a["shift"]), out.zero_point, int(a["lo"]),
                  int(a["hi"]), offset(out))  # fmt: skip
        name, outname = layer.inputs[0], layer.outputs[0]

        def run(env: Env) -> None:
            x = env.get_u(name)
            n, h, w, c = x.shape
            y = np.empty((n, 1, 1, c), np.uint8)
            fk.global_pool(x.reshape(-1), n, h * w, c, *consts, y.reshape(-1))
            env.u[outname] = y

        def lower(lw: prog.Lowering) -> bool:
            n, h, w, c = lw.nhwc(name)
            ys = lw.out(outname, (n, 1, 1, c))
            lw.emit(prog.GLOBAL_POOL, ys, (lw.src(name),), (n, h * w, c, *consts))
            return True

        return Step(layer, "fast", "global average", run, lower)

    # ------------------------------------------------------------------ elementwise
    def op_add(self, layer: IntLayer) -> Step | str:
        sa, sb = (self.tensors[i] for i in layer.inputs)
        out = self.tensors[layer.outputs[0]]
        if tuple(sa.shape) != tuple(sb.shape) or len(sa.shape) not in (2, 4):
            return "add with broadcasting"
        a = layer.attrs
        consts = (
            sa.zero_point + offset(sa), sb.zero_point + offset(sb), int(a["mult_a"]),
            int(a["mult_b"]), int(a["shift"]), out.zero_point, int(a["lo"]), int(a["hi"]),
            offset(out),
        )  # fmt: skip
        (na, nb), outname = layer.inputs, layer.outputs[0]

        def run(env: Env) -> None:
            xa, xb = env.get_u(na), env.get_u(nb)
            if xa.shape != xb.shape:
                raise ShapeError(f"layer '{layer.name}': add of shapes {xa.shape}, {xb.shape}")
            y = np.empty_like(xa)
            fk.add(xa.reshape(-1), xb.reshape(-1), *consts, y.reshape(-1))
            env.u[outname] = y

        def lower(lw: prog.Lowering) -> bool:
            shape = lw.nhwc(na)
            if lw.nhwc(nb) != shape:
                raise ShapeError(f"layer '{layer.name}': add of shapes {shape}, {lw.nhwc(nb)}")
            size = int(np.prod(shape))
            ys = lw.out(outname, shape)
            lw.emit(prog.ADD, ys, (lw.src(na), lw.src(nb)), (size, *consts))
            return True

        return Step(layer, "fast", "add kernel", run, lower)

    def op_mul(self, layer: IntLayer) -> Step | str:
        sa, sb = (self.tensors[i] for i in layer.inputs)
        out = self.tensors[layer.outputs[0]]
        if len(sa.shape) != 4 or len(sb.shape) != 4 or sa.shape[1] != sb.shape[1]:
            return "mul that is not per channel"
        a = layer.attrs
        if np.ndim(a["mult"]) or np.ndim(a["shift"]):
            return "mul with per-channel multipliers"
        consts = (sa.zero_point + offset(sa), sb.zero_point + offset(sb), int(a["mult"]),
                  int(a["shift"]), out.zero_point, int(a["lo"]), int(a["hi"]),
                  offset(out))  # fmt: skip
        (na, nb), outname = layer.inputs, layer.outputs[0]

        def run(env: Env) -> None:
            xa, xb = env.get_u(na), env.get_u(nb)
            n, c = xa.shape[0], xa.shape[3]
            hw = max(xa.shape[1] * xa.shape[2], xb.shape[1] * xb.shape[2])
            a_hw, b_hw = xa.shape[1] * xa.shape[2], xb.shape[1] * xb.shape[2]
            if xb.shape[0] != n or xb.shape[3] != c or {a_hw, b_hw} - {1, hw}:
                raise ShapeError(f"layer '{layer.name}': mul of shapes {xa.shape}, {xb.shape}")
            shape = xa.shape if a_hw == hw else xb.shape
            y = np.empty(shape, np.uint8)
            fk.mul(xa.reshape(-1), xb.reshape(-1), n, hw, c, a_hw, b_hw, *consts,
                   y.reshape(-1))  # fmt: skip
            env.u[outname] = y

        def lower(lw: prog.Lowering) -> bool:
            sa_, sb_ = lw.nhwc(na), lw.nhwc(nb)
            if len(sa_) != 4 or len(sb_) != 4:
                return False
            n, c = sa_[0], sa_[3]
            a_hw, b_hw = sa_[1] * sa_[2], sb_[1] * sb_[2]
            hw = max(a_hw, b_hw)
            if sb_[0] != n or sb_[3] != c or {a_hw, b_hw} - {1, hw}:
                raise ShapeError(f"layer '{layer.name}': mul of shapes {sa_}, {sb_}")
            shape = sa_ if a_hw == hw else sb_
            ys = lw.out(outname, shape)
            lw.emit(prog.MUL, ys, (lw.src(na), lw.src(nb)),
                    (n, hw, c, a_hw, b_hw, *consts))  # fmt: skip
            return True

        return Step(layer, "fast", "mul kernel", run, lower)

    def op_table(self, layer: IntLayer) -> Step | str:
        in_spec, out = self.specs(layer)
        if len(in_spec.shape) not in (2, 4):
            return "table on a tensor that is not 2-D or 4-D"
        table = np.asarray(layer.params["table"], np.int64)
        rows = table.reshape(-1, table.shape[-1])
        idx = np.arange(256) - offset(in_spec) - in_spec.qmin
        ok = (idx >= 0) & (idx < rows.shape[1])
        lut = np.zeros((rows.shape[0], 256), np.uint8)
        lut[:, ok] = (rows[:, idx[ok]] + offset(out)).astype(np.uint8)
        name, outname = layer.inputs[0], layer.outputs[0]

        def lower(lw: prog.Lowering) -> bool:
            shape = lw.nhwc(name)
            if lut.shape[0] not in (1, shape[-1]):
                return False
            size = int(np.prod(shape))
            rows = np.broadcast_to(lut, (shape[-1], 256))
            ys = lw.out(outname, shape)
            lw.emit(prog.TABLE, ys, (lw.src(name),), (size, lw.const("u8m", rows)))
            return True

        if table.ndim == 1:
            flat = lut[0]

            def run(env: Env) -> None:
                env.u[outname] = flat[env.get_u(name)]
        else:
            chans = np.arange(lut.shape[0])

            def run(env: Env) -> None:
                env.u[outname] = lut[chans, env.get_u(name)]

        return Step(layer, "fast", "lookup", run, lower)

    def op_softmax(self, layer: IntLayer) -> Step | str:
        in_spec, out = self.specs(layer)
        axis, rank = layer.attrs["axis"], len(in_spec.shape)
        if rank not in (2, 4) or axis not in (1, 1 - rank):
            return "softmax over an axis other than channels"
        table = np.ascontiguousarray(layer.params["exp_table"], np.int64)
        if table.shape != (256,):
            return "softmax table of another length than 256"
        name, outname, off_out = layer.inputs[0], layer.outputs[0], offset(out)

        def run(env: Env) -> None:
            x = env.get_u(name)
            y = np.empty_like(x)
            fk.softmax(x.reshape(-1), x.size // x.shape[-1], x.shape[-1], table, off_out,
                       y.reshape(-1))  # fmt: skip
            env.u[outname] = y

        def lower(lw: prog.Lowering) -> bool:
            shape = lw.nhwc(name)
            size = int(np.prod(shape))
            ys = lw.out(outname, shape)
            lw.emit(prog.SOFTMAX, ys, (lw.src(name),),
                    (size // shape[-1], shape[-1], lw.const("i64", table), off_out))  # fmt: skip
            return True

        return Step(layer, "fast", "softmax kernel", run, lower)

    # ------------------------------------------------------------------ movement
    def op_concat(self, layer: IntLayer) -> Step | str:
        specs = [self.tensors[i] for i in layer.inputs]
        out = self.tensors[layer.outputs[0]]
        a = layer.attrs
        if a["axis"] != 1 or len(out.shape) not in (2, 4):
            return "concat on an axis other than channels"
        if any(m is None and s.dtype != out.dtype for m, s in zip(a["mults"], specs,
                                                                  strict=True)):  # fmt: skip
            return "concat that changes the code type"
        names, outname, off_out = list(layer.inputs), layer.outputs[0], offset(out)
        # per input: (centre, M0, n, zp): a copy is the identity requantization
        consts = [(offset(sp), 1, 0, 0) if m is None else (sp.zero_point + offset(sp), int(m),
                   int(n), out.zero_point) for sp, m, n in zip(specs, a["mults"], a["shifts"],
                                                                strict=True)]  # fmt: skip

        def run(env: Env) -> None:
            xs = [env.get_u(i) for i in names]
            c_out = sum(x.shape[-1] for x in xs)
            y = np.empty((*xs[0].shape[:-1], c_out), np.uint8)
            n_pix, c0 = y.size // c_out, 0
            for x, (centre, m, n, zo) in zip(xs, consts, strict=True):
                if x.shape[:-1] != y.shape[:-1]:
                    raise ShapeError(f"layer '{layer.name}': concat of {x.shape} and {y.shape}")
                fk.requant_into(x.reshape(-1), n_pix, x.shape[-1], centre, m, n, zo, out.qmin,
                                out.qmax, off_out, y.reshape(-1), c_out, c0)  # fmt: skip
                c0 += x.shape[-1]
            env.u[outname] = y

        def lower(lw: prog.Lowering) -> bool:
            shapes = [lw.nhwc(i) for i in names]
            c_out = sum(sh[-1] for sh in shapes)
            out_shape = (*shapes[0][:-1], c_out)
            if any(sh[:-1] != out_shape[:-1] for sh in shapes):
                raise ShapeError(f"layer '{layer.name}': concat of {shapes}")
            n_pix, c0 = int(np.prod(out_shape[:-1])), 0
            ys = lw.out(outname, out_shape)
            for i, (sh, (centre, m, n, zo)) in enumerate(zip(shapes, consts, strict=True)):
                lw.emit(prog.REQUANT_INTO, ys,
                        (lw.src(names[i]),), (n_pix, sh[-1], centre, m, n, zo, out.qmin,
                                              out.qmax, off_out, c_out, c0))  # fmt: skip
                c0 += sh[-1]
            return True

        return Step(layer, "fast", "channel concat", run, lower)

    def _to_vector(self, layer: IntLayer) -> Step | str:
        in_spec, out = self.specs(layer)
        dims = (len(in_spec.shape), len(out.shape))
        if dims == (2, 4) and out.shape[2:] == (1, 1):
            name, outname = layer.inputs[0], layer.outputs[0]

            def expand(env: Env) -> None:
                x = env.get_u(name)
                env.u[outname] = x.reshape(x.shape[0], 1, 1, x.shape[1])

            def lower_expand(lw: prog.Lowering) -> bool:
                n, c = lw.nhwc(name)
                lw.alias(outname, (n, 1, 1, c), name)
                return True

            return Step(layer, "fast", "view as a 1x1 map", expand, lower_expand)
        if dims != (4, 2):
            return "reshape that moves data"
        name, outname, golden = layer.inputs[0], layer.outputs[0], INT_OPS[layer.op]

        def run(env: Env) -> None:
            if not env.has_u(name) or env.u[name].shape[1:3] != (1, 1):
                x = env.get_golden(name)
                env.golden[outname] = golden(layer, [x], [in_spec], out)
                return
            x = env.u[name]
            env.u[outname] = x.reshape(x.shape[0], x.shape[3])

        def lower(lw: prog.Lowering) -> bool:
            shape = lw.nhwc(name)
            n, h, w, c = shape
            if (h, w) == (1, 1):
                lw.alias(outname, (n, c), name)
                return True
            if not _flattens(layer, n, c * h * w):
                return False
            ys = lw.out(outname, (n, c * h * w))
            lw.emit(prog.FLATTEN, ys, (lw.src(name),), (n, h * w, c))
            return True

        return Step(layer, "fast", "view of a 1x1 map", run, lower)

    op_flatten = _to_vector
    op_reshape = _to_vector


def _flattens(layer: IntLayer, n: int, size: int) -> bool:
    """Whether a flatten/reshape of an (N, C, H, W) tensor gives (N, C*H*W)."""
    a = layer.attrs
    if layer.op == "flatten":
        return a.get("axis") == 1
    shape = list(a.get("shape", ()))
    return len(shape) == 2 and (shape in ([0, -1], [n, -1], [-1, size]) or
                                (shape[0] in (0, n) and shape[1] == size))  # fmt: skip
