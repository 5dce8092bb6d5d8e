"""A PYNQ stand-in backed by the simulated overlay: the board code path (``Overlay``
loading, ``DefaultIP`` binding by VLNV, MMIO, ``allocate`` with ``flush``/``invalidate``,
``device_address``) runs unchanged against the Verilated RTL.

A buffer from :func:`allocate` lives in this process like PYNQ's cached mapping;
``flush()`` copies it (or the slice it is called on) into the simulator's memory and
``invalidate()`` copies it back, so a driver that forgets either reads stale data here as
it would on the board. The simulated clock runs while the driver waits: in the IP's
``interrupt.wait()`` (PYNQ's ``Interrupt``, until the overlay raises its interrupt) and,
for a driver that polls, a few thousand cycles per register read.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any, ClassVar

import numpy as np

from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.contract import CONTRACT
from plutflow.overlay.ports import SimPort

POLL_CYCLES = 4096  # simulated cycles that pass per register read


def make_pynq(cfg: OverlayConfig, mem_bytes: int = 64 << 20, interrupt: bool = True,
              **sim_options: Any):  # fmt: skip
    """A module object with PYNQ's ``Overlay``, ``DefaultIP``, ``MMIO``, ``Interrupt`` and
    ``allocate``, over one simulated overlay ``cfg`` with ``mem_bytes`` of memory. With
    ``interrupt`` false the IP has no ``interrupt`` attribute (its interrupt pin is not
    connected), so drivers poll."""
    sim = SimPort(cfg, mem_bytes, **sim_options)
    pynq = types.ModuleType("pynq")
    state: dict[str, Any] = {"top": 0, "downloads": 0, "polls": 0, "log": []}
    names = {r.offset: name for name, r in CONTRACT.registers.items()}

    class PynqBuffer(np.ndarray):
        """A contiguous buffer, or a contiguous slice of one."""

        _root: np.ndarray | None = None
        _root_offset = 0

        def __array_finalize__(self, obj: Any) -> None:
            if obj is not None:
                self._root = getattr(obj, "_root", None)
                self._root_offset = getattr(obj, "_root_offset", 0)

        @property
        def offset(self) -> int:
            """Byte offset in the simulator's memory."""
            root = self._root
            start = self.__array_interface__["data"][0]
            return self._root_offset + start - root.__array_interface__["data"][0]

        @property
        def device_address(self) -> int:
            return sim.mem_base + self.offset

        def _bytes(self) -> np.ndarray:
            if not self.flags["C_CONTIGUOUS"]:
                raise ValueError("flush/invalidate need a contiguous buffer")
            return self.view(np.ndarray).reshape(-1).view(np.uint8)

        def flush(self) -> None:
            sim.mem_write(self.offset, self._bytes())

        def invalidate(self) -> None:
            np.copyto(self._bytes(), sim.mem_read(self.offset, self.nbytes))

        def freebuffer(self) -> None:
            pass

    def allocate(shape, dtype=np.uint8, **_: Any) -> PynqBuffer:
        buf = np.zeros(shape, dtype=dtype).view(PynqBuffer)
        at = -(-state["top"] // 4096) * 4096
        if at + buf.nbytes > sim.mem_size:
            raise RuntimeError("not enough contiguous memory (the simulated CMA is full)")
        state["top"] = at + buf.nbytes
        buf._root, buf._root_offset = buf, at
        return buf

    class MMIO:
        def __init__(self, base_addr: int = 0, length: int = 0x100) -> None:
            self.base_addr, self.length = base_addr, length

        def read(self, offset: int, length: int = 4) -> int:
            state["polls"] += 1
            state["log"].append(("read", names.get(offset, hex(offset))))
            if not sim.irq():
                sim.run_until_done(POLL_CYCLES)
            return sim.read(offset)

        def write(self, offset: int, value: int) -> None:
            state["log"].append(("write", names.get(offset, hex(offset)), int(value)))
            sim.write(offset, value)

    class Interrupt:
        """PYNQ's ``Interrupt``: ``await wait()`` returns once the overlay's interrupt is
        raised (here: the simulated clock runs until it is)."""

        def __init__(self, pinname: str = "") -> None:
            self.pinname = pinname

        async def wait(self) -> None:
            state["log"].append(("interrupt", "wait"))
            while not sim.irq():
                sim.run_until_done(200_000)
                await asyncio.sleep(0)

    class DefaultIP:
        bindto: ClassVar[list[str]] = []

        def __init__(self, description: dict) -> None:
            self.description = description
            self.mmio = MMIO()
            if description.get("interrupts"):
                self.interrupt = Interrupt(f"{CONTRACT.ip_instance}/interrupt")

        def read(self, offset: int = 0) -> int:
            return self.mmio.read(offset)

        def write(self, offset: int, value: int) -> None:
            self.mmio.write(offset, value)

    class Overlay:
        def __init__(self, bitfile: str, download: bool = True) -> None:
            self.bitfile = bitfile
            self.ip_dict = {CONTRACT.ip_instance: {
                "type": CONTRACT.vlnv, "phys_addr": 0,
                "interrupts": {"interrupt": {}} if interrupt else {},
            }}  # fmt: skip
            drivers = {v: cls for cls in _subclasses(DefaultIP) for v in cls.bindto}
            driver = drivers.get(CONTRACT.vlnv, DefaultIP)
            setattr(self, CONTRACT.ip_instance, driver(description=self.ip_dict[
                CONTRACT.ip_instance]))  # fmt: skip
            if download:
                self.download()

        def download(self) -> None:
            state["downloads"] += 1
            state["log"].append(("download", self.bitfile))
            sim.reset()

    pynq.Overlay, pynq.DefaultIP, pynq.MMIO, pynq.allocate = Overlay, DefaultIP, MMIO, allocate
    pynq.Interrupt = Interrupt
    pynq.PynqBuffer = PynqBuffer
    pynq.sim = sim
    pynq.state = state
    return pynq


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out
