"""cocotb testbench of pf_pe_array: random dot products for the int8, shift and P-LUT PEs
(and the int8 path of a low-bit array), bit-exact against numpy with the spec's weight
decoding, under random input bubbles."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from tb_common import CLOCK_NS

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


async def run_vectors(dut, acts, weights, int8_mode: int, rng) -> list[list[int]]:
    p_in, p_out, aw = int(dut.P_IN.value), int(dut.P_OUT.value), int(dut.AW.value)
    sum_w = int(dut.SUM_W.value)
    got = []
    n, cycles = 0, 0
    while len(got) < len(acts) and cycles < 4 * len(acts) + 50:
        send = n < len(acts) and rng.random() < 0.8
        dut.in_valid.value = int(send)
        dut.int8_mode.value = int8_mode
        if send:
            dut.act.value = pack(acts[n], aw)
            dut.wgt.value = pack(weights[n].reshape(p_out * p_in), 8)
            n += 1
        await RisingEdge(dut.clk)
        cycles += 1
        await ReadOnly()
        if int(dut.out_valid.value):
            got.append(unpack_signed(int(dut.sums.value), sum_w, p_out))
        await FallingEdge(dut.clk)
    dut.in_valid.value = 0
    return got


@cocotb.test()
async def random_dot_products(dut) -> None:
    pe_type, p_in, p_out = int(dut.PE_TYPE.value), int(dut.P_IN.value), int(dut.P_OUT.value)
    aw, wbits = int(dut.AW.value), int(dut.WBITS.value)
    b2, lw, has8 = int(dut.B2.value), int(dut.LW.value), int(dut.INT8_PATH.value)
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
    aqmin = int(rng.integers(-8, 9)) if pe_type == 3 else 0
    dut.aqmin.value = aqmin & ((1 << aw) - 1)
    dut.tab_we.value = 0
    dut.tab_addr.value = 0
    dut.tab_data.value = 0
    dut.in_valid.value = 0
    dut.int8_mode.value = 0
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)
    if pe_type == 3:  # the product table T[mag][index] = level * (qmin + index)
        tbw = int(dut.TBW.value)
        for mag in range(nlev):
            for idx in range(1 << abits):
                dut.tab_we.value = 1
                dut.tab_addr.value = (mag << abits) | idx
                dut.tab_data.value = int(levels[mag] * (aqmin + idx)) & ((1 << tbw) - 1)
                await FallingEdge(dut.clk)
        dut.tab_we.value = 0

    # the low-bit (or int8) PEs
    if pe_type == 3:  # codes of qmin .. qmin + 2^abits - 1
        acts = aqmin + rng.integers(0, 1 << abits, (count, p_in))
    else:
        acts = rng.integers(-(1 << (aw - 1)), 1 << (aw - 1), (count, p_in))
    if pe_type == 0:
        w = rng.integers(-127, 128, (count, p_out, p_in))
        values = w
    else:
        w = rng.integers(0, 1 << wbits, (count, p_out, p_in))
        values = decode_sign_magnitude(w, levels, wbits)
    got = await run_vectors(dut, acts, w, 0, rng)
    expected = np.einsum("ni,noi->no", acts, values)
    assert len(got) == count, f"{len(got)} outputs for {count} inputs"
    for n, (e, g) in enumerate(zip(expected, got, strict=True)):
        assert list(e) == g, f"vector {n}: expected {list(e)}, RTL gave {g}"

    if pe_type != 0 and has8:  # the int8 path of a low-bit array
        acts = rng.integers(-256, 256, (count, p_in))
        w8 = rng.integers(-128, 128, (count, p_out, p_in))
        got = await run_vectors(dut, acts, w8, 1, rng)
        expected = np.einsum("ni,noi->no", acts, w8)
        assert len(got) == count
        for n, (e, g) in enumerate(zip(expected, got, strict=True)):
            assert list(e) == g, f"int8 vector {n}: expected {list(e)}, RTL gave {g}"
