"""cocotb testbench of pf_requant: random vectors, bit-exact against plutflow.arith."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from tb_common import start_pipeline

from plutflow.arith import requantize

LATENCY = 4


def reference(v: dict) -> int:
    acc = (v["acc"] << v["bias_shift"]) + v["bias"]
    return int(
        requantize(np.array([acc], np.int64), v["mult"], v["shift"], v["zp"], v["lo"], v["hi"])[0]
    )


def random_vector(rng: np.random.Generator) -> dict:
    f = int(rng.integers(0, 7))
    acc = int(rng.integers(-(2 ** (30 - f)), 2 ** (30 - f)))
    bias = int(rng.integers(-(2**29), 2**29))
    lo = int(rng.integers(-256, 0))
    return {
        "acc": acc,
        "bias_shift": f,
        "bias": bias,
        "mult": int(rng.integers(0, 2**16)),
        "shift": int(rng.integers(0, 48)),
        "zp": int(rng.integers(-128, 128)),
        "lo": lo,
        "hi": int(rng.integers(lo, 256)),
    }


@cocotb.test()
async def random_vectors_bit_exact(dut) -> None:
    rng = np.random.default_rng(int(os.environ.get("PLUTFLOW_SEED", "1")))
    count = int(os.environ.get("PLUTFLOW_VECTORS", "2000"))
    await start_pipeline(dut)
    vectors = [random_vector(rng) for _ in range(count)]
    expected = [reference(v) for v in vectors]
    got: list[int] = []
    sent, cycle = 0, 0
    while len(got) < count and cycle < 2 * count + 100:
        stall = cycle % 7 == 3  # outputs must hold while en is low
        dut.en.value = 0 if stall else 1
        if sent < count:
            v = vectors[sent]
            dut.in_valid.value = 1
            dut.acc.value = v["acc"]
            dut.bias_shift.value = v["bias_shift"]
            dut.bias.value = v["bias"]
            dut.mult.value = v["mult"]
            dut.shift.value = v["shift"]
            dut.zero_point.value = v["zp"]
            dut.lo.value = v["lo"]
            dut.hi.value = v["hi"]
        else:
            dut.in_valid.value = 0
        await RisingEdge(dut.clk)
        cycle += 1
        if not stall:
            sent += sent < count
            await ReadOnly()
            if int(dut.out_valid.value):
                got.append(dut.y.value.to_signed())
        await FallingEdge(dut.clk)  # leave the read-only phase before driving again
    for i, (e, g) in enumerate(zip(expected, got, strict=False)):
        assert e == g, f"vector {i} {vectors[i]}: expected {e}, RTL gave {g}"
    assert len(got) == count, f"{len(got)} outputs for {count} inputs"
