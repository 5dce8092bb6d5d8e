"""cocotb testbench of pf_ctrl_axil: the HLS-style register map over AXI4-Lite."""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

AP_CTRL, GIE, IER, ISR, ID, VERSION, PE_CONFIG, STATUS = range(0, 0x20, 4)
CYCLES_LO, CYCLES_HI, STALLS_LO, STALLS_HI = range(0x20, 0x30, 4)


async def setup(dut) -> AxiLiteMaster:
    cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())
    dut.ap_done.value = 0
    dut.ap_idle.value = 1
    dut.ap_ready.value = 0
    dut.core_stall.value = 0
    dut.core_compute.value = 0
    dut.core_in_words.value = 0
    dut.core_out_words.value = 0
    dut.core_error.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    return AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)


async def fake_core(
    dut, cycles: int, stall_every: int, error: int, runs: int = 1, patience: int = 10_000
) -> int:
    """Take ap_start, run ``cycles`` cycles (stalled every ``stall_every``-th), finish;
    up to ``runs`` times, giving up when ap_start stays low for ``patience`` cycles.
    Returns the number of runs."""
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
            dut.core_stall.value = int(i % stall_every == 0)
            await FallingEdge(dut.clk)
        dut.core_stall.value = 0
        dut.ap_done.value = 1
        dut.core_error.value = error
        await FallingEdge(dut.clk)
        dut.ap_done.value = 0
        dut.ap_idle.value = 1
    return runs


async def read(m: AxiLiteMaster, addr: int) -> int:
    return int.from_bytes((await m.read(addr, 4)).data, "little")


@cocotb.test()
async def identification_registers(dut) -> None:
    m = await setup(dut)
    assert await read(m, ID) == 0x504C5546
    assert await read(m, VERSION) == int(dut.VERSION.value)
    assert await read(m, PE_CONFIG) == int(dut.PE_CONFIG.value)
    assert await read(m, AP_CTRL) == 0b0100  # idle, not started
    assert await read(m, 0x40) == 0  # unmapped


@cocotb.test()
async def run_done_interrupt_and_counters(dut) -> None:
    m = await setup(dut)
    await m.write(GIE, (1).to_bytes(4, "little"))
    await m.write(IER, (1).to_bytes(4, "little"))
    core = cocotb.start_soon(fake_core(dut, cycles=57, stall_every=4, error=5))
    await m.write(AP_CTRL, (1).to_bytes(4, "little"))
    await core
    assert int(dut.irq.value) == 1
    ctrl = await read(m, AP_CTRL)
    assert ctrl & 0b0110 == 0b0110, hex(ctrl)  # done and idle
    assert ctrl & 1 == 0  # start cleared once the core was ready
    assert (await read(m, AP_CTRL)) & 0b0010 == 0  # done clears on read
    assert await read(m, ISR) == 1
    assert await read(m, CYCLES_LO) == 57 and await read(m, CYCLES_HI) == 0
    assert await read(m, STALLS_LO) == len([i for i in range(56) if i % 4 == 0])
    assert await read(m, STATUS) == 5
    await m.write(ISR, (1).to_bytes(4, "little"))  # toggle-on-write clears it
    assert await read(m, ISR) == 0
    assert int(dut.irq.value) == 0


@cocotb.test()
async def auto_restart_runs_again(dut) -> None:
    m = await setup(dut)
    core = cocotb.start_soon(
        fake_core(dut, cycles=10, stall_every=100, error=0, runs=10, patience=50)
    )
    await m.write(AP_CTRL, (0x81).to_bytes(4, "little"))
    await ClockCycles(dut.clk, 30)
    assert (await read(m, AP_CTRL)) & 0x81 == 0x81  # still started, auto_restart kept
    # clearing auto_restart lets exactly one more run start, then ap_start drops
    await m.write(AP_CTRL, (0).to_bytes(4, "little"))
    runs = await core
    assert 3 <= runs < 10, runs
    assert (await read(m, AP_CTRL)) & 0x81 == 0
