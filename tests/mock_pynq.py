"""A mock of the parts of PYNQ the driver uses (``Overlay``, ``DefaultIP`` binding by
VLNV, ``allocate``, the AXI DMA in simple mode) around a scripted plutflow device.

Every register access and DMA call is logged as a tuple, so tests can assert the exact
sequence. The device answers each packet with zeros of the requested size (or with a
``responder``), or never completes its DMA (``stall=True``) to exercise timeouts.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from plutflow.formats.accel import OverlayConfig
from plutflow.runtime import registers as R
from plutflow.runtime.pynq_transport import MM2S_DMASR, S2MM_DMASR, S2MM_LENGTH

REG_NAMES = {v: k for k, v in R.overlay_spec()["registers"].items()}
DMA_NAMES = {
    MM2S_DMASR: "MM2S_DMASR",
    S2MM_DMASR: "S2MM_DMASR",
    S2MM_LENGTH: "S2MM_LENGTH",
    0x00: "MM2S_DMACR",
    0x30: "S2MM_DMACR",
}


class MockBuffer(np.ndarray):
    def flush(self) -> None:
        pass

    def invalidate(self) -> None:
        pass

    def freebuffer(self) -> None:
        pass


class Device:
    """The scripted accelerator + DMA behind the mock."""

    def __init__(
        self,
        overlay: OverlayConfig,
        stall: bool = False,
        responder: Callable[[np.ndarray, int], np.ndarray] | None = None,
        status: int = 0,
    ) -> None:
        pe, buf = overlay.registers()
        self.regs = {
            R.ID: R.ID_VALUE,
            R.VERSION: R.VERSION_VALUE,
            R.PE_CONFIG: pe,
            R.BUF_CONFIG: buf,
            R.STATUS: 0,
            R.CYCLES_LO: 0,
            R.COMPUTE: 0,
            R.IN_WORDS: 0,
            R.OUT_WORDS: 0,
        }
        self.log: list[tuple] = []
        self.stall, self.responder, self.status = stall, responder, status
        self.started = self.done = False
        self.send: np.ndarray | None = None
        self.recv: np.ndarray | None = None
        self.recv_bytes = 0

    def reg_read(self, off: int) -> int:
        if off == R.AP_CTRL:
            value = (0x2 if self.done else 0) | (0x4 if not self.started else 0)
            self.done = False
        else:
            value = self.regs.get(off, 0)
        self.log.append(("read", REG_NAMES.get(off, hex(off))))
        return value

    def reg_write(self, off: int, value: int) -> None:
        self.log.append(("write", REG_NAMES.get(off, hex(off)), value))
        if off == R.AP_CTRL and value & 1:
            self.started, self.done = True, False

    def dma_transfer(self, channel: str, buf: np.ndarray) -> None:
        self.log.append(("dma", channel, "transfer", buf.nbytes))
        if channel == "send":
            self.send = buf
        else:
            self.recv = buf
        if self.send is not None and self.recv is not None and not self.stall:
            out = (
                self.responder(np.array(self.send), self.recv.size)
                if self.responder
                else np.zeros(self.recv.size, np.uint64)
            )
            self.recv[: out.size] = out
            self.recv_bytes = out.size * 8
            self.regs[R.STATUS] = self.status
            self.regs[R.CYCLES_LO] = 1000
            self.regs[R.IN_WORDS] = self.send.size
            self.regs[R.OUT_WORDS] = out.size
            self.send = self.recv = None
            self.started, self.done = False, True

    def idle(self, channel: str) -> bool:
        return not self.stall

    def dma_read(self, off: int) -> int:
        self.log.append(("dma", "read", DMA_NAMES.get(off, hex(off))))
        if off in (MM2S_DMASR, S2MM_DMASR):
            return 0x2 if not self.stall else 0x0  # Idle, or running
        if off == S2MM_LENGTH:
            return self.recv_bytes
        return 0

    def dma_write(self, off: int, value: int) -> None:
        self.log.append(("dma", "write", DMA_NAMES.get(off, hex(off)), value))


def make_pynq(device: Device, dma_type: str = "xilinx.com:ip:axi_dma:7.1") -> types.ModuleType:
    """A module object standing in for ``pynq``."""
    pynq = types.ModuleType("pynq")

    class DefaultIP:
        bindto: ClassVar[list[str]] = []

        def __init__(self, description: dict) -> None:
            self.description = description

        def read(self, offset: int) -> int:
            return device.reg_read(offset)

        def write(self, offset: int, value: int) -> None:
            device.reg_write(offset, value)

    class Channel:
        def __init__(self, name: str) -> None:
            self.name = name

        def transfer(self, buf: np.ndarray) -> None:
            device.dma_transfer(self.name, buf)

        @property
        def idle(self) -> bool:
            return device.idle(self.name)

        def start(self) -> None:
            device.log.append(("dma", self.name, "start"))

    class DMA:
        def __init__(self) -> None:
            self.sendchannel, self.recvchannel = Channel("send"), Channel("recv")

        def read(self, offset: int) -> int:
            return device.dma_read(offset)

        def write(self, offset: int, value: int) -> None:
            device.dma_write(offset, value)

    class Overlay:
        def __init__(self, bitfile: str, download: bool = True) -> None:
            device.log.append(("overlay", bitfile))
            self.ip_dict = {
                R.overlay_spec()["ip_instance"]: {"type": R.VLNV},
                R.overlay_spec()["dma_instance"]: {"type": dma_type},
            }
            # PYNQ binds the DefaultIP subclass whose bindto lists the IP's VLNV
            drivers = {v: cls for cls in DefaultIP.__subclasses__() for v in cls.bindto}
            for name, desc in self.ip_dict.items():
                if desc["type"] == R.VLNV:
                    driver = drivers.get(R.VLNV, DefaultIP)
                    setattr(self, name, driver(description=desc))
                else:
                    setattr(self, name, DMA())

    def allocate(shape, dtype) -> MockBuffer:
        return np.zeros(shape, dtype=dtype).view(MockBuffer)

    pynq.DefaultIP, pynq.Overlay, pynq.allocate = DefaultIP, Overlay, allocate
    return pynq
