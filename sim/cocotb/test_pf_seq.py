"""cocotb testbench of pf_seq: the address stream of random tiles against the loop nest
of docs/spec.md 9.5, step by step, with a random output-credit hold."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

M24 = (1 << 24) - 1


def reference(t: dict) -> list[tuple[int, ...]]:
    """(a, b, w, g, grp, first, last, end) of every step of tile ``t``."""
    cgn = t["icg"] if t["conv"] else 1
    steps = []
    n_steps = t["oh"] * t["ow"] * t["omg"] * t["kh"] * t["kw"] * cgn
    for oy in range(t["oh"]):
        for ox in range(t["ow"]):
            for g in range(t["omg"]):
                grp = (oy * t["ow"] + ox) * t["omg"] + g
                for ky in range(t["kh"]):
                    for kx in range(t["kw"]):
                        for cg in range(cgn):
                            a = (oy * t["sh_rs"] + ox * t["sw_ps"] + ky * t["dh_rs"]
                                 + kx * t["dw_ps"] + (cg if t["conv"] else g)) & M24  # fmt: skip
                            w = ((g * t["kh"] + ky) * t["kw"] + kx) * cgn + cg
                            first = ky == 0 and kx == 0 and cg == 0
                            last = ky == t["kh"] - 1 and kx == t["kw"] - 1 and cg == cgn - 1
                            b = g if t["bcast"] else grp
                            end = len(steps) == n_steps - 1
                            steps.append((a, b, w, g, grp, int(first), int(last), int(end)))
    return steps


def random_tile(rng: np.random.Generator) -> dict:
    def dim(hi: int) -> int:  # mostly small, sometimes 1, now and then larger
        return int(rng.choice([1, 1, 2, 3, int(rng.integers(1, hi + 1))]))

    conv = bool(rng.integers(0, 2))
    return {
        "conv": conv,
        "bcast": bool(rng.integers(0, 2)) and not conv,
        "icg": dim(5),
        "omg": dim(4),
        "oh": dim(4),
        "ow": dim(5),
        "kh": dim(3),
        "kw": dim(3),
        "sh_rs": int(rng.integers(0, 1 << 12)),
        "dh_rs": int(rng.integers(0, 1 << 10)),
        "sw_ps": int(rng.integers(0, 1 << 8)),
        "dw_ps": int(rng.integers(0, 1 << 8)),
    }


def drive(dut, t: dict) -> None:
    for name in ("icg", "omg", "oh", "ow", "kh", "kw", "sh_rs", "dh_rs", "sw_ps", "dw_ps"):
        getattr(dut, name).value = t[name]
    dut.conv.value = int(t["conv"])
    dut.bcast.value = int(t["bcast"])


@cocotb.test()
async def random_tiles_match_the_loop_nest(dut) -> None:
    rng = np.random.default_rng(int(os.environ.get("PLUTFLOW_SEED", "3")))
    tiles = int(os.environ.get("PLUTFLOW_TILES", "300"))
    cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())
    dut.rst.value = 1
    dut.start.value = 0
    dut.hold.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    for n in range(tiles):
        t = random_tile(rng)
        want = reference(t)
        hold_p = float(rng.choice([0.0, 0.3, 0.8]))
        await FallingEdge(dut.clk)
        drive(dut, t)
        dut.start.value = 1
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.start.value = 0
        got: list[tuple[int, ...]] = []
        cycles = 0
        while True:
            dut.hold.value = int(rng.random() < hold_p)
            await RisingEdge(dut.clk)
            await ReadOnly()
            cycles += 1
            if int(dut.s_valid.value):
                got.append((int(dut.s_a_addr.value), int(dut.s_b_addr.value),
                            int(dut.s_w_addr.value), int(dut.s_g.value),
                            int(dut.s_grp.value), int(dut.s_first.value),
                            int(dut.s_last.value), int(dut.s_end.value)))  # fmt: skip
            if not int(dut.busy.value) and got:
                break
            assert cycles < 20 * len(want) + 50, f"tile {n} {t}: no end after {cycles} cycles"
            await FallingEdge(dut.clk)
        # the last step is registered one cycle after busy drops
        await FallingEdge(dut.clk)
        await RisingEdge(dut.clk)
        await ReadOnly()
        if int(dut.s_valid.value):
            got.append((int(dut.s_a_addr.value), int(dut.s_b_addr.value),
                        int(dut.s_w_addr.value), int(dut.s_g.value), int(dut.s_grp.value),
                        int(dut.s_first.value), int(dut.s_last.value),
                        int(dut.s_end.value)))  # fmt: skip
        for i, (e, g) in enumerate(zip(want, got, strict=False)):
            assert e == g, (
                f"tile {n} {t}: step {i} expected (a, b, w, g, grp, first, last, end) = {e}, "
                f"the RTL issued {g}"
            )
        assert len(got) == len(want), f"tile {n} {t}: {len(got)} steps, expected {len(want)}"
        if hold_p == 0.0:  # one step per cycle after the two setup cycles
            assert cycles <= len(want) + 4, f"tile {n}: {cycles} cycles for {len(want)} steps"
