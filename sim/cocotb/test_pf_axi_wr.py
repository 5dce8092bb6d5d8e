"""cocotb testbench of pf_axi_wr: addressed beats (runs of consecutive offsets, jumps,
page crossings) against cocotbext-axi's AXI RAM with random backpressure on AW, W and B;
memory ends equal to a Python model, bursts are long where the offsets allow, none
crosses a 4 KB page, and an error response is reported."""

from __future__ import annotations

import logging
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiRamWrite, AxiWriteBus
from tb_common import CLOCK_NS

BASE = 0x2000_0000
LIMIT = BASE + (1 << 16)


class WindowRam(AxiRamWrite):
    """An AXI RAM that answers SLVERR outside [BASE, LIMIT) and records every burst
    (address, bytes) from the AW handshakes."""

    def __init__(self, dut, *a, **k) -> None:
        super().__init__(*a, **k)
        self.writes: list[tuple[int, int]] = []
        cocotb.start_soon(self._watch(dut))

    async def _watch(self, dut) -> None:
        beat = int(dut.DATA_W.value) // 8
        while True:
            await RisingEdge(dut.clk)
            if int(dut.m_axi_awvalid.value) and int(dut.m_axi_awready.value):
                self.writes.append(
                    (int(dut.m_axi_awaddr.value), (int(dut.m_axi_awlen.value) + 1) * beat)
                )

    async def _write(self, address, data):
        if not BASE <= address < LIMIT:
            raise IndexError(f"write at 0x{address:x} outside the window")
        return await super()._write(address, data)


def pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


async def setup(dut, seed: int) -> tuple[WindowRam, random.Random]:
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    dut.wr_valid.value = 0
    dut.flush.value = 0
    dut.clear.value = 0
    dut.base.value = BASE
    ram = WindowRam(dut, AxiWriteBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=1 << 32)
    ram.log.setLevel(logging.WARNING)
    rng = random.Random(seed)
    for ch in (ram.aw_channel, ram.w_channel, ram.b_channel):
        ch.set_pause_generator(pauses(rng, 0.25))
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    return ram, rng


async def send(dut, beats: list[tuple[int, bytes]], rng: random.Random, flush_at=()) -> None:
    for i, (off, data) in enumerate(beats):
        await FallingEdge(dut.clk)
        dut.wr_off.value = off
        dut.wr_data.value = int.from_bytes(data, "little")
        dut.wr_valid.value = 1
        await RisingEdge(dut.clk)
        while not int(dut.wr_ready.value):
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.wr_valid.value = 0
        if i in flush_at:
            await pulse(dut.flush, dut.clk)
        if rng.random() < 0.2:
            await ClockCycles(dut.clk, rng.randrange(1, 6))


async def pulse(signal, clk) -> None:
    """Hold ``signal`` high across exactly one rising edge."""
    await FallingEdge(clk)
    signal.value = 1
    await FallingEdge(clk)
    signal.value = 0


async def wait_idle(dut, limit: int = 20_000) -> None:
    for _ in range(limit):
        await RisingEdge(dut.clk)
        if int(dut.idle.value):
            return
    raise AssertionError("the writer never became idle")


@cocotb.test()
async def runs_and_jumps(dut) -> None:
    ram, rng = await setup(dut, int(os.environ.get("PLUTFLOW_SEED", "2")))
    beat = int(dut.DATA_W.value) // 8
    max_burst = int(dut.MAX_BURST.value)
    model = {}
    beats = []
    for _ in range(40):
        run = rng.choice([1, 2, 5, 16, 40, 300])
        start = rng.randrange(0, (1 << 16) // beat - run) * beat
        if rng.random() < 0.3:  # a run across a 4 KB page boundary
            start = (rng.randrange(1, 15) * 4096 - rng.randrange(1, 4) * beat) % (1 << 16)
            start = min(start, (1 << 16) - run * beat)
        for i in range(run):
            off = start + i * beat
            data = rng.randbytes(beat)
            beats.append((off, data))
            model[off] = data
    await send(dut, beats, rng, flush_at={len(beats) // 2})
    await pulse(dut.flush, dut.clk)
    await wait_idle(dut)
    for off, data in model.items():
        assert ram.read(BASE + off, beat) == data, hex(off)
    lengths = [n // beat for _, n in ram.writes]
    assert max(lengths) == max_burst, lengths  # long runs make full bursts
    for addr, n in ram.writes:
        assert addr // 4096 == (addr + n - 1) // 4096, f"burst at 0x{addr:x} crosses a page"
    assert len(ram.writes) < len(beats) / 3  # beats were merged
    assert int(dut.err_resp.value) == 0


@cocotb.test()
async def flush_closes_a_partial_burst(dut) -> None:
    """Three beats stay open until flush; then they are written as one burst."""
    ram, rng = await setup(dut, 5)
    beat = int(dut.DATA_W.value) // 8
    await send(dut, [(i * beat, bytes([i + 1]) * beat) for i in range(3)], rng)
    await ClockCycles(dut.clk, 50)
    assert ram.writes == [] and not int(dut.idle.value)
    await pulse(dut.flush, dut.clk)
    await wait_idle(dut)
    assert ram.writes == [(BASE, 3 * beat)]


@cocotb.test()
async def error_response_is_reported(dut) -> None:
    _, rng = await setup(dut, 7)
    beat = int(dut.DATA_W.value) // 8
    await send(dut, [(LIMIT - BASE + i * beat, bytes(beat)) for i in range(4)], rng, {3})
    await wait_idle(dut)
    assert int(dut.err_resp.value) == 1
