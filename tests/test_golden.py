"""The vectorised golden executor against scalar loop references of the spec formulas."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plutflow.golden.ops import INT_OPS
from plutflow.intmodel.model import IntLayer, TensorSpec


def ref_requant(acc: int, m0: int, n: int, zp: int, lo: int, hi: int) -> int:
    v = acc * m0
    r = (v + (1 << (n - 1))) >> n if n > 0 else v
    return max(lo, min(hi, r + zp))


def loop_conv(x, w, bias, mult, shift, pads, strides, dilations, group, pad_value, zp, lo, hi):
    """docs/spec.md 3.1, one output at a time with Python integers."""
    n, _, h, wd = x.shape
    m, cg, kh, kw = w.shape
    ph0, pw0, ph1, pw1 = pads
    ho = (h + ph0 + ph1 - ((kh - 1) * dilations[0] + 1)) // strides[0] + 1
    wo = (wd + pw0 + pw1 - ((kw - 1) * dilations[1] + 1)) // strides[1] + 1
    out = np.zeros((n, m, ho, wo), np.int64)
    mg = m // group
    for b, o, i, j in itertools.product(range(n), range(m), range(ho), range(wo)):
        g = o // mg
        acc = int(bias[o])
        for ci, a, bb in itertools.product(range(cg), range(kh), range(kw)):
            y = i * strides[0] - ph0 + a * dilations[0]
            xx = j * strides[1] - pw0 + bb * dilations[1]
            v = int(x[b, g * cg + ci, y, xx]) if 0 <= y < h and 0 <= xx < wd else pad_value
            acc += v * int(w[o, ci, a, bb])
        out[b, o, i, j] = ref_requant(acc, int(mult[o]), int(shift[o]), zp, lo, hi)
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 2),
    st.sampled_from([(2, 1), (4, 2), (3, 3), (6, 1)]),
    st.integers(1, 3),
    st.integers(3, 7),
    st.sampled_from([1, 2, 3]),
    st.sampled_from([1, 2]),
    st.sampled_from([1, 2]),
    st.booleans(),
    st.integers(0, 2**31 - 1),
)
def test_conv_matches_loop_reference(n, chans, mg, size, k, stride, dil, unsigned, seed) -> None:
    c, group = chans
    rng = np.random.default_rng(seed)
    m = mg * group
    dtype, qmin, qmax = ("uint8", 0, 255) if unsigned else ("int8", -128, 127)
    x = rng.integers(qmin, qmax + 1, (n, c, size, size + 1)).astype(dtype)
    w = rng.integers(-127, 128, (m, c // group, k, k)).astype(np.int8)
    bias = rng.integers(-5000, 5000, m).astype(np.int32)
    mult = rng.integers(2**15, 2**16, m).astype(np.int32)
    shift = rng.integers(12, 22, m).astype(np.int32)
    pads = [int(p) for p in rng.integers(0, k, 4)]
    if (
        size + pads[0] + pads[2] < (k - 1) * dil + 1
        or size + 1 + pads[1] + pads[3] < (k - 1) * dil + 1
    ):
        pads = [k * dil] * 4
    pad_value = int(rng.integers(qmin, qmax + 1))
    zp, lo, hi = 3, -128, 127
    layer = IntLayer(
        "c",
        "conv",
        ["x"],
        ["y"],
        {
            "kernel": [k, k],
            "strides": [stride, stride],
            "dilations": [dil, dil],
            "pads": pads,
            "group": group,
            "pad_value": pad_value,
            "lo": lo,
            "hi": hi,
            "acc_bound": 255 * 127 * (c // group) * k * k,
        },
        {"weight": w, "bias": bias, "mult": mult, "shift": shift},
    )
    out_spec = TensorSpec((None, m, None, None), "int8", zp, 1.0)
    got = INT_OPS["conv"](layer, [x], [TensorSpec((), dtype, 0, 1.0)], out_spec)
    want = loop_conv(
        x, w, bias, mult, shift, pads, [stride] * 2, [dil] * 2, group, pad_value, zp, lo, hi
    )
    assert got.dtype == np.int8
    assert np.array_equal(got, want)


def test_conv_with_per_channel_table() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (2, 3, 5, 5)).astype(np.int8)
    w = rng.integers(-127, 128, (4, 3, 1, 1)).astype(np.int8)
    table = rng.integers(-128, 128, (4, 256)).astype(np.int8)
    attrs = {
        "kernel": [1, 1],
        "strides": [1, 1],
        "dilations": [1, 1],
        "pads": [0] * 4,
        "group": 1,
        "pad_value": 0,
        "lo": -128,
        "hi": 127,
        "mid_zero_point": -5,
        "acc_bound": 128 * 127 * 3,
    }
    params = {
        "weight": w,
        "bias": np.zeros(4, np.int32),
        "mult": np.full(4, 40000, np.int32),
        "shift": np.full(4, 20, np.int32),
        "table": table,
    }
    layer = IntLayer("c", "conv", ["x"], ["y"], attrs, params)
    got = INT_OPS["conv"](
        layer, [x], [TensorSpec((), "int8", 0, 1.0)], TensorSpec((), "int8", 0, 1.0)
    )
    mid = loop_conv(
        x,
        w,
        params["bias"],
        params["mult"],
        params["shift"],
        [0] * 4,
        [1, 1],
        [1, 1],
        1,
        0,
        -5,
        -128,
        127,
    )
    want = np.take_along_axis(
        table[None, :, None, None].repeat(2, 0).repeat(5, 2).repeat(5, 3),
        (mid + 128)[..., None],
        -1,
    )[..., 0]
    assert np.array_equal(got, want)


@pytest.mark.parametrize("include_pad", [0, 1])
@pytest.mark.parametrize("ceil", [0, 1])
def test_avgpool_matches_loop_reference(include_pad: int, ceil: int) -> None:
    rng = np.random.default_rng(include_pad * 2 + ceil)
    x = rng.integers(0, 256, (2, 3, 7, 6)).astype(np.uint8)
    zin, zout, shift = 17, -3, 18
    mult = np.array([0] + [round(0.8 * 2**shift / c) for c in range(1, 10)], np.int32)
    layer = IntLayer(
        "p",
        "avgpool",
        ["x"],
        ["y"],
        {
            "kernel": [3, 3],
            "strides": [2, 2],
            "dilations": [1, 1],
            "pads": [1, 1, 1, 1],
            "ceil_mode": ceil,
            "count_include_pad": include_pad,
            "shift": shift,
            "lo": -128,
            "hi": 127,
        },
        {"mult": mult},
    )
    got = INT_OPS["avgpool"](
        layer, [x], [TensorSpec((), "uint8", zin, 1.0)], TensorSpec((), "int8", zout, 1.0)
    )
    ho, wo = got.shape[2:]
    for b, c, i, j in itertools.product(range(2), range(3), range(ho), range(wo)):
        total, count = 0, 0
        for a, bb in itertools.product(range(3), range(3)):
            y, xx = 2 * i - 1 + a, 2 * j - 1 + bb
            inside = 0 <= y < 7 and 0 <= xx < 6
            in_pads = -1 <= y < 8 and -1 <= xx < 7
            if inside:
                total += int(x[b, c, y, xx]) - zin
            if inside or (include_pad and in_pads):
                count += 1
        assert got[b, c, i, j] == ref_requant(total, int(mult[count]), shift, zout, -128, 127)


def test_add_mul_concat_table_softmax_formulas() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (2, 4, 3, 3)).astype(np.uint8)
    b = rng.integers(-128, 128, (2, 4, 3, 3)).astype(np.int8)
    sa, sb = TensorSpec((), "uint8", 5, 1.0), TensorSpec((), "int8", -7, 1.0)
    out = TensorSpec((), "int8", 2, 1.0)
    add = IntLayer(
        "a",
        "add",
        ["a", "b"],
        ["y"],
        {"mult_a": 30000, "mult_b": 50000, "shift": 16, "lo": -100, "hi": 127},
    )
    got = INT_OPS["add"](add, [a, b], [sa, sb], out)
    for idx in np.ndindex(a.shape):
        v = (int(a[idx]) - 5) * 30000 + (int(b[idx]) + 7) * 50000
        assert got[idx] == max(-100, min(127, ((v + 2**15) >> 16) + 2))

    mul = IntLayer(
        "m", "mul", ["a", "b"], ["y"], {"mult": 40000, "shift": 22, "lo": -128, "hi": 127}
    )
    got = INT_OPS["mul"](mul, [a, b[:, :, :1, :1]], [sa, sb], out)
    for idx in np.ndindex(a.shape):
        v = (int(a[idx]) - 5) * (int(b[idx[0], idx[1], 0, 0]) + 7)
        assert got[idx] == ref_requant(v, 40000, 22, 2, -128, 127)

    cat = IntLayer(
        "c", "concat", ["a", "b"], ["y"], {"axis": 1, "mults": [None, 40000], "shifts": [None, 16]}
    )
    got = INT_OPS["concat"](cat, [a.view(np.int8), b], [TensorSpec((), "int8", 2, 1.0), sb], out)
    assert np.array_equal(got[:, :4], a.view(np.int8))
    assert got[0, 4, 0, 0] == ref_requant(int(b[0, 0, 0, 0]) + 7, 40000, 16, 2, -128, 127)

    table = rng.integers(-128, 128, 256).astype(np.int8)
    tab = IntLayer("t", "table", ["a"], ["y"], {}, {"table": table})
    assert np.array_equal(INT_OPS["table"](tab, [a], [sa], out), table[a.astype(int)])

    exp = np.rint(np.exp(-0.1 * np.arange(256)) * 2**16).astype(np.int32)
    sm = IntLayer("s", "softmax", ["b"], ["y"], {"axis": 1}, {"exp_table": exp})
    logits = b[:, :, 0, 0]
    got = INT_OPS["softmax"](sm, [logits], [sb], TensorSpec((), "uint8", 0, 1 / 255))
    for i in range(2):
        e = [int(exp[int(logits[i].max()) - int(v)]) for v in logits[i]]
        assert got[i].tolist() == [(2 * 255 * v + sum(e)) // (2 * sum(e)) for v in e]
