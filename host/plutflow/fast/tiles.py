"""Micro-kernels: one MR x NR tile of an implicit GEMM with its requantization epilogue.

Contract (shared by both implementations):

* activations are uint8; tile row ``r`` is the window whose tap ``t`` starts at byte
  ``rows[r] + taps[t]`` of ``x`` and holds ``4 * kc4`` contiguous channel bytes;
* weights are int8 packed as ``[part][tap][channel group of 4][NR lanes][4]`` starting at
  ``w[wbase]``, parts ``psize`` bytes apart (:func:`plutflow.fast.pack.pack_dense`);
* the int32 sums of part 0 (plus part 1 shifted left by 7) are requantized with the
  per-channel rows of ``ep`` (bias, mult, shift, half, and the float64 bits of A and C;
  columns from ``cbase``) and the scalars ``sc = (f, zp, lo, hi, off, exact_float)``:
  ``clamp((((acc << f) + bias) * mult + half) >> shift) + zp, lo, hi) + off``
  (:class:`_Epilogue`);
* the byte for channel ``j < width`` of row ``r`` goes to ``y[yrows[r] + ycol + j]``;
  nothing else is written (a partial last vector is a masked store), so the output may
  be the interior of a padded buffer.

:func:`vnni_tile` emits AVX-512 VNNI ``vpdpbusd`` and a vector epilogue through LLVM;
:func:`generic_tile` is plain integer loops (exact on every CPU).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: (rows, 16-lane vectors per row) of each tile shape; NR = 16 * vectors
SHAPES = ((8, 1), (8, 2), (6, 4))

_I8, _I32, _I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
_V16 = ir.VectorType(_I32, 16)
_V16L = ir.VectorType(_I64, 16)
_V16D = ir.VectorType(ir.DoubleType(), 16)
_V16B = ir.VectorType(_I8, 16)
_I16 = ir.IntType(16)
_V16H = ir.VectorType(_I16, 16)


#: the portable tile: 4 rows x 16 channels (8 ymm of accumulators on AVX2, no spills)
GENERIC_SHAPE = (4, 1)


def column_passes(m: int, path: str = "vnni512") -> list[tuple[int, int]]:
    """The output channels of a layer as (first, count) passes, each run with the tile of
    :func:`tile_shape`: the channels past the last multiple of 64 (with the narrowest tile
    that covers them), then the multiples of 64 with the 64-wide tile, so no 64-wide tile
    computes channels that do not exist."""
    main = m // 64 * 64
    if path != "vnni512" or main in (0, m):
        return [(0, m)]
    return [(main, m - main), (0, main)]


def tile_shape(m: int, path: str = "vnni512") -> tuple[int, int]:
    """The tile shape for ``m`` output channels: the narrowest that covers them, at most 64
    (the portable path has one shape)."""
    if path != "vnni512":
        return GENERIC_SHAPE
    for mr, nv in SHAPES:
        if 16 * nv >= m:
            return mr, nv
    return SHAPES[-1]


def _c64(v: int) -> ir.Constant:
    return ir.Constant(_I64, v)


def _splat(builder: ir.IRBuilder, value: ir.Value, vt: ir.VectorType) -> ir.Value:
    zero = ir.Constant(vt, None)
    v = builder.insert_element(zero, value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, vt.count), None))


def _load_vec(builder, base, index, vt, align=1):
    ptr = builder.gep(base, [index])
    return builder.load(builder.bitcast(ptr, vt.as_pointer()), align=align)


class _Sums:
    """The K loop: MR x NV 16-lane int32 accumulators of one weight part, over the taps and
    the input channels' groups of 4. Per group, ``vnni`` (AVX-512 VNNI, pack_dense's
    ``[NR][4]`` weights) broadcasts each row's 4 activation bytes into ``vpdpbusd``; the
    portable form (:func:`k_major` weights, generic vector IR) adds four 16-lane
    ``zext(u8) * sext(s8)`` products (both factors fit 16 bits, so LLVM can use
    ``pmaddwd``)."""

    def __init__(self, builder, mr, nv, xp, wp, row, ta, kc4, wbase, vnni: bool):
        b, zero = builder, ir.Constant(_V16, None)
        self.b, self.xp, self.wp, self.row, self.nv = b, xp, wp, row, nv
        self.accs = [[cgutils.alloca_once_value(b, zero) for _ in range(nv)] for _ in range(mr)]
        self.dot = _intrinsic(b, "llvm.x86.avx512.vpdpbusd.512", [_V16] * 3, _V16) if vnni else None
        tp = b.bitcast(ta.data, _I64.as_pointer())
        stride = _c64(nv * 64)
        with cgutils.for_range(b, b.extract_value(ta.shape, 0)) as lt:
            toff = b.load(b.gep(tp, [lt.index]))
            tbase = b.add(wbase, b.mul(b.mul(lt.index, kc4), stride))
            with cgutils.for_range(b, kc4) as lc:
                wo = b.add(tbase, b.mul(lc.index, stride))
                aoff = b.add(toff, b.mul(lc.index, _c64(4)))
                (self._vnni_group if vnni else self._portable_group)(wo, aoff)

    def _add(self, r: int, j: int, value: ir.Value) -> None:
        self.b.store(self.b.add(self.b.load(self.accs[r][j]), value), self.accs[r][j])

    def _vnni_group(self, wo, aoff) -> None:
        b = self.b
        ws = [_load_vec(b, self.wp, b.add(wo, _c64(64 * j)), _V16) for j in range(self.nv)]
        for r, row in enumerate(self.row):
            ptr = b.bitcast(b.gep(self.xp, [b.add(row, aoff)]), _I32.as_pointer())
            sp = _splat(b, b.load(ptr, align=1), _V16)
            for j in range(self.nv):
                acc = self.accs[r][j]
                b.store(b.call(self.dot, [b.load(acc), sp, ws[j]]), acc)

    def _portable_group(self, wo, aoff) -> None:
        b, nv = self.b, self.nv
        ws = [[b.sext(_load_vec(b, self.wp, b.add(wo, _c64(16 * (nv * k + j))), _V16B), _V16)
               for k in range(4)] for j in range(nv)]  # fmt: skip
        for r, row in enumerate(self.row):
            base = b.add(row, aoff)
            a = [_splat(b, b.zext(b.load(b.gep(self.xp, [b.add(base, _c64(k))])), _I32), _V16)
                 for k in range(4)]  # fmt: skip
            for j in range(nv):
                prods = [b.mul(a[k], ws[j][k]) for k in range(4)]
                self._add(r, j, b.add(b.add(prods[0], prods[1]), b.add(prods[2], prods[3])))


class _Epilogue:
    """The vector requantization of a tile's sums (see the module docstring).

    Integer form: ``clamp((((s << f) + bias) * mult + half) >> shift) + zp, lo, hi) + off``
    in int64 lanes. Float form (``sc[5] != 0``, when the layer's bounds allow it,
    :attr:`plutflow.fast.pack.Epilogue.float_form`): ``floor(fma(s, A, C))`` in float64
    lanes, with rows 4 and 5 of ``ep`` holding the bits of ``A = mult * 2**(f - shift)``
    and ``C = (bias * mult + half) * 2**-shift``; every value is an integer multiple of
    ``2**-shift`` below ``2**53`` in magnitude, so the fused multiply-add is exact
    (:func:`plutflow.arith.requantize_accumulator`), and its floor fits int32, so the
    conversion comes first and the clamp runs on 16 int32 lanes.
    """

    def __init__(self, builder, epa, sca, ya, nparts, avx512: bool = False):
        self.b, self.nparts, self.avx512 = builder, nparts, avx512
        self.epp = builder.bitcast(epa.data, _I64.as_pointer())
        self.mpad = builder.extract_value(epa.shape, 1)
        self.scp = builder.bitcast(sca.data, _I64.as_pointer())
        self.yp = builder.bitcast(ya.data, _I8.as_pointer())

    def scalar(self, i: int) -> ir.Value:
        return self.b.load(self.b.gep(self.scp, [_c64(i)]))

    def row(self, i: int, col: ir.Value, vt: ir.VectorType = _V16L) -> ir.Value:
        v = _load_vec(self.b, self.epp, self.b.add(self.b.mul(self.mpad, _c64(i)), col), _V16L)
        return v if vt is _V16L else self.b.bitcast(v, vt)

    def prepare(self, use_float: bool) -> None:
        """Splat the scalars once (call before :meth:`columns` and :meth:`vector`)."""
        b = self.b
        self.use_float = use_float
        self.f, self.zp, self.lo, self.hi, self.off = (
            _splat(b, self.scalar(i), _V16L) for i in range(5)
        )
        self.lo_i, self.hi_i = (
            b.trunc(b.sub(self.lo, self.zp), _V16),
            b.trunc(b.sub(self.hi, self.zp), _V16),
        )
        self.zp_off = b.trunc(b.add(self.zp, self.off), _V16)
        self.fma = _intrinsic(b, "llvm.fma.v16f64", [_V16D] * 3, _V16D)
        self.floor = _intrinsic(b, "llvm.floor.v16f64", [_V16D], _V16D)

    def columns(self, col: ir.Value) -> tuple[ir.Value, ...]:
        """The per-channel constants of the 16 columns from ``col``."""
        if self.use_float:
            return self.row(4, col, _V16D), self.row(5, col, _V16D)
        return tuple(self.row(i, col) for i in range(4))

    def vector(self, parts: list[ir.Value], consts: tuple[ir.Value, ...]) -> ir.Value:
        """The 16 output bytes of the int32 sums ``parts`` (one per weight part)."""
        b = self.b
        if self.use_float:
            a_mul, c_add = consts
            s = b.sitofp(parts[0], _V16D)
            if len(parts) == 2:
                hi_s = b.sitofp(parts[1], _V16D)
                s = b.fadd(s, b.fmul(hi_s, ir.Constant(_V16D, [128.0] * 16)))
            v = self.floor_int(b.call(self.fma, [s, a_mul, c_add]))
            v = b.select(b.icmp_signed("<", v, self.lo_i), self.lo_i, v)
            v = b.select(b.icmp_signed(">", v, self.hi_i), self.hi_i, v)
            return b.trunc(b.add(v, self.zp_off), _V16B)
        bias, mult, shift, half = consts
        acc = b.sext(parts[0], _V16L)
        if len(parts) == 2:
            acc = b.add(acc, b.shl(b.sext(parts[1], _V16L), _splat(b, _c64(7), _V16L)))
        t = b.add(b.shl(acc, self.f), bias)
        v = b.add(b.ashr(b.add(b.mul(t, mult), half), shift), self.zp)
        v = b.select(b.icmp_signed("<", v, self.lo), self.lo, v)
        v = b.select(b.icmp_signed(">", v, self.hi), self.hi, v)
        return b.trunc(b.add(v, self.off), _V16B)

    def floor_int(self, v: ir.Value) -> ir.Value:
        """``floor`` of 16 float64 lanes as int32 (values known to fit): AVX-512's
        round-down conversion on the VNNI path, else a floor and a truncation."""
        b = self.b
        if not self.avx512:
            return b.fptosi(b.call(self.floor, [v]), _V16)
        v8d, v8i = ir.VectorType(ir.DoubleType(), 8), ir.VectorType(_I32, 8)
        cvt = _intrinsic(b, "llvm.x86.avx512.mask.cvtpd2dq.512",
                         [v8d, v8i, _I8, _I32], v8i)  # fmt: skip
        halves = []
        for h in range(2):
            half = b.shuffle_vector(v, v, ir.Constant(v8i, list(range(8 * h, 8 * h + 8))))
            halves.append(
                b.call(
                    cvt, [half, ir.Constant(v8i, None), ir.Constant(_I8, -1), ir.Constant(_I32, 9)]
                )
            )  # (round down, no exceptions)
        return b.shuffle_vector(halves[0], halves[1], ir.Constant(_V16, list(range(16))))

    def emit(self, sums, mr, nv, cbase, yrows, ycol, width, use_float: bool) -> None:
        b = self.b
        self.prepare(use_float)
        consts = [self.columns(b.add(cbase, _c64(16 * j))) for j in range(nv)]
        for r in range(mr):
            at = b.add(b.load(b.gep(yrows, [_c64(r)])), ycol)
            for j in range(nv):
                parts = [b.load(s.accs[r][j]) for s in sums[: self.nparts]]
                out = self.vector(parts, consts[j])
                self.store(out, b.add(at, _c64(16 * j)), b.sub(width, _c64(16 * j)))

    def store(self, out, dst, lanes) -> None:
        """The first ``lanes`` bytes of ``out`` (all 16 when ``lanes >= 16``, none when
        ``lanes <= 0``) at ``y[dst]``; a partial vector is a masked store."""
        b = self.b
        ptr = b.bitcast(b.gep(self.yp, [dst]), _V16B.as_pointer())
        some = b.icmp_signed(">", lanes, _c64(0))
        with b.if_then(some), b.if_else(b.icmp_signed(">=", lanes, _c64(16))) as (full, part):
            with full:
                b.store(out, ptr, align=1)
            with part:
                left = _splat(b, b.trunc(lanes, _I32), _V16)
                mask = b.icmp_signed("<", ir.Constant(_V16, list(range(16))), left)
                _masked(b, "store", _V16B, [out, ptr, ir.Constant(_I32, 1), mask])


def _intrinsic(builder, name, args, ret):
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args), name)


def _tile_intrinsic(mr: int, nv: int, nparts: int, vnni: bool):
    """A tile (module docstring) of ``mr`` rows, ``16 * nv`` channels and ``nparts`` weight
    parts: the VNNI form (AVX-512 only) or the portable one (:class:`_Sums`)."""

    @intrinsic
    def tile(typingctx, x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol,
             width):  # fmt: skip
        sig = types.void(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol,
                         width)  # fmt: skip

        def codegen(context, builder, signature, args):
            b = builder
            arr = {i: context.make_array(signature.args[i])(context, b, args[i])
                   for i in (0, 1, 2, 4, 7, 9, 10, 11)}  # fmt: skip
            kc4_, wbase_, psize_, cbase_ = args[3], args[5], args[6], args[8]
            ycol_, width_ = args[12], args[13]
            xp = b.bitcast(arr[0].data, _I8.as_pointer())
            wp = b.bitcast(arr[4].data, _I8.as_pointer())
            rp = b.bitcast(arr[1].data, _I64.as_pointer())
            yrows_ = b.bitcast(arr[11].data, _I64.as_pointer())
            row = [b.load(b.gep(rp, [_c64(r)])) for r in range(mr)]
            sums = [_Sums(b, mr, nv, xp, wp, row, arr[2], kc4_,
                          b.add(wbase_, b.mul(psize_, _c64(part))), vnni)
                    for part in range(nparts)]  # fmt: skip
            epi = _Epilogue(b, arr[7], arr[9], arr[10], nparts, avx512=vnni)
            exact_float = b.icmp_signed("!=", epi.scalar(5), _c64(0))
            with b.if_else(exact_float) as (then, otherwise):
                for use_float, branch in ((True, then), (False, otherwise)):
                    with branch:
                        epi.emit(sums, mr, nv, cbase_, yrows_, ycol_, width_, use_float)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_P1A, _P1B = (_tile_intrinsic(*GENERIC_SHAPE, parts, vnni=False) for parts in (1, 2))


def _masked(builder, name: str, vt: ir.VectorType, args: list[ir.Value]) -> ir.Value:
    """A call of ``llvm.masked.load``/``store`` on ``vt`` (only the masked-on lanes)."""
    mask_t = ir.VectorType(ir.IntType(1), vt.count)
    ptr_t = vt.as_pointer()
    if name == "load":
        fn = _intrinsic(builder, "llvm.masked.load.v16i8.p0v16i8", [ptr_t, _I32, mask_t, vt], vt)
    else:
        fn = _intrinsic(builder, "llvm.masked.store.v16i8.p0v16i8",
                        [vt, ptr_t, _I32, mask_t], ir.VoidType())  # fmt: skip
    return builder.call(fn, args)


#: output pixels a depthwise block sums at once (independent accumulator chains)
DW_PIXELS = 4


def _dw_channels(builder, epi, xp, wvp, taps_p, nt, row, ow, step, cpad, col, ybase, ystep,
                 c, tail):  # fmt: skip
    """One 16-channel block of a depthwise output row: :data:`DW_PIXELS` output pixels at a
    time (then one at a time), each summed over the taps in a 16-lane int32 register, then
    the epilogue and a 16-byte store (masked to the channels left when ``tail``)."""
    b = builder
    consts = epi.columns(col)
    mask = None
    if tail:
        left = _splat(b, b.trunc(b.sub(c, col), _I32), _V16)
        mask = b.icmp_signed("<", ir.Constant(_V16, list(range(16))), left)
    groups = b.sdiv(ow, _c64(DW_PIXELS))
    with cgutils.for_range(b, groups) as lg:
        _dw_pixels(b, epi, xp, wvp, taps_p, nt, row, step, cpad, col, ybase, ystep, consts, mask,
                   b.mul(lg.index, _c64(DW_PIXELS)), DW_PIXELS)  # fmt: skip
    done = b.mul(groups, _c64(DW_PIXELS))
    with cgutils.for_range(b, b.sub(ow, done)) as lx:
        _dw_pixels(b, epi, xp, wvp, taps_p, nt, row, step, cpad, col, ybase, ystep, consts, mask,
                   b.add(done, lx.index), 1)  # fmt: skip


def _dw_pixels(b, epi, xp, wvp, taps_p, nt, row, step, cpad, col, ybase, ystep, consts, mask,
               ox0, count):  # fmt: skip
    """``count`` output pixels from ``ox0`` of one channel block (see :func:`_dw_channels`)."""
    xb = [b.add(b.add(row, b.mul(b.add(ox0, _c64(i)), step)), col) for i in range(count)]
    accs = [cgutils.alloca_once_value(b, ir.Constant(_V16, None)) for _ in range(count)]
    with cgutils.for_range(b, nt) as lt:
        toff = b.load(b.gep(taps_p, [lt.index]))
        # u8 x s16 products: LLVM makes them pmaddwd/vpdpwssd (both fit its int16 pairs)
        wv = b.sext(_load_vec(b, wvp, b.add(b.mul(lt.index, cpad), col), _V16H), _V16)
        for i in range(count):
            ptr = b.bitcast(b.gep(xp, [b.add(xb[i], toff)]), _V16B.as_pointer())
            if mask is not None:
                xv = _masked(b, "load", _V16B, [ptr, ir.Constant(_I32, 1), mask,
                                                ir.Constant(_V16B, None)])  # fmt: skip
            else:
                xv = b.load(ptr, align=1)
            b.store(b.add(b.load(accs[i]), b.mul(b.zext(xv, _V16), wv)), accs[i])
    for i in range(count):
        out = epi.vector([b.load(accs[i])], consts)
        at = b.add(b.add(ybase, b.mul(b.add(ox0, _c64(i)), ystep)), col)
        dst = b.bitcast(b.gep(epi.yp, [at]), _V16B.as_pointer())
        if mask is not None:
            _masked(b, "store", _V16B, [out, dst, ir.Constant(_I32, 1), mask])
        else:
            b.store(out, dst, align=1)


def _dw_intrinsic(avx512: bool):
    """The depthwise row kernel (with AVX-512's round-down conversion when ``avx512``)."""

    @intrinsic
    def dw_row(typingctx, x, row, ow, step, taps, wv, cpad, ep, sc, y, ybase, ystep, c):
        """A depthwise output row (``ow`` pixels of ``c`` channels at ``y[ybase]``,
        ``ystep`` bytes apart) whose window ``ox`` tap ``t`` starts at byte ``row + ox *
        step + taps[t]`` of ``x``; ``wv`` is the int16 weights (taps, ``cpad``), ``ep``/``sc``
        the epilogue of the GEMM tiles."""
        sig = types.void(x, row, ow, step, taps, wv, cpad, ep, sc, y, ybase, ystep, c)

        def codegen(context, builder, signature, args):
            arr = {i: context.make_array(signature.args[i])(context, builder, args[i])
                   for i in (0, 4, 5, 7, 8, 9)}  # fmt: skip
            row_, ow_, step_, cpad_, ybase_, ystep_, c_ = (
                args[i] for i in (1, 2, 3, 6, 10, 11, 12)
            )
            b = builder
            xp = b.bitcast(arr[0].data, _I8.as_pointer())
            taps_p = b.bitcast(arr[4].data, _I64.as_pointer())
            wvp = b.bitcast(arr[5].data, _I16.as_pointer())
            nt = b.extract_value(arr[4].shape, 0)
            epi = _Epilogue(b, arr[7], arr[8], arr[9], 1, avx512)
            n_full = b.sdiv(c_, _c64(16))
            has_tail = b.icmp_signed("!=", b.srem(c_, _c64(16)), _c64(0))
            exact_float = b.icmp_signed("!=", epi.scalar(5), _c64(0))
            with b.if_else(exact_float) as (then, otherwise):
                for use_float, branch in ((True, then), (False, otherwise)):
                    with branch:
                        epi.prepare(use_float)
                        common = (b, epi, xp, wvp, taps_p, nt, row_, ow_, step_, cpad_)
                        with cgutils.for_range(b, n_full) as lc:
                            _dw_channels(*common, b.mul(lc.index, _c64(16)), ybase_, ystep_, c_,
                                         False)  # fmt: skip
                        with b.if_then(has_tail):
                            _dw_channels(*common, b.mul(n_full, _c64(16)), ybase_, ystep_, c_,
                                         True)  # fmt: skip
            return context.get_dummy_value()

        return sig, codegen

    return dw_row


_DW_GENERIC, _DW_AVX512 = _dw_intrinsic(False), _dw_intrinsic(True)


_V81A, _V81B, _V82A, _V82B, _V64A, _V64B = (
    _tile_intrinsic(mr, nv, parts, vnni=True) for mr, nv in SHAPES for parts in (1, 2)
)


def variant(mr: int, nv: int, nparts: int, path: str = "vnni512") -> int:
    """The index of a tile variant: shape (as in :data:`SHAPES`) and weight parts."""
    if path != "vnni512":
        return nparts - 1
    return 2 * SHAPES.index((mr, nv)) + nparts - 1


def k_major(packed: np.ndarray, nr: int) -> np.ndarray:
    """The portable tile's weight order: :func:`plutflow.fast.pack.pack_dense`'s
    ``[...][NR][4]`` groups as ``[...][4][NR]`` (byte ``k`` of every lane together)."""
    return np.ascontiguousarray(packed.reshape(-1, nr, 4).transpose(0, 2, 1)).reshape(-1)


@njit(inline="always", nogil=True)
def vnni_tile(v, x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width):
    """The ``vpdpbusd`` tile of variant ``v`` (only call it on a CPU with AVX-512 VNNI)."""
    if v == 0:
        _V81A(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width)
    elif v == 1:
        _V81B(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width)
    elif v == 2:
        _V82A(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width)
    elif v == 3:
        _V82B(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width)
    elif v == 4:
        _V64A(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width)
    else:
        _V64B(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width)


@njit(inline="always", nogil=True)
def generic_tile(v, x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width):
    """The portable tile (:data:`GENERIC_SHAPE`, :func:`k_major` weights) of variant ``v``
    (its weight parts less one): generic vector code, exact on every CPU."""
    if v == 0:
        _P1A(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width)
    else:
        _P1B(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, yrows, ycol, width)


# The drivers live beside the tiles: numba's cache of a function is invalidated only by
# changes to its own file, and the tiles are inlined into these.
@njit(inline="always", nogil=True)
def _next_rows(rows, yrows, pos, p0, p_total, hp, wp, cp, oh, ow, sh, sw, yg):
    """Window start bytes (``rows``) and output pixel bytes (``yrows``) of output pixels
    ``p0 ..``; ``pos`` holds the pixel of ``p0`` as image, row, column and advances; rows
    past the end repeat the last pixel (its values are written twice). The output is
    (N, yg[0], yg[1], yg[4]) with the (oh, ow) map at row yg[2], column yg[3]."""
    for r in range(rows.shape[0]):
        rows[r] = ((pos[0] * hp + pos[1] * sh) * wp + pos[2] * sw) * cp
        yrows[r] = ((pos[0] * yg[0] + pos[1] + yg[2]) * yg[1] + pos[2] + yg[3]) * yg[4]
        if p0 + r < p_total - 1:
            pos[2] += 1
            if pos[2] == ow:
                pos[2] = 0
                pos[1] += 1
                if pos[1] == oh:
                    pos[1] = 0
                    pos[0] += 1


@njit(nogil=True, cache=True)
def conv_gemm_vnni(v, mr, nr, x, n_img, hp, wp, cp, oh, ow, sh, sw, taps, kc4, w, psize,
                   nparts, ep, sc, c0, mc, y, yg):  # fmt: skip
    """Implicit-GEMM convolution (or FC with ``oh = ow = hp = wp = 1``) of output channels
    ``c0 .. c0 + mc`` by ``vpdpbusd`` tiles of variant ``v`` with the fused requantization
    epilogue (module docstring; ``w`` and ``ep`` hold those channels' weights and
    columns). ``x`` is the padded input (N, hp, wp, cp) flattened; ``y`` receives the
    output pixels in the layout ``yg`` (:func:`_next_rows`; ``(oh, ow, 0, 0, m)`` for a
    plain (N, oh, ow, m) output), only their channels written."""
    p_total, n_mb = n_img * oh * ow, (mc + nr - 1) // nr
    rows, yrows = np.empty(mr, np.int64), np.empty(mr, np.int64)
    pos = np.zeros(3, np.int64)
    for p0 in range(0, p_total, mr):
        _next_rows(rows, yrows, pos, p0, p_total, hp, wp, cp, oh, ow, sh, sw, yg)
        for mb in range(n_mb):
            vnni_tile(v, x, rows, taps, kc4, w, mb * nparts * psize, psize, ep, mb * nr,
                      sc, y, yrows, c0 + mb * nr, mc - mb * nr)  # fmt: skip


@njit(nogil=True, cache=True)
def conv_gemm_generic(v, mr, nr, x, n_img, hp, wp, cp, oh, ow, sh, sw, taps, kc4, w, psize,
                      nparts, ep, sc, c0, mc, y, yg):  # fmt: skip
    """:func:`conv_gemm_vnni` with the portable tile."""
    p_total, n_mb = n_img * oh * ow, (mc + nr - 1) // nr
    rows, yrows = np.empty(mr, np.int64), np.empty(mr, np.int64)
    pos = np.zeros(3, np.int64)
    for p0 in range(0, p_total, mr):
        _next_rows(rows, yrows, pos, p0, p_total, hp, wp, cp, oh, ow, sh, sw, yg)
        for mb in range(n_mb):
            generic_tile(v, x, rows, taps, kc4, w, mb * nparts * psize, psize, ep, mb * nr,
                         sc, y, yrows, c0 + mb * nr, mc - mb * nr)  # fmt: skip


@njit(inline="always", nogil=True)
def _depthwise_rows(row_fn, x, n_img, hp, wp, c, oh, ow, sh, sw, taps, wv, ep, sc, y, yg):
    cpad = wv.shape[1]
    for img in range(n_img):
        for oy in range(oh):
            ybase = ((img * yg[0] + oy + yg[2]) * yg[1] + yg[3]) * yg[4]
            row_fn(x, ((img * hp + oy * sh) * wp) * c, ow, sw * c, taps, wv.reshape(-1), cpad,
                   ep, sc, y, ybase, yg[4], c)  # fmt: skip


@njit(nogil=True, cache=True)
def depthwise(x, n_img, hp, wp, c, oh, ow, sh, sw, taps, wv, ep, sc, y, yg):
    """Depthwise convolution of the padded input ``x`` (N, hp, wp, c) flattened into ``y``
    in the layout ``yg`` (as for the GEMM drivers): a row at a time, each pixel's
    16-channel blocks summed in registers and requantized by the tiles' epilogue (``wv``
    int16 (taps, c rounded up to 16), ``ep``/``sc`` as for the GEMM tiles). Generic LLVM
    vector code: runs on any CPU."""
    _depthwise_rows(_DW_GENERIC, x, n_img, hp, wp, c, oh, ow, sh, sw, taps, wv, ep, sc, y, yg)


@njit(nogil=True, cache=True)
def depthwise_avx512(x, n_img, hp, wp, c, oh, ow, sh, sw, taps, wv, ep, sc, y, yg):
    """:func:`depthwise` with AVX-512's round-down conversion in the epilogue (only call it
    on a CPU with AVX-512)."""
    _depthwise_rows(_DW_AVX512, x, n_img, hp, wp, c, oh, ow, sh, sw, taps, wv, ep, sc, y, yg)
