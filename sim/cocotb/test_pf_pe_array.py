"""cocotb testbench of pf_pe_array: random dot products for the int8, shift and P-LUT PEs,
bit-exact against numpy with the spec's weight decoding."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from tb_common import start_pipeline

from plutflow.arith import decode_sign_magnitude


def pack(values, width: int) -> int:
    out = 0
    for k, v in enumerate(values):
        out |= (int(v) & ((1 << width) - 1)) << (k * width)
    return out


def unpack_signed(word: int, width: int, count: int) -> list[int]:
    vals = []
    for k in range(count):
        v = (word >> (k * width)) & ((1 << width) - 1)
        vals.append(v - (1 << width) if v >> (width - 1) else v)
    return vals


@cocotb.test()
async def random_dot_products(dut) -> None:
    pe_type, p_in, p_out = int(dut.PE_TYPE.value), int(dut.P_IN.value), int(dut.P_OUT.value)
    aw, wbits, sum_w = int(dut.AW.value), int(dut.WBITS.value), int(dut.SUM_W.value)
    b2, lw = int(dut.B2.value), int(dut.LW.value)
    mb = wbits - 1
    nlev = 1 << mb
    rng = np.random.default_rng(int(os.environ.get("PLUTFLOW_SEED", "3")))
    count = int(os.environ.get("PLUTFLOW_VECTORS", "300"))

    # per-layer configuration: shift exponents or P-LUT levels
    exps = np.zeros(nlev, np.int64)
    levels = np.zeros(nlev, np.int64)
    if pe_type == 1:
        b1 = mb - b2
        e1 = rng.integers(0, 8, (1 << b1) - 1)
        e2 = rng.integers(0, 8, (1 << b2) - 1) if b2 else np.zeros(0, np.int64)
        exps[: len(e1)] = e1
        exps[nlev // 2 : nlev // 2 + len(e2)] = e2
        t1 = np.concatenate([[0], 2**e1])
        t2 = np.concatenate([[0], 2**e2]) if b2 else np.zeros(1, np.int64)
        levels = (t1[:, None] + t2[None, :]).reshape(-1)  # index = i1 * 2**b2 + i2
    elif pe_type in (2, 3):
        levels = np.concatenate([[0], np.sort(rng.integers(1, 1 << lw, nlev - 1))])
    dut.exps.value = pack(exps, 3)
    dut.levels.value = pack(levels, lw) if pe_type == 2 else 0
    abits = int(dut.ABITS.value)
    dut.tab_we.value = 0
    dut.tab_addr.value = 0
    dut.tab_data.value = 0

    await start_pipeline(dut)
    if pe_type == 3:  # load the product table T[mag][index] = level * index
        tbw = int(dut.TBW.value)
        for mag in range(nlev):
            for idx in range(1 << abits):
                dut.tab_we.value = 1
                dut.tab_addr.value = (mag << abits) | idx
                dut.tab_data.value = int(levels[mag] * idx) & ((1 << tbw) - 1)
                await FallingEdge(dut.clk)
        dut.tab_we.value = 0

    if pe_type == 3:  # activation indices (code - qmin, with qmin = 0)
        acts = rng.integers(0, 1 << abits, (count, p_in))
    else:
        acts = rng.integers(-(1 << (aw - 1)) + 1, 1 << (aw - 1), (count, p_in))
    if pe_type == 0:
        w = rng.integers(-(1 << (wbits - 1)) + 1, 1 << (wbits - 1), (count, p_out, p_in))
        values = w
    else:
        w = rng.integers(0, 1 << wbits, (count, p_out, p_in))
        values = decode_sign_magnitude(w, levels, wbits)
    expected = np.einsum("ni,noi->no", acts, values)
    got = []
    for n in range(count + 3):
        if n < count:
            dut.in_valid.value = 1
            dut.act.value = pack(acts[n], aw)
            dut.wgt.value = pack(w[n].reshape(-1), wbits)
        else:
            dut.in_valid.value = 0
        await RisingEdge(dut.clk)
        await ReadOnly()
        if int(dut.out_valid.value):
            got.append(unpack_signed(int(dut.sums.value), sum_w, p_out))
        await FallingEdge(dut.clk)
    assert len(got) == count, f"{len(got)} outputs for {count} inputs"
    for n, (e, g) in enumerate(zip(expected, got, strict=True)):
        assert list(e) == g, f"vector {n}: expected {list(e)}, RTL gave {g}"
