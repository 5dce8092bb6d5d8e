"""Exact integer kernels on NHWC activations in the offset domain (docs/fast.md).

Every activation here is ``u = q + off`` in uint8, where ``q`` is the golden code and
``off`` is 128 for int8 tensors and 0 for uint8 ones. Each kernel reproduces the matching
golden op (docs/spec.md section 3) bit for bit; the requantization epilogue is the
integer formula of :func:`plutflow.arith.requantize_accumulator`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from plutflow.fast import tiles


@njit(inline="always", nogil=True)
def _requant(acc, m, bias, mult, shift, half, f, zp, lo, hi, table, has_table, off_out):
    """``clamp(rshift(((acc << f) + bias) * M0, n) + z, lo, hi)``, then the optional table."""
    t = (acc << f) + bias[m]
    v = ((t * mult[m] + half[m]) >> shift[m]) + zp
    v = min(max(v, lo), hi)
    if has_table:
        v = table[m, v + 128]
    return np.uint8(v + off_out)


@njit(inline="always", nogil=True)
def _next_rows(rows, pos, p0, p_total, hp, wp, cp, oh, ow, sh, sw):
    """Window start bytes of output pixels ``p0 ..`` (``pos`` holds the pixel of ``p0`` as
    image, row, column and advances); rows past the end repeat the last pixel."""
    for r in range(rows.shape[0]):
        rows[r] = ((pos[0] * hp + pos[1] * sh) * wp + pos[2] * sw) * cp
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
                   nparts, ep, sc, m, y):  # fmt: skip
    """Implicit-GEMM convolution (or FC with ``oh = ow = hp = wp = 1``) by ``vpdpbusd``
    tiles of variant ``v`` with the fused requantization epilogue (:mod:`.tiles`). ``x`` is
    the padded input (N, hp, wp, cp) flattened; ``y`` receives (P, m) for the P = N * oh * ow
    output pixels, with room for whole tiles (P rounded up to a multiple of ``mr``)."""
    p_total, n_mb = n_img * oh * ow, (m + nr - 1) // nr
    rows, pos = np.empty(mr, np.int64), np.zeros(3, np.int64)
    for p0 in range(0, p_total, mr):
        _next_rows(rows, pos, p0, p_total, hp, wp, cp, oh, ow, sh, sw)
        for mb in range(n_mb):
            tiles.vnni_tile(v, x, rows, taps, kc4, w, mb * nparts * psize, psize, ep, mb * nr,
                            sc, y, p0 * m + mb * nr, m, m - mb * nr)  # fmt: skip


@njit(nogil=True, cache=True)
def conv_gemm_generic(v, mr, nr, x, n_img, hp, wp, cp, oh, ow, sh, sw, taps, kc4, w, psize,
                      nparts, ep, sc, m, y):  # fmt: skip
    """:func:`conv_gemm_vnni` with the portable tile."""
    p_total, n_mb = n_img * oh * ow, (m + nr - 1) // nr
    rows, pos = np.empty(mr, np.int64), np.zeros(3, np.int64)
    for p0 in range(0, p_total, mr):
        _next_rows(rows, pos, p0, p_total, hp, wp, cp, oh, ow, sh, sw)
        for mb in range(n_mb):
            tiles.generic_tile(v, x, rows, taps, kc4, w, mb * nparts * psize, psize, ep,
                               mb * nr, sc, y, p0 * m + mb * nr, m, m - mb * nr)  # fmt: skip


@njit(nogil=True, cache=True)
def lookup_channels(y, lut):
    """``y[..., c] = lut[c, y[..., c]]`` in place (``y`` flattened, channels last)."""
    m = lut.shape[0]
    for i in range(0, y.shape[0], m):
        for c in range(m):
            y[i + c] = lut[c, y[i + c]]


@njit(nogil=True, cache=True)
def depthwise(
    x, n_img, hp, wp, c, oh, ow, sh, sw, taps, w,
    bias, mult, shift, half, f, zp, lo, hi, table, has_table, off_out, y,
):  # fmt: skip
    """Depthwise convolution: ``w`` is (taps, c) int32, ``taps`` are element offsets."""
    acc = np.empty(c, np.int32)
    for img in range(n_img):
        for oy in range(oh):
            for ox in range(ow):
                base = ((img * hp + oy * sh) * wp + ox * sw) * c
                acc[:] = 0
                for t in range(taps.shape[0]):
                    b = base + taps[t]
                    for ch in range(c):
                        acc[ch] += np.int32(x[b + ch]) * w[t, ch]
                ybase = ((img * oh + oy) * ow + ox) * c
                for ch in range(c):
                    y[ybase + ch] = _requant(
                        np.int64(acc[ch]), ch, bias, mult, shift, half, f, zp, lo, hi,
                        table, has_table, off_out,
                    )  # fmt: skip


@njit(nogil=True, cache=True)
def max_pool(x, n_img, hp, wp, c, oh, ow, sh, sw, taps, y):
    """Window maximum over the padded input (the padding holds the lowest code)."""
    for img in range(n_img):
        for oy in range(oh):
            for ox in range(ow):
                base = ((img * hp + oy * sh) * wp + ox * sw) * c
                ybase = ((img * oh + oy) * ow + ox) * c
                for ch in range(c):
                    y[ybase + ch] = x[base + taps[0] + ch]
                for t in range(1, taps.shape[0]):
                    b = base + taps[t]
                    for ch in range(c):
                        y[ybase + ch] = max(y[ybase + ch], x[b + ch])


@njit(nogil=True, cache=True)
def sum_pool(x, n_img, hp, wp, c, oh, ow, sh, sw, taps, centre, out):
    """Window sums of ``u - centre`` (int64, (N, oh, ow, c) flattened); padding that holds
    ``centre`` adds exactly zero."""
    for img in range(n_img):
        for oy in range(oh):
            for ox in range(ow):
                base = ((img * hp + oy * sh) * wp + ox * sw) * c
                obase = ((img * oh + oy) * ow + ox) * c
                for ch in range(c):
                    out[obase + ch] = -centre * taps.shape[0]
                for t in range(taps.shape[0]):
                    b = base + taps[t]
                    for ch in range(c):
                        out[obase + ch] += x[b + ch]


@njit(nogil=True, cache=True)
def add(a, b, ca, cb, ma, mb, shift, zo, lo, hi, off_out, y):
    """``clamp(rshift((ua - ca) * Ma + (ub - cb) * Mb, n) + zo, lo, hi)`` elementwise."""
    half = (np.int64(1) << (shift - 1)) if shift > 0 else np.int64(0)
    for i in range(y.shape[0]):
        t = (np.int64(a[i]) - ca) * ma + (np.int64(b[i]) - cb) * mb
        v = ((t + half) >> shift) + zo
        y[i] = np.uint8(min(max(v, lo), hi) + off_out)
