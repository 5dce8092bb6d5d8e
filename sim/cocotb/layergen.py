"""Random conv/FC layers of the integer model for the layer-engine tests.

Each layer is a valid :class:`~plutflow.intmodel.IntLayer` in one of the weight formats
an overlay type runs (int8/uniform, pot/upot, plut), with random geometry (k x k, stride,
asymmetric padding, 1x1, depthwise, FC), random activation dtypes and bit-widths, bias
shift, requant parameters and sometimes an activation table, so that the golden executor
can compute it and the engine must match it bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plutflow.arith import INT32_MAX, code_range
from plutflow.formats.accel import OverlayConfig
from plutflow.golden.ops import INT_OPS
from plutflow.intmodel.model import IntLayer, TensorSpec


@dataclass
class LayerCase:
    layer: IntLayer
    x: np.ndarray
    in_spec: TensorSpec
    out_spec: TensorSpec

    def golden(self) -> np.ndarray:
        lay = self.layer
        y = INT_OPS[lay.op](lay, [self.x], [self.in_spec], self.out_spec)
        return y.reshape(y.shape[0], y.shape[1], *([1, 1] if y.ndim == 2 else y.shape[2:]))

    def describe(self) -> str:
        a = self.layer.attrs
        shape = "x".join(str(v) for v in self.x.shape)
        k = a.get("kernel", [1, 1])
        return (
            f"{self.layer.name}: {self.layer.op} {a['weight_scheme']} w{a['weight_bits']} "
            f"in {shape} {self.in_spec.dtype}/{self.in_spec.bits}b "
            f"-> M={len(self.layer.params['bias'])}"
            f" k={k} s={a.get('strides')} pads={a.get('pads')} group={a.get('group', 1)}"
            f" table={'table' in self.layer.params}"
        )


def _spec(rng, bits: int, dtype: str | None = None) -> TensorSpec:
    dtype = dtype or str(rng.choice(["int8", "uint8"]))
    lo, hi = code_range(dtype, bits)
    zp = int(rng.integers(lo, hi + 1)) if rng.random() < 0.7 else (0 if dtype == "int8" else lo)
    return TensorSpec((None,), dtype, zp, 0.05, bits)


def _weights(rng, cfg: OverlayConfig, shape) -> tuple[dict, dict]:
    """Weights (or codes + levels) of a random format the overlay runs."""
    attrs: dict = {}
    params: dict = {}
    if cfg.pe_type == "int8":
        k = 8 if rng.random() < 0.5 else int(rng.integers(2, 9))
        lim = 127 if k == 8 else 2 ** (k - 1) - 1
        params["weight"] = rng.integers(-lim, lim + 1, shape).astype(np.int8)
        attrs.update(weight_scheme="int8" if k == 8 else "uniform", weight_bits=k)
        return attrs, params
    if cfg.pe_type == "shift":
        b1max, b2max = cfg.wbits - 1 - cfg.b2, cfg.b2
        while True:
            k = int(rng.integers(2, 6))
            b2 = int(rng.integers(0, min(b2max, k - 2) + 1))
            b1 = k - 1 - b2
            if b1 <= b1max and 2**b1 - 1 <= 8 and 2**b2 - 1 <= 8:
                break
        t1 = sorted(rng.choice(8, 2**b1 - 1, replace=False).tolist())
        t2 = sorted(rng.choice(8, 2**b2 - 1, replace=False).tolist()) if b2 else []
        terms = [t1, t2] if b2 else [t1]
        v1 = np.array([0] + [2**e for e in t1])
        v2 = np.array([0] + [2**e for e in t2])
        levels = (v1[:, None] + v2[None, :]).reshape(-1)
        attrs.update(weight_scheme="upot" if b2 else "pot", weight_bits=k, terms=terms)
    else:
        kmax = min(cfg.wbits, 5)
        k = int(rng.integers(2, kmax + 1))
        levels = np.concatenate([[0], np.sort(rng.integers(1, 128, 2 ** (k - 1) - 1))])
        attrs.update(weight_scheme="plut", weight_bits=k)
    codes = rng.integers(0, 2**k, shape)
    params["weight_codes"] = codes.astype(np.uint8)
    params["levels"] = levels.astype(np.int16)
    return attrs, params


def random_layer(
    rng, cfg: OverlayConfig, index: int, batch: int = 2, fixed: dict | None = None
) -> LayerCase:
    """One random conv, depthwise conv or FC layer the overlay ``cfg`` can run.

    ``fixed`` pins the geometry: ``dict(c=, m=, h=, w=, k=, stride=, pad=)`` (a square
    conv with symmetric padding; the formats stay random).
    """
    p = cfg.p
    kind = rng.choice(["conv", "conv", "conv", "pointwise", "depthwise", "fc"])
    if fixed:
        kind = "conv"
    in_bits = int(rng.integers(2, 9))
    if cfg.pe_type == "plut-lutram":
        in_bits = int(rng.integers(2, cfg.abits + 1))
    in_spec = _spec(rng, in_bits)
    c = int(rng.integers(1, 2 * p + 4))
    m = int(rng.integers(1, 2 * p + 4))
    if fixed:
        c, m = fixed["c"], fixed["m"]
    name = f"case{index}_{kind}"
    attrs: dict = {}
    if kind == "fc":
        op, h = "gemm", 1
        wshape = (m, c)
        x_shape = (batch, c)
    else:
        op = "conv"
        h = int(rng.integers(1, 9))
        w = int(rng.integers(1, 9))
        if kind == "pointwise":
            kh = kw = 1
        else:
            kh, kw = (int(v) for v in rng.choice([1, 2, 3, 5], 2))
        sh, sw = (int(v) for v in rng.integers(1, 4, 2))
        pads = [
            int(rng.integers(0, kh)),
            int(rng.integers(0, kw)),
            int(rng.integers(0, kh)),
            int(rng.integers(0, kw)),
        ]
        if fixed:
            h = w = fixed["h"]
            kh = kw = fixed["k"]
            sh = sw = fixed["stride"]
            pads = [fixed["pad"]] * 4
        # at least one output pixel
        while h + pads[0] + pads[2] < kh:
            pads[2] += 1
        while w + pads[1] + pads[3] < kw:
            pads[3] += 1
        group = 1
        if kind == "depthwise":
            m = c
            group = c
        wshape = (m, c // group, kh, kw)
        x_shape = (batch, c, h, w)
        attrs.update(
            kernel=[kh, kw],
            strides=[sh, sw],
            dilations=[1, 1],
            pads=pads,
            group=group,
            pad_value=in_spec.zero_point,
        )
    wattrs, params = _weights(rng, cfg, wshape)
    attrs.update(wattrs)
    if "weight" in params:
        wv = params["weight"].astype(np.int64)
    else:
        codes = params["weight_codes"].astype(np.int64)
        k = attrs["weight_bits"]
        mag = params["levels"].astype(np.int64)[codes & (2 ** (k - 1) - 1)]
        wv = np.where(codes >> (k - 1), -mag, mag)
        if attrs["weight_scheme"] == "plut":
            q = np.arange(2**in_bits) + in_spec.qmin
            allc = np.arange(2**k)
            lev = params["levels"].astype(np.int64)[allc & (2 ** (k - 1) - 1)]
            wc = np.where(allc >> (k - 1), -lev, lev)
            params["product_table"] = (wc[:, None] * q[None, :]).astype(np.int32)
    amax = max(abs(in_spec.qmin), abs(in_spec.qmax))
    acc_bound = int(amax * np.abs(wv.reshape(m, -1)).sum(axis=1).max())
    f = int(rng.integers(0, 4)) if rng.random() < 0.3 else 0
    while f and (acc_bound << f) > INT32_MAX // 2:
        f -= 1
    bias_lim = min(INT32_MAX - (acc_bound << f), 1 << 22)
    bias = rng.integers(-bias_lim, bias_lim + 1, m).astype(np.int32)
    mult = rng.integers(1 << 14, 1 << 16, m).astype(np.int64)
    span = max((acc_bound << f) + int(np.abs(bias).max()), 1)
    base = max(int(np.log2(span * (1 << 15))) - 8, 0)
    shift = np.clip(base + rng.integers(-3, 3, m), 0, 63).astype(np.int64)
    params.update(bias=bias, mult=mult, shift=shift)
    out_bits = int(rng.integers(2, 9))
    out_spec = _spec(rng, out_bits)
    if rng.random() < 0.25:  # activation table after an int8 middle step
        mid = _spec(rng, 8, "int8")
        attrs.update(mid_zero_point=mid.zero_point, lo=-128, hi=127)
        params["table"] = rng.integers(out_spec.qmin, out_spec.qmax + 1, 256).astype(
            out_spec.np_dtype
        )
    else:
        lo, hi = out_spec.qmin, out_spec.qmax
        if rng.random() < 0.3:  # a fused ReLU-like clamp
            lo = max(lo, out_spec.zero_point)
        attrs.update(lo=lo, hi=hi)
    attrs.update(acc_bound=acc_bound, bias_shift=f)
    layer = IntLayer(name, op, ["x"], ["y"], attrs, params)
    x = rng.integers(in_spec.qmin, in_spec.qmax + 1, x_shape).astype(in_spec.np_dtype)
    return LayerCase(layer, x, in_spec, out_spec)
