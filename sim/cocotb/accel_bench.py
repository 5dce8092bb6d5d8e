"""Transaction-level driver of ``pf_sim_top`` (the accelerator in its simulation wrapper).

Used by the layer-engine testbench and by the simulator server behind the runtime's
``sim`` transport. Python acts once per packet: it writes the packet into the wrapper's
input memory, starts the player and sleeps until the accelerator's interrupt (or a
timeout); the clock runs in compiled code (cocotb's GPI clock) in between.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, First, RisingEdge, Timer
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

CLOCK_NS = 4  # 250 MHz

# control registers (docs/spec.md section 8)
AP_CTRL, GIE, IER, ISR = 0x00, 0x04, 0x08, 0x0C
ID, VERSION, PE_CONFIG, STATUS = 0x10, 0x14, 0x18, 0x1C
CYCLES_LO, CYCLES_HI, STALLS_LO, STALLS_HI = 0x20, 0x24, 0x28, 0x2C
BUF_CONFIG, COMPUTE = 0x30, 0x34


@dataclass
class RunResult:
    """What one packet run produced."""

    out: np.ndarray  # uint64 words of the output packet
    status: int
    cycles: int
    compute: int
    stalls: int
    in_sent: int  # input words the accelerator accepted
    out_last_at: int  # index of the output word that carried TLAST (-1: none)
    done: bool  # the run ended (interrupt) before the timeout
    wall_cycles: int  # simulated cycles from start to done


class AccelBench:
    def __init__(self, dut) -> None:
        self.dut = dut
        self.data_w = int(dut.DATA_W.value)
        self.lanes = self.data_w // 64
        self.axil: AxiLiteMaster | None = None

    async def start(self) -> None:
        """Clock, reset, the AXI4-Lite master; interrupts enabled for ap_done."""
        dut = self.dut
        Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
        for sig in (
            "play",
            "clear_out",
            "in_len",
            "valid_gap",
            "ready_gap",
            "load_mem",
            "dump_mem",
        ):
            getattr(dut, sig).value = 0
        dut.last_at.value = 0xFFFFFFFF
        dut.bad_keep_at.value = 0xFFFFFFFF
        self.axil = AxiLiteMaster(
            AxiLiteBus.from_prefix(dut, "s_axi_control"),
            dut.clk,
            dut.rst_n,
            reset_active_level=False,
        )
        logging.getLogger("cocotb.pf_sim_top.s_axi_control").setLevel(logging.WARNING)
        await self.reset()

    async def reset(self, cycles: int = 4) -> None:
        self.dut.rst_n.value = 0
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst_n.value = 1
        await ClockCycles(self.dut.clk, 2)
        await self.write(GIE, 1)
        await self.write(IER, 1)

    async def read(self, addr: int) -> int:
        return int.from_bytes((await self.axil.read(addr, 4)).data, "little")

    async def write(self, addr: int, value: int) -> None:
        await self.axil.write(addr, int(value).to_bytes(4, "little"))

    async def load(self, words: np.ndarray) -> int:
        """Write a packet (uint64 words, low half of a 128-bit word first) into the input
        memory in one bulk load; returns its length in stream words."""
        w = np.asarray(words, dtype=np.uint64).reshape(-1, self.lanes)
        if self.lanes == 1:
            text = "\n".join(f"{v:016x}" for v in w[:, 0].tolist())
        else:
            text = "\n".join(f"{hi:016x}{lo:016x}" for lo, hi in w.tolist())
        Path("pf_in_mem.hex").write_text(text + "\n")
        self.dut.load_mem.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.load_mem.value = 0
        await FallingEdge(self.dut.clk)
        return w.shape[0]

    async def fetch(self, count: int) -> np.ndarray:
        """The first ``count`` captured output words, as uint64 words (one bulk dump)."""
        if count == 0:
            return np.zeros(0, dtype=np.uint64)
        self.dut.dump_mem.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.dump_mem.value = 0
        await FallingEdge(self.dut.clk)
        lines = [
            ln
            for ln in Path("pf_out_mem.hex").read_text().split()
            if not ln.startswith(("//", "@"))
        ]
        vals = [int(ln, 16) for ln in lines[:count]]
        if self.lanes == 1:
            return np.array(vals, dtype=np.uint64)
        mask = (1 << 64) - 1
        return np.array([[v & mask, v >> 64] for v in vals], dtype=np.uint64).reshape(-1)

    async def transfer(
        self,
        words: np.ndarray,
        valid_gap: int = 0,
        ready_gap: int = 0,
        last_at: int | None = None,
        bad_keep_at: int | None = None,
        truncate: int | None = None,
        timeout_cycles: int = 5_000_000,
    ) -> tuple[bool, int]:
        """Stream ``words`` in (the accelerator must have been started) and capture the
        output until the interrupt (ap_done) or ``timeout_cycles``. ``last_at`` /
        ``bad_keep_at`` misplace TLAST or send a partial TKEEP; ``truncate`` sends only
        that many words. Returns (done, simulated cycles)."""
        dut = self.dut
        t0 = time.perf_counter()
        n = await self.load(words)
        self.t_load = time.perf_counter() - t0
        sent = n if truncate is None else truncate
        dut.in_len.value = sent
        dut.last_at.value = (n - 1) if last_at is None else last_at
        dut.bad_keep_at.value = 0xFFFFFFFF if bad_keep_at is None else bad_keep_at
        dut.valid_gap.value = valid_gap
        dut.ready_gap.value = ready_gap
        dut.clear_out.value = 1
        dut.play.value = 1
        start = int(dut.cycle.value)
        await RisingEdge(dut.clk)
        dut.clear_out.value = 0
        dut.play.value = 0
        t0 = time.perf_counter()
        if int(dut.interrupt.value):
            done = True
        else:
            irq = RisingEdge(dut.interrupt)
            limit = Timer(timeout_cycles * CLOCK_NS, unit="ns")
            done = (await First(irq, limit)) is irq
        self.t_sim = time.perf_counter() - t0
        return done, int(dut.cycle.value) - start

    async def run(self, words: np.ndarray, out_words: int = 0, **kw) -> RunResult:
        """A whole run as the driver does it: start, stream, wait, read the status."""
        dut = self.dut
        await self.write(AP_CTRL, 1)
        done, cycles = await self.transfer(words, **kw)
        await self.write(ISR, 1)
        await self.read(AP_CTRL)  # clears ap_done
        count = int(dut.out_count.value)
        last = int(dut.out_last_at.value)
        return RunResult(
            out=await self.fetch(count),
            status=await self.read(STATUS),
            cycles=await self.read(CYCLES_LO) | await self.read(CYCLES_HI) << 32,
            compute=await self.read(COMPUTE),
            stalls=await self.read(STALLS_LO),
            in_sent=int(dut.in_sent.value),
            out_last_at=-1 if last == 0xFFFFFFFF else last,
            done=done,
            wall_cycles=cycles,
        )
