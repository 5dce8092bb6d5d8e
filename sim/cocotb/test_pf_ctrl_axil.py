"""cocotb testbench of pf_ctrl_axil: the HLS-style register map over AXI4-Lite, offsets
from the contract (plutflow.overlay.contract)."""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from plutflow.overlay.contract import CONTRACT

R = CONTRACT.reg


async def setup(dut) -> AxiLiteMaster:
    cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())
    for sig in ("ap_done", "ap_ready", "ev_stall", "ev_compute", "ev_rd_beat", "ev_wr_beat",
                "core_status", "core_cur_desc", "core_done_desc", "core_err_addr"):  # fmt: skip
        getattr(dut, sig).value = 0
    dut.ap_idle.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    return AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)


async def fake_core(dut, cycles: int, stall_every: int, status: int, runs: int = 1,
                    patience: int = 10_000) -> int:  # fmt: skip
    """Take ap_start, run ``cycles`` cycles (stalled every ``stall_every``-th, a read beat
    every cycle, a write beat every other), finish with ``status``; up to ``runs`` times,
    giving up when ap_start stays low for ``patience`` cycles. Returns the runs."""
    for run in range(runs):
        for _ in range(patience):
            await RisingEdge(dut.clk)
            if int(dut.ap_start.value):
                break
        else:
            return run
        await FallingEdge(dut.clk)
        dut.ap_ready.value = 1
        dut.ap_idle.value = 0
        await FallingEdge(dut.clk)
        dut.ap_ready.value = 0
        for i in range(cycles - 1):
            dut.ev_stall.value = int(i % stall_every == 0)
            dut.ev_rd_beat.value = 1
            dut.ev_wr_beat.value = i % 2
            await FallingEdge(dut.clk)
        dut.ev_stall.value = 0
        dut.ev_rd_beat.value = 0
        dut.ev_wr_beat.value = 0
        dut.ap_done.value = 1
        dut.core_status.value = status
        dut.core_cur_desc.value = 7
        dut.core_err_addr.value = 0x1230
        await FallingEdge(dut.clk)
        dut.ap_done.value = 0
        dut.ap_idle.value = 1
    return runs


async def read(m: AxiLiteMaster, addr: int) -> int:
    return int.from_bytes((await m.read(addr, 4)).data, "little")


@cocotb.test()
async def identification_registers(dut) -> None:
    m = await setup(dut)
    assert await read(m, R("ID")) == CONTRACT.id
    assert await read(m, R("VERSION")) == CONTRACT.version
    assert await read(m, R("PE_CONFIG")) == int(dut.PE_CONFIG.value)
    assert await read(m, R("BUF_CONFIG")) == int(dut.BUF_CONFIG.value)
    assert await read(m, R("AP_CTRL")) == 0b0100  # idle, not started
    assert await read(m, R("TIMEOUT")) == 1 << 24  # its reset value
    assert await read(m, 0xFC) == 0  # unmapped


@cocotb.test()
async def configuration_registers_read_back(dut) -> None:
    m = await setup(dut)
    values = {"PROG_ADDR": 0x1280, "PROG_COUNT": 17, "MEM_BASE_LO": 0x8000_0000,
              "MEM_BASE_HI": 0x8, "MEM_SIZE": 0x0400_0000, "TIMEOUT": 5000}  # fmt: skip
    for name, v in values.items():
        await m.write(R(name), v.to_bytes(4, "little"))
    for name, v in values.items():
        assert await read(m, R(name)) == v, name
    assert int(dut.mem_base.value) == 0x8_8000_0000
    # a write of byte lane 0 only keeps the other bytes
    await m.write(R("PROG_COUNT"), b"\x05")
    assert await read(m, R("PROG_COUNT")) == 5
    await m.write(R("MEM_SIZE") + 1, b"\xff")  # byte 1 of MEM_SIZE
    assert await read(m, R("MEM_SIZE")) == 0x0400_FF00
    # read-only registers ignore writes
    await m.write(R("ID"), (0).to_bytes(4, "little"))
    assert await read(m, R("ID")) == CONTRACT.id


@cocotb.test()
async def run_done_interrupt_and_counters(dut) -> None:
    m = await setup(dut)
    await m.write(R("GIE"), (1).to_bytes(4, "little"))
    await m.write(R("IER"), (1).to_bytes(4, "little"))
    core = cocotb.start_soon(fake_core(dut, cycles=57, stall_every=4, status=0x0206))
    await m.write(R("AP_CTRL"), (1).to_bytes(4, "little"))
    await core
    assert int(dut.irq.value) == 1
    ctrl = await read(m, R("AP_CTRL"))
    assert ctrl & 0b0110 == 0b0110, hex(ctrl)  # done and idle
    assert ctrl & 1 == 0  # start cleared once the core was ready
    assert (await read(m, R("AP_CTRL"))) & 0b0010 == 0  # done clears on read
    assert await read(m, R("ISR")) == 1
    assert await read(m, R("CYCLES_LO")) == 57 and await read(m, R("CYCLES_HI")) == 0
    assert await read(m, R("STALLS_LO")) == len([i for i in range(56) if i % 4 == 0])
    beat = int(dut.BEAT_LOG2.value)
    assert await read(m, R("RD_BYTES_LO")) == 56 << beat
    assert await read(m, R("WR_BYTES_LO")) == 28 << beat
    assert await read(m, R("STATUS")) == 0x0206
    assert await read(m, R("CUR_DESC")) == 7
    assert await read(m, R("ERR_ADDR")) == 0x1230
    await m.write(R("ISR"), (1).to_bytes(4, "little"))  # toggle-on-write clears it
    assert await read(m, R("ISR")) == 0
    assert int(dut.irq.value) == 0


@cocotb.test()
async def auto_restart_runs_again(dut) -> None:
    m = await setup(dut)
    core = cocotb.start_soon(fake_core(dut, cycles=10, stall_every=100, status=0, runs=10,
                                       patience=50))  # fmt: skip
    await m.write(R("AP_CTRL"), (0x81).to_bytes(4, "little"))
    await ClockCycles(dut.clk, 30)
    assert (await read(m, R("AP_CTRL"))) & 0x81 == 0x81  # still started, auto_restart kept
    # clearing auto_restart lets exactly one more run start, then ap_start drops
    await m.write(R("AP_CTRL"), (0).to_bytes(4, "little"))
    runs = await core
    assert 3 <= runs < 10, runs
    assert (await read(m, R("AP_CTRL"))) & 0x81 == 0
