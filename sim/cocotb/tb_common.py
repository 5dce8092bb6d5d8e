"""Helpers shared by the cocotb testbenches."""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

CLOCK_NS = 4  # 250 MHz


async def start_pipeline(dut) -> None:
    """Start the clock and reset a pipelined module with ``rst``/``en``/``in_valid``;
    returns on a falling edge, ready for the first input."""
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    dut.en.value = 1
    dut.in_valid.value = 0
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)
