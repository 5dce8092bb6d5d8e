"""The overlay on a PYNQ board (KV260): the driver class PYNQ binds by VLNV, and the
port it runs over (PYNQ MMIO for the registers, one ``pynq.allocate`` buffer as the
memory window).

    ol = pynq.Overlay("plutflow.bit")        # PlutflowOverlay is bound by its VLNV
    ip = ol.pf_accel_0                        # an instance of overlay_ip_class(pynq)
    ip.attach(mem_bytes=64 << 20)             # the memory window
    ip.identify()                             # ID, version and build parameters

Waits poll the interrupt status register (ISR is not cleared by reading, unlike
AP_CTRL's ap_done) or, when PYNQ exposes the IP's interrupt, await it; both with a
deadline. After a timeout the bitstream is loaded again, which resets the overlay.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from plutflow.errors import PlutflowError
from plutflow.overlay.contract import CONTRACT
from plutflow.overlay.driver import OverlayControl
from plutflow.overlay.ports import Port, PortError

R = CONTRACT.reg


def import_pynq(module: ModuleType | None = None) -> ModuleType:
    """The ``pynq`` module (or a stand-in), with a clear error where it is missing."""
    if module is not None:
        return module
    try:
        return importlib.import_module("pynq")
    except ImportError as exc:
        raise PlutflowError(
            "the pynq backend runs on a PYNQ board (pip install plutflow[board]); on a host "
            "use the sim backend (--backend sim, or PLUTFLOW_BACKEND=sim in a notebook)"
        ) from exc


class PynqPort(Port):
    """Registers through the IP's MMIO, memory through one contiguous buffer."""

    name = "pynq"

    def __init__(self, ip: Any, pynq: ModuleType, mem_bytes: int, overlay: Any = None):
        self.ip, self.pynq, self.overlay = ip, pynq, overlay
        try:
            self.buf = pynq.allocate(shape=(int(mem_bytes),), dtype=np.uint8)
        except Exception as exc:  # PYNQ raises RuntimeError/MemoryError/CMA errors
            raise PortError(f"pynq.allocate of {mem_bytes} bytes failed: {exc}") from exc
        self.mem_base = int(self.buf.device_address)
        if self.mem_base % 4096:
            raise PortError(f"the buffer at 0x{self.mem_base:x} is not 4 KB aligned")

    @property
    def mem_size(self) -> int:
        return int(self.buf.size)

    def read(self, offset: int) -> int:
        return int(self.ip.read(offset))

    def write(self, offset: int, value: int) -> None:
        self.ip.write(offset, int(value) & 0xFFFFFFFF)

    def mem_write(self, offset: int, data: bytes | np.ndarray) -> None:
        raw = (
            np.frombuffer(bytes(data), np.uint8)
            if isinstance(data, bytes | bytearray)
            else (np.ascontiguousarray(data).view(np.uint8).reshape(-1))
        )
        if offset + raw.size > self.mem_size:
            raise PortError(f"write of {raw.size} bytes at 0x{offset:x} outside the window")
        view = self.buf[offset : offset + raw.size]
        view[:] = raw
        view.flush()  # the slice only: PYNQ flushes a view's own range

    def mem_read(self, offset: int, n: int) -> np.ndarray:
        if offset + n > self.mem_size:
            raise PortError(f"read of {n} bytes at 0x{offset:x} outside the window")
        view = self.buf[offset : offset + n]
        view.invalidate()
        return np.array(view, dtype=np.uint8)

    def wait(self, deadline: float) -> bool:
        irq = getattr(self.ip, "interrupt", None)
        if irq is not None and hasattr(irq, "wait"):
            left = max(deadline - time.monotonic(), 0.0)
            try:
                asyncio.run(asyncio.wait_for(irq.wait(), left))
            except (TimeoutError, asyncio.TimeoutError):
                return bool(self.read(R("ISR")) & 1)
            return True
        while not self.read(R("ISR")) & 1:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0002)
        return True

    def reset(self) -> None:
        """Load the bitstream again (the overlay's only reset from the PS side)."""
        if self.overlay is not None and hasattr(self.overlay, "download"):
            self.overlay.download()

    def close(self) -> None:
        buf, self.buf = self.buf, None
        if buf is not None and hasattr(buf, "freebuffer"):
            buf.freebuffer()


_CLASSES: dict[int, type] = {}


def overlay_ip_class(pynq: ModuleType) -> type:
    """The ``DefaultIP`` subclass bound to the overlay's VLNV (created once per pynq
    module, before the overlay is loaded, so PYNQ binds it): it owns the protocol —
    attach a memory window, identify, run a program range with a deadline."""
    key = id(pynq)
    if key in _CLASSES:
        return _CLASSES[key]

    class PlutflowOverlay(pynq.DefaultIP):  # type: ignore[misc, name-defined]
        """plutflow pf_accel (docs/spec.md 8-9)."""

        bindto: ClassVar[list[str]] = [CONTRACT.vlnv]

        def __init__(self, description: dict[str, Any]) -> None:
            super().__init__(description=description)
            self.port: PynqPort | None = None
            self.control: OverlayControl | None = None

        def attach(self, mem_bytes: int, expected=None, overlay=None) -> PynqPort:
            """Allocate the memory window and bind the protocol to it."""
            self.port = PynqPort(self, pynq, mem_bytes, overlay)
            self.control = OverlayControl(self.port, expected)
            return self.port

        def identify(self):
            return self._control().identify()

        def run_program(self, prog_offset: int, count: int, timeout_s: float, describe=None):
            kw = {} if describe is None else {"describe": describe}
            return self._control().run(prog_offset, count, timeout_s, **kw)

        def _control(self) -> OverlayControl:
            if self.control is None:
                raise PlutflowError("attach() the overlay to a memory window first")
            return self.control

    _CLASSES[key] = PlutflowOverlay
    return PlutflowOverlay


def open_board(
    bitfile: str,
    mem_bytes: int,
    expected=None,
    pynq_module: ModuleType | None = None,
    download: bool = True,
) -> PynqPort:
    """Load ``bitfile`` and return the port of its plutflow overlay."""
    pynq = import_pynq(pynq_module)
    overlay_ip_class(pynq)
    try:
        ol = pynq.Overlay(bitfile, download=download)
    except Exception as exc:
        raise PlutflowError(f"cannot load the overlay {bitfile}: {exc}") from exc
    names = [n for n, d in ol.ip_dict.items() if d.get("type") == CONTRACT.vlnv]
    if len(names) != 1:
        raise PlutflowError(
            f"{bitfile}: expected one {CONTRACT.vlnv}, found {names or 'none'} "
            f"(IP in the design: {sorted(ol.ip_dict)})"
        )
    ip = getattr(ol, names[0])
    if not hasattr(ip, "attach"):
        raise PlutflowError(f"{names[0]} was not bound to the plutflow driver (VLNV mismatch)")
    return ip.attach(mem_bytes, expected, ol)
