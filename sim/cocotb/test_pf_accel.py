"""cocotb testbench of the whole accelerator (pf_accel) with cocotbext-axi's AXI RAM on its
m_axi port, random backpressure on every channel: random programs (every descriptor kind
and flag, chained tiles, bank reuse, partial sums, barriers) leave the memory exactly as
the emulator does; malformed programs end in their STATUS with the failing descriptor and
offset; a run after an error is exact again.

Environment: PLUTFLOW_CASES (random programs), PLUTFLOW_SEED, PLUTFLOW_TILES.
"""

from __future__ import annotations

import logging
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam
from progen import Builder, random_case
from tb_common import CLOCK_NS

from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.contract import CONTRACT
from plutflow.overlay.program import Descriptor, encode

BASE = 0x0040_0000  # bus address of the memory window
R = CONTRACT.reg
E = {name: code for code, (name, _) in CONTRACT.errors.items()}


def overlay_config(dut) -> OverlayConfig:
    pe = {v: k for k, v in CONTRACT.pe_types.items()}[int(dut.PE_TYPE.value)]
    return OverlayConfig(
        pe_type=pe,
        p=int(dut.P.value),
        wbits=int(dut.WBITS.value),
        b2=int(dut.B2.value),
        abits=int(dut.ABITS.value),
        int8_path=int(dut.INT8_PATH.value) if pe != "int8" else 1,
        adepth=int(dut.ADEPTH.value),
        wdepth=int(dut.WDEPTH.value),
        mdepth=int(dut.MDEPTH.value),
        pdepth=int(dut.PDEPTH.value),
        tslots=int(dut.TSLOTS.value),
    )


def pauses(rng: random.Random, p: float):
    while True:
        yield rng.random() < p


class Bench:
    def __init__(self, dut, size: int = 1 << 21) -> None:
        self.dut = dut
        self.size = size
        self.cfg = overlay_config(dut)

    async def start(self, seed: int = 1) -> None:
        dut = self.dut
        Clock(dut.ap_clk, CLOCK_NS, unit="ns").start()
        dut.ap_rst_n.value = 0
        self.ram = AxiRam(
            AxiBus.from_prefix(dut, "m_axi_gmem"), dut.ap_clk, dut.ap_rst_n,
            reset_active_level=False, size=BASE + self.size,
        )  # fmt: skip
        self.axil = AxiLiteMaster(
            AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk, dut.ap_rst_n,
            reset_active_level=False,
        )  # fmt: skip
        logging.getLogger("cocotb.pf_accel.s_axi_control").setLevel(logging.WARNING)
        logging.getLogger("cocotb.pf_accel.m_axi_gmem").setLevel(logging.WARNING)
        self.rng = random.Random(seed)
        self.ar_log: list[tuple[int, int]] = []
        self.r_beats = 0
        cocotb.start_soon(self._monitor())
        await ClockCycles(dut.ap_clk, 4)
        dut.ap_rst_n.value = 1
        await ClockCycles(dut.ap_clk, 2)
        await self.write("GIE", 1)
        await self.write("IER", 1)

    def backpressure(self, p: float) -> None:
        ram = self.ram
        for ch in (ram.read_if.ar_channel, ram.read_if.r_channel, ram.write_if.aw_channel,
                   ram.write_if.w_channel, ram.write_if.b_channel):  # fmt: skip
            if p:
                ch.set_pause_generator(pauses(self.rng, p))
            else:
                ch.clear_pause_generator()
                ch.pause = False  # clearing the generator keeps its last value

    async def read(self, name: str) -> int:
        return int.from_bytes((await self.axil.read(R(name), 4)).data, "little")

    async def write(self, name: str, value: int) -> None:
        await self.axil.write(R(name), int(value).to_bytes(4, "little"))

    async def _monitor(self) -> None:
        """Keep the read bursts (offset, beats) and count read beats, for hang reports."""
        dut = self.dut
        while True:
            await RisingEdge(dut.ap_clk)
            if int(dut.m_axi_gmem_arvalid.value) and int(dut.m_axi_gmem_arready.value):
                self.ar_log.append(
                    (int(dut.m_axi_gmem_araddr.value) - BASE, int(dut.m_axi_gmem_arlen.value) + 1)
                )
                self.ar_log = self.ar_log[-12:]
            if int(dut.m_axi_gmem_rvalid.value) and int(dut.m_axi_gmem_rready.value):
                self.r_beats += 1

    def state(self) -> str:
        """Where the engine stands (for a hang report)."""
        e = self.dut.engine
        names = {"est": (e, "est"), "loader": (e.ld, "state"), "idx": (e.ld, "idx"),
                 "k_sec": (e.ld, "k_sec"), "k_cnt": (e.ld, "k_cnt"), "g_act": (e.ld, "g_act"),
                 "s_busy": (e.ld, "s_busy"), "c_busy": (e, "c_busy"), "seq": (e.seq, "run"),
                 "inflight": (e, "inflight"), "wr_idle": (e, "wr_idle"),
                 "rd_busy": (e, "rd_busy")}  # fmt: skip
        parts = []
        for k, (obj, attr) in names.items():
            try:
                parts.append(f"{k}={int(getattr(obj, attr).value)}")
            except (AttributeError, ValueError):
                parts.append(f"{k}=?")
        return f"{', '.join(parts)}; last read bursts {self.ar_log}, {self.r_beats} read beats"

    async def run(self, mem: np.ndarray, prog_addr: int, count: int, limit: int = 2_000_000):
        """Load the window, run the program, return (registers, window after)."""
        self.ram.write(BASE, mem.tobytes())
        await self.write("MEM_BASE_LO", BASE)
        await self.write("MEM_BASE_HI", 0)
        await self.write("MEM_SIZE", mem.size)
        await self.write("PROG_ADDR", prog_addr)
        await self.write("PROG_COUNT", count)
        await self.write("AP_CTRL", 1)
        irq = RisingEdge(self.dut.interrupt)
        if not int(self.dut.interrupt.value):
            res = await First(irq, Timer(limit * CLOCK_NS, unit="ns"))
            assert res is irq, f"no ap_done within {limit} cycles: {self.state()}"
        await self.write("ISR", 1)
        regs = {n: await self.read(n) for n in (
            "AP_CTRL", "STATUS", "CUR_DESC", "DONE_DESC", "ERR_ADDR", "CYCLES_LO",
            "RD_BYTES_LO", "WR_BYTES_LO", "COMPUTE_LO", "STALLS_LO")}  # fmt: skip
        after = np.frombuffer(self.ram.read(BASE, mem.size), np.uint8).copy()
        return regs, after


@cocotb.test()
async def identification(dut) -> None:
    tb = Bench(dut)
    await tb.start()
    regs = tb.cfg.registers()
    assert await tb.read("ID") == CONTRACT.id
    assert await tb.read("VERSION") == CONTRACT.version
    for name, value in regs.items():
        assert await tb.read(name) == value, name
    assert OverlayConfig.from_registers(*regs.values()) == tb.cfg


@cocotb.test()
async def random_programs(dut) -> None:
    seed = int(os.environ.get("PLUTFLOW_SEED", "1"))
    tb = Bench(dut)
    await tb.start(seed)
    rng = np.random.default_rng(seed)
    cases = int(os.environ.get("PLUTFLOW_CASES", "6"))
    tiles = int(os.environ.get("PLUTFLOW_TILES", "5"))
    for i in range(cases):
        tb.backpressure(0.0 if i % 3 == 0 else 0.3)
        case = random_case(tb.cfg, rng, tiles)
        regs, after = await tb.run(case.mem, case.prog_addr, case.count)
        kinds = [d.kind for d in case.descs]
        assert regs["STATUS"] == 0, f"case {i} {kinds}: STATUS {regs['STATUS']:#x} {regs}"
        assert regs["DONE_DESC"] == case.count, regs
        bad = case.mismatch(after)
        assert bad is None, f"case {i} {kinds}: {bad}"
        assert regs["WR_BYTES_LO"] > 0 and regs["RD_BYTES_LO"] > 0
        dut._log.info("case %d %s: %d cycles", i, kinds, regs["CYCLES_LO"])


def _bad_case(tb: Bench, how: str):
    """A three-tile program whose second descriptor is broken ``how``; returns the case,
    the expected STATUS code and ERR_ADDR (None: any)."""
    b = Builder(tb.cfg, np.random.default_rng(5))
    for kind in ("COPY", "ADD", "MAXPOOL"):
        b.random_tile(kind)
    d: Descriptor = b.descs[1]
    expect_addr = None
    if how == "outside":  # operand B beyond the window
        d.values["B_ADDR"] = (b.mem.size - tb.cfg.p) // tb.cfg.p * tb.cfg.p
        expect_addr = d.values["B_ADDR"]
        code = E["ADDR"]
    elif how == "size":
        d.values["IH"] = d.values["IW"] = 255
        d.values["PAD_T"] = d.values["PAD_L"] = 0
        code = E["SIZE"]
    elif how == "format":
        d.values["KH"] = 0
        code = E["FORMAT"]
    else:
        code = E[how]
    case = b.finish() if how not in ("outside", "size", "format") else _unchecked(b)
    if how in ("MAGIC", "KIND"):  # corrupt the encoded words themselves
        at = case.prog_addr + 128
        word = 0  # MAGIC and KIND share word 0
        raw = case.mem[at + 4 * word : at + 4 * word + 4].view("<u4")
        raw[0] = (
            (int(raw[0]) ^ 0xFFFF) if how == "MAGIC" else (int(raw[0]) & ~(0xF << 16)) | (0xF << 16)
        )
        expect_addr = case.prog_addr + 128
    return case, code, expect_addr


def _unchecked(b: Builder):
    """The builder's program without running the emulator (it would refuse it)."""
    prog = encode(b.descs)
    b.mem[b.prog_addr : b.prog_addr + len(prog)] = np.frombuffer(prog, np.uint8)
    from progen import Case

    return Case(b.cfg, b.mem.copy(), b.prog_addr, b.descs)


@cocotb.test()
async def errors_then_recovery(dut) -> None:
    """Each broken program stops at its second descriptor with the right STATUS, CUR_DESC
    and ERR_ADDR; a good program afterwards is exact."""
    tb = Bench(dut)
    await tb.start(9)
    for how in ("MAGIC", "KIND", "format", "size", "outside"):
        case, code, addr = _bad_case(tb, how)
        regs, _ = await tb.run(case.mem, case.prog_addr, case.count)
        assert regs["STATUS"] & 0xFF == code, f"{how}: STATUS {regs['STATUS']:#x}"
        assert regs["CUR_DESC"] == 1, f"{how}: CUR_DESC {regs['CUR_DESC']}"
        assert regs["DONE_DESC"] <= 1
        if addr is not None:
            assert regs["ERR_ADDR"] == addr, f"{how}: ERR_ADDR {regs['ERR_ADDR']:#x}"
    # the program range itself outside the window
    case = random_case(tb.cfg, np.random.default_rng(3), 2)
    regs, _ = await tb.run(case.mem, case.mem.size - 128, 2)
    assert regs["STATUS"] == (E["ADDR"] | 1 << 8), hex(regs["STATUS"])  # unit: fetch
    case = random_case(tb.cfg, np.random.default_rng(4), 3)
    regs, after = await tb.run(case.mem, case.prog_addr, case.count)
    assert regs["STATUS"] == 0 and case.mismatch(after) is None


@cocotb.test()
async def memory_error_and_timeout(dut) -> None:
    """A read error response ends the run with RRESP; a memory that stops answering ends
    it with TIMEOUT (TIMEOUT register shortened) instead of hanging."""
    tb = Bench(dut)
    await tb.start(11)
    case = random_case(tb.cfg, np.random.default_rng(6), 2)

    async def failing(address, length):
        raise IndexError(address)

    good = tb.ram.read_if._read
    tb.ram.read_if._read = failing
    regs, _ = await tb.run(case.mem, case.prog_addr, case.count)
    tb.ram.read_if._read = good
    assert regs["STATUS"] & 0xFF == E["RRESP"], hex(regs["STATUS"])
    await tb.write("TIMEOUT", 2000)
    tb.ram.read_if.r_channel.set_pause_generator(iter(lambda: True, None))  # never a beat
    regs, _ = await tb.run(case.mem, case.prog_addr, case.count, limit=100_000)
    assert regs["STATUS"] & 0xFF == E["TIMEOUT"], hex(regs["STATUS"])
    tb.ram.read_if.r_channel.clear_pause_generator()
    tb.ram.read_if.r_channel.pause = False
    await tb.write("TIMEOUT", 1 << 24)
    await ClockCycles(dut.ap_clk, 50)
