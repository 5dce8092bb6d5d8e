"""cocotb testbench of pf_axi_rd: random bursts against cocotbext-axi's AXI RAM with
random backpressure on AR and R and a stalling consumer; every beat arrives in order with
the memory's content, and an error response is reported."""

from __future__ import annotations

import logging
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiRamRead, AxiReadBus
from tb_common import CLOCK_NS

BASE = 0x1000_0000  # the window's bus address
LIMIT = BASE + (1 << 16)  # reads at or above answer SLVERR


class WindowRam(AxiRamRead):
    """An AXI RAM that answers SLVERR outside [BASE, LIMIT)."""

    async def _read(self, address, length):
        if not BASE <= address < LIMIT:
            raise IndexError(f"read at 0x{address:x} outside the window")
        return await super()._read(address, length)


def pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


async def setup(dut, seed: int) -> tuple[WindowRam, random.Random]:
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    dut.req_valid.value = 0
    dut.rd_ready.value = 0
    dut.clear.value = 0
    dut.base.value = BASE
    ram = WindowRam(AxiReadBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=1 << 32)
    ram.log.setLevel(logging.WARNING)
    rng = random.Random(seed)
    ram.ar_channel.set_pause_generator(pauses(rng, 0.3))
    ram.r_channel.set_pause_generator(pauses(rng, 0.3))
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    return ram, rng


@cocotb.test()
async def random_bursts_in_order(dut) -> None:
    ram, rng = await setup(dut, int(os.environ.get("PLUTFLOW_SEED", "1")))
    beat = int(dut.DATA_W.value) // 8
    mem = bytes(rng.getrandbits(8) for _ in range(1 << 16))
    ram.write(BASE, mem)
    bursts = []
    for _ in range(60):
        length = rng.choice([1, 2, 3, 16, 17, 64, 256])
        page = rng.randrange(0, (1 << 16) // 4096)
        start = rng.randrange(0, 4096 // beat - length + 1) if length * beat <= 4096 else 0
        length = min(length, 4096 // beat)
        bursts.append((page * 4096 + start * beat, length))
    expected = [mem[o + i * beat : o + (i + 1) * beat] for o, n in bursts for i in range(n)]

    async def requester() -> None:
        for off, n in bursts:
            dut.req_off.value = off
            dut.req_len1.value = n - 1
            dut.req_valid.value = 1
            await RisingEdge(dut.clk)
            while not int(dut.req_ready.value):
                await RisingEdge(dut.clk)
            await FallingEdge(dut.clk)
            dut.req_valid.value = 0
            if rng.random() < 0.3:
                await ClockCycles(dut.clk, rng.randrange(1, 20))
                await FallingEdge(dut.clk)

    req = cocotb.start_soon(requester())
    got = []
    max_out = 0
    while len(got) < len(expected):
        await FallingEdge(dut.clk)
        dut.rd_ready.value = int(rng.random() < 0.7)
        await RisingEdge(dut.clk)
        max_out = max(max_out, int(dut.outstanding.value))
        if int(dut.rd_valid.value) and int(dut.rd_ready.value):
            got.append(int(dut.rd_data.value).to_bytes(beat, "little"))
    await req
    await ClockCycles(dut.clk, 5)
    assert got == expected, next(
        i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b
    )
    assert int(dut.busy.value) == 0
    assert int(dut.err_resp.value) == 0
    assert 1 < max_out <= int(dut.MAX_OUT.value), max_out  # bursts overlap, within the limit


@cocotb.test()
async def error_response_is_reported(dut) -> None:
    """A read outside the RAM's window answers SLVERR: err_resp rises, the data still
    drains and the master ends idle."""
    _, _ = await setup(dut, 3)
    dut.rd_ready.value = 1
    await FallingEdge(dut.clk)
    dut.req_off.value = LIMIT - BASE
    dut.req_len1.value = 3
    dut.req_valid.value = 1
    await RisingEdge(dut.clk)
    while not int(dut.req_ready.value):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.req_valid.value = 0
    for _ in range(200):
        await RisingEdge(dut.clk)
        if int(dut.err_resp.value) and not int(dut.busy.value):
            break
    assert int(dut.err_resp.value) == 1
    assert int(dut.busy.value) == 0
    await FallingEdge(dut.clk)
    dut.clear.value = 1
    await FallingEdge(dut.clk)
    dut.clear.value = 0
    assert int(dut.err_resp.value) == 0
