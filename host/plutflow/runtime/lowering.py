"""Host-side rewrites that let the overlay run a layer faster, bit for bit the same.

``im2col`` lowering: a k x k convolution with few input channels (a network's first
layer: C = 1 or 3) leaves most of the array's P input lanes idle, since every tap is one
step of P lanes. Gathering each output pixel's k·k·C window on the host turns it into a
1 x 1 convolution over k·k·C channels, which fills the lanes: the stem of the demo
network goes from 9 steps per pixel and channel group to 1. Padding positions take the
layer's padding code, so the sums are the same integers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from plutflow.formats.accel import LayerGeometry, OverlayConfig
from plutflow.intmodel.model import IntLayer
from plutflow.kernels import windows as win
from plutflow.kernels.conv import im2col


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def im2col_pays_off(geo: LayerGeometry, cfg: OverlayConfig) -> bool:
    """Whether lowering cuts the array steps (and the lowered input still fits)."""
    if geo.depthwise or geo.kh * geo.kw == 1:
        return False
    taps = geo.kh * geo.kw
    c2 = taps * geo.c
    steps_now = taps * _ceil(geo.c, cfg.p)
    fits = geo.oh * geo.ow * _ceil(c2, cfg.p) <= cfg.adepth and c2 < 1 << 16
    return fits and _ceil(c2, cfg.p) < steps_now


def lower_layer(layer: IntLayer) -> IntLayer:
    """The 1 x 1 convolution over (ky, kx, c) channels equivalent to ``layer``."""
    p = dict(layer.params)
    key = "weight" if "weight" in p else "weight_codes"
    w = p[key]
    p[key] = np.ascontiguousarray(np.moveaxis(w, 1, -1)).reshape(w.shape[0], -1, 1, 1)
    attrs = dict(layer.attrs, kernel=[1, 1], strides=[1, 1], pads=[0, 0, 0, 0], group=1)
    return IntLayer(layer.name, layer.op, layer.inputs, layer.outputs, attrs, p)


def lowered_geometry(geo: LayerGeometry) -> LayerGeometry:
    """The geometry of :func:`lower_layer`'s convolution: one pixel per output pixel."""
    c2 = geo.kh * geo.kw * geo.c
    return dataclasses.replace(geo, h=geo.oh, w=geo.ow, c=c2, kh=1, kw=1, sh=1, sw=1, pt=0, pl=0)


def lower_input(layer: IntLayer, x: np.ndarray) -> np.ndarray:
    """Input codes (N, C, H, W) -> the lowered layer's input (N, kh·kw·C, OH, OW)."""
    a = layer.attrs
    geom = win.resolve(x.shape[2:], a["kernel"], a["strides"], a["dilations"], a["pads"])
    cols = im2col(x, geom, a["pad_value"])  # (N*OH*OW, taps, C)
    n = x.shape[0]
    oh, ow = geom.out_shape
    return np.ascontiguousarray(np.moveaxis(cols.reshape(n, oh, ow, -1), -1, 1))
