"""Exact integer kernels on NHWC activations in the offset domain (docs/fast.md).

Every activation here is ``u = q + off`` in uint8, where ``q`` is the golden code and
``off`` is 128 for int8 tensors and 0 for uint8 ones. Each kernel reproduces the matching
golden op (docs/spec.md section 3) bit for bit; the requantization epilogue is the
integer formula of :func:`plutflow.arith.requantize_accumulator`.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def lookup_channels(y, lut):
    """``y[..., c] = lut[c, y[..., c]]`` in place (``y`` flattened, channels last)."""
    m = lut.shape[0]
    for i in range(0, y.shape[0], m):
        ys = y[i : i + m]
        for c in range(m):
            ys[c] = lut[c, ys[c]]


@njit(nogil=True, cache=True)
def max_pool(x, n_img, hp, wp, c, oh, ow, sh, sw, taps, y):
    """Window maximum over the padded input (the padding holds the lowest code)."""
    for img in range(n_img):
        for oy in range(oh):
            for ox in range(ow):
                base = ((img * hp + oy * sh) * wp + ox * sw) * c
                ybase = ((img * oh + oy) * ow + ox) * c
                ys = y[ybase : ybase + c]
                ys[:] = x[base + taps[0] : base + taps[0] + c]
                for t in range(1, taps.shape[0]):
                    xs = x[base + taps[t] : base + taps[t] + c]
                    for ch in range(c):
                        ys[ch] = max(ys[ch], xs[ch])


@njit(nogil=True, cache=True)
def avg_pool(x, n_img, hp, wp, c, oh, ow, sh, sw, taps, centre, mult, shift, zo, lo, hi,
             off_out, y):  # fmt: skip
    """Average pooling: per window ``clamp(rshift(sum(u - centre) * M0[pos], n) + zo, lo,
    hi) + off_out``, ``M0[pos]`` the multiplier of the window's count (``mult`` has
    ``oh * ow`` entries); padding that holds ``centre`` adds exactly zero."""
    acc = np.empty(c, np.int64)
    half = (np.int64(1) << (shift - 1)) if shift > 0 else np.int64(0)
    for img in range(n_img):
        for oy in range(oh):
            for ox in range(ow):
                base = ((img * hp + oy * sh) * wp + ox * sw) * c
                acc[:] = -centre * taps.shape[0]
                for t in range(taps.shape[0]):
                    xs = x[base + taps[t] : base + taps[t] + c]
                    for ch in range(c):
                        acc[ch] += xs[ch]
                m0 = mult[oy * ow + ox]
                ybase = ((img * oh + oy) * ow + ox) * c
                ys = y[ybase : ybase + c]
                for ch in range(c):
                    v = ((acc[ch] * m0 + half) >> shift) + zo
                    ys[ch] = np.uint8(min(max(v, lo), hi) + off_out)


@njit(nogil=True, cache=True)
def lookup_into(x, lut, y):
    """``y[..., c] = lut[c, x[..., c]]`` (both flattened, channels last)."""
    m = lut.shape[0]
    for i in range(0, y.shape[0], m):
        xs, ys = x[i : i + m], y[i : i + m]
        for c in range(m):
            ys[c] = lut[c, xs[c]]


@njit(nogil=True, cache=True)
def add(a, b, ca, cb, ma, mb, shift, zo, lo, hi, off_out, y):
    """``clamp(rshift((ua - ca) * Ma + (ub - cb) * Mb, n) + zo, lo, hi)`` elementwise."""
    half = (np.int64(1) << (shift - 1)) if shift > 0 else np.int64(0)
    for i in range(y.shape[0]):
        t = (np.int64(a[i]) - ca) * ma + (np.int64(b[i]) - cb) * mb
        v = ((t + half) >> shift) + zo
        y[i] = np.uint8(min(max(v, lo), hi) + off_out)


@njit(nogil=True, cache=True)
def global_pool(x, n_img, hw, c, centre, mult, shift, zp, lo, hi, off, y):
    """Global average: ``clamp(rshift(sum(u - centre) * M0, n) + zp, lo, hi) + off`` per
    image and channel (``x`` is (N, hw, c) flattened, ``y`` (N, c))."""
    acc = np.empty(c, np.int64)
    half = (np.int64(1) << (shift - 1)) if shift > 0 else np.int64(0)
    for img in range(n_img):
        acc[:] = -centre * hw
        for i in range(hw):
            xs = x[(img * hw + i) * c : (img * hw + i + 1) * c]
            for ch in range(c):
                acc[ch] += xs[ch]
        ys = y[img * c : (img + 1) * c]
        for ch in range(c):
            v = ((acc[ch] * mult + half) >> shift) + zp
            ys[ch] = np.uint8(min(max(v, lo), hi) + off)


@njit(nogil=True, cache=True)
def mul(a, b, n_img, hw, c, a_hw, b_hw, ca, cb, mult, shift, zo, lo, hi, off_out, y):
    """``clamp(rshift((ua - ca) * (ub - cb) * M0, n) + zo, lo, hi)`` over (N, hw, c); an
    operand with ``*_hw == 1`` holds one value per image and channel (an SE scale)."""
    half = (np.int64(1) << (shift - 1)) if shift > 0 else np.int64(0)
    for img in range(n_img):
        for i in range(hw):
            ia = (img * a_hw + (i if a_hw > 1 else 0)) * c
            ib = (img * b_hw + (i if b_hw > 1 else 0)) * c
            xs, ws, ys = (
                a[ia : ia + c],
                b[ib : ib + c],
                y[(img * hw + i) * c : (img * hw + i + 1) * c],
            )
            for ch in range(c):
                t = (np.int64(xs[ch]) - ca) * (np.int64(ws[ch]) - cb) * mult
                v = ((t + half) >> shift) + zo
                ys[ch] = np.uint8(min(max(v, lo), hi) + off_out)


@njit(nogil=True, cache=True)
def requant_into(u, n_pix, c_in, centre, mult, shift, zo, lo, hi, off_out, y, c_out, c0):
    """Channels ``c0 ..`` of ``y`` (n_pix, c_out) get
    ``clamp(rshift((u - centre) * M0, n) + zo, lo, hi) + off_out`` of ``u`` (n_pix, c_in)."""
    half = (np.int64(1) << (shift - 1)) if shift > 0 else np.int64(0)
    for p in range(n_pix):
        xs, ys = u[p * c_in : (p + 1) * c_in], y[p * c_out + c0 : p * c_out + c0 + c_in]
        for ch in range(c_in):
            v = (((np.int64(xs[ch]) - centre) * mult + half) >> shift) + zo
            ys[ch] = np.uint8(min(max(v, lo), hi) + off_out)


@njit(nogil=True, cache=True)
def pad_nhwc(x, n_img, h, w, c, pt, pl, hp, wp, cp, value, out):
    """``out`` (N, hp, wp, cp) = ``value`` with ``x`` (N, h, w, c) at row ``pt``, column
    ``pl`` (channels past ``c`` hold ``value`` too)."""
    out[:] = value
    for img in range(n_img):
        for i in range(h):
            for j in range(w):
                src = ((img * h + i) * w + j) * c
                dst = ((img * hp + pt + i) * wp + pl + j) * cp
                xs, ys = x[src : src + c], out[dst : dst + c]
                for ch in range(c):
                    ys[ch] = xs[ch]


@njit(nogil=True, cache=True)
def pad_nchw(q, n_img, c, h, w, flip, pt, pl, hp, wp, cp, value, out):
    """:func:`pad_nhwc` from golden's (N, c, h, w) uint8 view of the codes, adding the
    offset on the way (``flip``: 0x80 for int8 codes, 0 for uint8)."""
    out[:] = value
    for img in range(n_img):
        for ch in range(c):
            for i in range(h):
                src = ((img * c + ch) * h + i) * w
                dst = ((img * hp + pt + i) * wp + pl) * cp + ch
                xs = q[src : src + w]
                for j in range(w):
                    out[dst + j * cp] = xs[j] ^ flip


@njit(nogil=True, cache=True)
def nhwc_to_nchw(x, n_img, hw, c, y):
    """``y`` (N, c, hw) from ``x`` (N, hw, c), both flattened: golden's flatten order."""
    for img in range(n_img):
        for i in range(hw):
            xs = x[(img * hw + i) * c : (img * hw + i + 1) * c]
            for ch in range(c):
                y[(img * c + ch) * hw + i] = xs[ch]


@njit(nogil=True, cache=True)
def softmax(x, n_pix, c, exp_table, off_out, y):
    """Golden's integer softmax over the last axis of ``x`` (n_pix, c): ``e = table[max(u) -
    u]``, ``round(255 * e / sum(e))`` with ties up, stored as ``(value + off_out) mod 256``
    (the code's byte in the offset domain, as golden's cast wraps it)."""
    e = np.empty(c, np.int64)
    for p in range(n_pix):
        xs, ys = x[p * c : (p + 1) * c], y[p * c : (p + 1) * c]
        top = xs[0]
        for ch in range(1, c):
            top = max(top, xs[ch])
        total = np.int64(0)
        for ch in range(c):
            e[ch] = exp_table[top - xs[ch]]
            total += e[ch]
        for ch in range(c):
            ys[ch] = np.uint8(((2 * 255 * e[ch] + total) // (2 * total) + off_out) & 255)


@njit(nogil=True, cache=True)
def fill_border(y, n_img, h, w, hp, wp, pt, pl, c, value):
    """Write ``value`` into the border of ``y`` (N, hp, wp, c) around the (h, w) map at
    row ``pt``, column ``pl``; the map itself is left alone."""
    row = wp * c
    for img in range(n_img):
        base = img * hp * row
        y[base : base + pt * row] = value
        y[base + (pt + h) * row : base + hp * row] = value
        for i in range(pt, pt + h):
            r = base + i * row
            y[r : r + pl * c] = value
            y[r + (pl + w) * c : r + row] = value
