"""Micro-kernels: one MR x NR tile of an implicit GEMM with its requantization epilogue.

Contract (shared by both implementations):

* activations are uint8; tile row ``r`` is the window whose tap ``t`` starts at byte
  ``rows[r] + taps[t]`` of ``x`` and holds ``4 * kc4`` contiguous channel bytes;
* weights are int8 packed as ``[part][tap][channel group of 4][NR lanes][4]`` starting at
  ``w[wbase]``, parts ``psize`` bytes apart (:func:`plutflow.fast.pack.pack_dense`);
* the int32 sums of part 0 (plus part 1 shifted left by 7) are requantized with the
  per-channel rows of ``ep`` (bias, mult, shift, half; columns from ``cbase``) and the
  scalars ``sc = (f, zp, lo, hi, off)``:
  ``clamp((((acc << f) + bias) * mult + half) >> shift) + zp, lo, hi) + off``;
* the byte for channel ``j < width`` of row ``r`` goes to ``y[ybase + r * ldy + j]``.

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


def tile_shape(m: int) -> tuple[int, int]:
    """The tile shape for ``m`` output channels: the narrowest that covers them, at most 64."""
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
    """The K loop: MR x NV accumulators of one weight part."""

    def __init__(self, builder, mr, nv, dot, xp, wp, row, ta, kc4, wbase):
        zero = ir.Constant(_V16, None)
        self.accs = [
            [cgutils.alloca_once_value(builder, zero) for _ in range(nv)] for _ in range(mr)
        ]
        tp = builder.bitcast(ta.data, _I64.as_pointer())
        stride = _c64(nv * 64)
        with cgutils.for_range(builder, builder.extract_value(ta.shape, 0)) as lt:
            toff = builder.load(builder.gep(tp, [lt.index]))
            tbase = builder.add(wbase, builder.mul(builder.mul(lt.index, kc4), stride))
            with cgutils.for_range(builder, kc4) as lc:
                wo = builder.add(tbase, builder.mul(lc.index, stride))
                bs = [
                    _load_vec(builder, wp, builder.add(wo, _c64(64 * j)), _V16) for j in range(nv)
                ]
                aoff = builder.add(toff, builder.mul(lc.index, _c64(4)))
                for r in range(mr):
                    ptr = builder.gep(xp, [builder.add(row[r], aoff)])
                    a = builder.load(builder.bitcast(ptr, _I32.as_pointer()), align=1)
                    sp = _splat(builder, a, _V16)
                    for j in range(nv):
                        acc = builder.load(self.accs[r][j])
                        builder.store(builder.call(dot, [acc, sp, bs[j]]), self.accs[r][j])


def _vnni_intrinsic(mr: int, nv: int, nparts: int):
    @intrinsic
    def tile(typingctx, x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy,
             width):  # fmt: skip
        sig = types.void(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy,
                         width)  # fmt: skip

        def codegen(context, builder, signature, args):
            arrays = {
                i: context.make_array(t)(context, builder, args[i])
                for i, t in enumerate(signature.args)
                if isinstance(t, types.Array)
            }
            xa, ra, ta, wa, epa, sca, ya = (arrays[i] for i in (0, 1, 2, 4, 7, 9, 10))
            kc4_, wbase_, psize_, cbase_ = args[3], args[5], args[6], args[8]
            ybase_, ldy_, width_ = args[11], args[12], args[13]
            i8p, i64p = _I8.as_pointer(), _I64.as_pointer()
            dot = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(_V16, [_V16, _V16, _V16]),
                "llvm.x86.avx512.vpdpbusd.512",
            )  # fmt: skip
            xp, wp = builder.bitcast(xa.data, i8p), builder.bitcast(wa.data, i8p)
            rp = builder.bitcast(ra.data, i64p)
            row = [builder.load(builder.gep(rp, [_c64(r)])) for r in range(mr)]
            sums = [
                _Sums(builder, mr, nv, dot, xp, wp, row, ta, kc4_,
                      builder.add(wbase_, builder.mul(psize_, _c64(part))))
                for part in range(nparts)
            ]  # fmt: skip
            # epilogue constants
            epp = builder.bitcast(epa.data, i64p)
            mpad = builder.extract_value(epa.shape, 1)
            scp = builder.bitcast(sca.data, i64p)
            f, zp, lo, hi, off = (
                _splat(builder, builder.load(builder.gep(scp, [_c64(i)])), _V16L) for i in range(5)
            )
            yp = builder.bitcast(ya.data, i8p)
            v16b = ir.VectorType(_I8, 16)
            lanes = ir.Constant(_V16L, list(range(16)))
            for j in range(nv):
                col = builder.add(cbase_, _c64(16 * j))
                bias, mult, shift, half = (
                    _load_vec(builder, epp, builder.add(builder.mul(mpad, _c64(i)), col), _V16L)
                    for i in range(4)
                )
                full = builder.icmp_signed(">=", width_, _c64(16 * (j + 1)))
                keep = builder.icmp_signed(
                    "<", lanes, _splat(builder, builder.sub(width_, _c64(16 * j)), _V16L)
                )
                for r in range(mr):
                    acc = builder.sext(builder.load(sums[0].accs[r][j]), _V16L)
                    if nparts == 2:
                        hi_part = builder.sext(builder.load(sums[1].accs[r][j]), _V16L)
                        acc = builder.add(
                            acc, builder.shl(hi_part, _splat(builder, _c64(7), _V16L))
                        )
                    t = builder.add(builder.shl(acc, f), bias)
                    v = builder.ashr(builder.add(builder.mul(t, mult), half), shift)
                    v = builder.add(v, zp)
                    v = builder.select(builder.icmp_signed("<", v, lo), lo, v)
                    v = builder.select(builder.icmp_signed(">", v, hi), hi, v)
                    b = builder.trunc(builder.add(v, off), v16b)
                    dst = builder.add(ybase_, builder.add(builder.mul(ldy_, _c64(r)), _c64(16 * j)))
                    with builder.if_else(full) as (then, otherwise):
                        with then:
                            builder.store(
                                b,
                                builder.bitcast(builder.gep(yp, [dst]), v16b.as_pointer()),
                                align=1,
                            )
                        with otherwise:
                            for lane in range(16):
                                with builder.if_then(
                                    builder.extract_element(keep, ir.Constant(_I32, lane))
                                ):
                                    builder.store(
                                        builder.extract_element(b, ir.Constant(_I32, lane)),
                                        builder.gep(yp, [builder.add(dst, _c64(lane))]),
                                    )
            return context.get_dummy_value()

        return sig, codegen

    return tile


_V81A, _V81B = _vnni_intrinsic(8, 1, 1), _vnni_intrinsic(8, 1, 2)
_V82A, _V82B = _vnni_intrinsic(8, 2, 1), _vnni_intrinsic(8, 2, 2)
_V64A, _V64B = _vnni_intrinsic(6, 4, 1), _vnni_intrinsic(6, 4, 2)


def variant(mr: int, nv: int, nparts: int) -> int:
    """The index of a tile variant: shape (as in :data:`SHAPES`) and weight parts."""
    return 2 * SHAPES.index((mr, nv)) + nparts - 1


@njit(inline="always", nogil=True)
def vnni_tile(v, x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy, width):
    """The ``vpdpbusd`` tile of variant ``v`` (only call it on a CPU with AVX-512 VNNI)."""
    if v == 0:
        _V81A(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy, width)
    elif v == 1:
        _V81B(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy, width)
    elif v == 2:
        _V82A(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy, width)
    elif v == 3:
        _V82B(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy, width)
    elif v == 4:
        _V64A(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy, width)
    else:
        _V64B(x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy, width)


@njit(inline="always", nogil=True)
def generic_tile(v, x, rows, taps, kc4, w, wbase, psize, ep, cbase, sc, y, ybase, ldy, width):
    """The same tile in plain integer loops (exact on every CPU)."""
    mr = 8 if v < 4 else 6
    nr = 16 if v < 2 else (32 if v < 4 else 64)
    nparts = v % 2 + 1
    acc = np.zeros((nparts, mr, nr), np.int32)
    for part in range(nparts):
        for t in range(taps.shape[0]):
            toff = taps[t]
            for cb in range(kc4):
                wo = wbase + part * psize + (t * kc4 + cb) * nr * 4
                for r in range(mr):
                    a = rows[r] + toff + cb * 4
                    a0, a1 = np.int32(x[a]), np.int32(x[a + 1])
                    a2, a3 = np.int32(x[a + 2]), np.int32(x[a + 3])
                    for j in range(nr):
                        k = wo + 4 * j
                        acc[part, r, j] += (
                            a0 * np.int32(w[k])
                            + a1 * np.int32(w[k + 1])
                            + a2 * np.int32(w[k + 2])
                            + a3 * np.int32(w[k + 3])
                        )
    f, zp, lo, hi, off = sc[0], sc[1], sc[2], sc[3], sc[4]
    for r in range(mr):
        for j in range(min(width, nr)):
            s = np.int64(acc[0, r, j])
            if nparts == 2:
                s += np.int64(acc[1, r, j]) << 7
            c = cbase + j
            v = ((((s << f) + ep[0, c]) * ep[1, c] + ep[3, c]) >> ep[2, c]) + zp
            y[ybase + r * ldy + j] = np.uint8(min(max(v, lo), hi) + off)  # = kernels._requant
