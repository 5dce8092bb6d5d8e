"""cocotb testbench of pf_requant: random vectors, bit-exact against plutflow.arith."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from tb_common import start_pipeline

from plutflow.arith import requantize

LANES = int(os.environ.get("PLUTFLOW_LANES", "1"))  # the LANES parameter of the build
LANE_FIELDS = (("acc", 32), ("bias", 32), ("mult", 16), ("shift", 6))


def reference(beat: dict, lane: dict) -> int:
    acc = (lane["acc"] << beat["bias_shift"]) + lane["bias"]
    return int(
        requantize(
            np.array([acc], np.int64), lane["mult"], lane["shift"], beat["zp"], beat["lo"],
            beat["hi"],
        )[0]
    )  # fmt: skip


def random_lane(rng: np.random.Generator, f: int) -> dict:
    return {
        "acc": int(rng.integers(-(2 ** (30 - f)), 2 ** (30 - f))),
        "bias": int(rng.integers(-(2**29), 2**29)),
        "mult": int(rng.integers(0, 2**16)),
        "shift": int(rng.integers(0, 48)),
    }


def random_beat(rng: np.random.Generator) -> dict:
    """One input beat: the common bias shift, zero point and bounds, and each lane's
    accumulator, bias, multiplier and shift."""
    f = int(rng.integers(0, 7))
    lo = int(rng.integers(-256, 0))
    return {
        "bias_shift": f,
        "zp": int(rng.integers(-128, 128)),
        "lo": lo,
        "hi": int(rng.integers(lo, 256)),
        "lanes": [random_lane(rng, f) for _ in range(LANES)],
    }


def packed(lanes: list[dict], field: str, width: int) -> int:
    """A per-lane field of every lane as one port value (lane l at [l*width +: width])."""
    return sum((ln[field] & ((1 << width) - 1)) << (i * width) for i, ln in enumerate(lanes))


def unpacked(value: int, width: int = 9) -> list[int]:
    """The lanes' signed outputs from the packed y port."""
    out = []
    for i in range(LANES):
        x = (value >> (i * width)) & ((1 << width) - 1)
        out.append(x - (1 << width) if x >> (width - 1) else x)
    return out


@cocotb.test()
async def random_vectors_bit_exact(dut) -> None:
    rng = np.random.default_rng(int(os.environ.get("PLUTFLOW_SEED", "1")))
    count = int(os.environ.get("PLUTFLOW_VECTORS", "2000"))
    await start_pipeline(dut)
    beats = [random_beat(rng) for _ in range(count)]
    expected = [[reference(b, ln) for ln in b["lanes"]] for b in beats]
    got: list[list[int]] = []
    sent, cycle = 0, 0
    while len(got) < count and cycle < 2 * count + 100:
        stall = cycle % 7 == 3  # outputs must hold while en is low
        dut.en.value = 0 if stall else 1
        if sent < count:
            b = beats[sent]
            dut.in_valid.value = 1
            for field, width in LANE_FIELDS:
                getattr(dut, field).value = packed(b["lanes"], field, width)
            dut.bias_shift.value = b["bias_shift"]
            dut.zero_point.value = b["zp"]
            dut.lo.value = b["lo"]
            dut.hi.value = b["hi"]
        else:
            dut.in_valid.value = 0
        await RisingEdge(dut.clk)
        cycle += 1
        if not stall:
            sent += sent < count
            await ReadOnly()
            if int(dut.out_valid.value):
                got.append(unpacked(int(dut.y.value)))
        await FallingEdge(dut.clk)  # leave the read-only phase before driving again
    for i, (e, g) in enumerate(zip(expected, got, strict=False)):
        for lane, (el, gl) in enumerate(zip(e, g, strict=True)):
            assert el == gl, f"beat {i} lane {lane} {beats[i]}: expected {el}, RTL gave {gl}"
    assert len(got) == count, f"{len(got)} outputs for {count} inputs"
