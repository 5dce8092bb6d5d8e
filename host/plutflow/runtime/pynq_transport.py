"""Transport ``pynq``: a KV260 (or another PYNQ board) running the plutflow overlay.

``pynq.Overlay`` loads the bitstream (``.bit`` + ``.hwh``); the accelerator is bound by
its VLNV to :func:`accelerator_ip_class` (a ``pynq.DefaultIP`` subclass); packets move
through the AXI DMA in simple mode with buffers from ``pynq.allocate``. Every wait has a
timeout; a timeout reports the decoded DMA status registers (PG021), the bytes moved
against the bytes expected and the accelerator's own status and word counters.
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType
from typing import Any

import numpy as np

from plutflow.runtime import registers as R
from plutflow.runtime.transport import TransferResult, Transport, TransportError

# AXI DMA register offsets and status bits (PG021, simple mode)
MM2S_DMACR, MM2S_DMASR, MM2S_LENGTH = 0x00, 0x04, 0x28
S2MM_DMACR, S2MM_DMASR, S2MM_LENGTH = 0x30, 0x34, 0x58
DMASR_BITS = {
    0: "Halted",
    1: "Idle",
    3: "SGIncld",
    4: "DMAIntErr",
    5: "DMASlvErr",
    6: "DMADecErr",
    12: "IOC_Irq",
    13: "Dly_Irq",
    14: "Err_Irq",
}
DMASR_ERRORS = (1 << 4) | (1 << 5) | (1 << 6)
DMA_VLNV_PREFIX = "xilinx.com:ip:axi_dma:"


def decode_dmasr(value: int) -> str:
    """A DMA status register as its set flag names."""
    names = [n for bit, n in DMASR_BITS.items() if value >> bit & 1]
    return f"0x{value:08x} ({', '.join(names) or 'running'})"


_IP_CLASSES: dict[int, type] = {}


def accelerator_ip_class(pynq: ModuleType) -> type:
    """The ``DefaultIP`` driver bound to the plutflow accelerator's VLNV (created once per
    pynq module, before the overlay is loaded, so PYNQ binds it)."""
    key = id(pynq)
    if key not in _IP_CLASSES:

        def __init__(self, description: dict[str, Any]) -> None:
            pynq.DefaultIP.__init__(self, description=description)

        _IP_CLASSES[key] = type(
            "PlutflowAccelIP",
            (pynq.DefaultIP,),
            {"bindto": [R.VLNV], "__init__": __init__, "__doc__": "plutflow pf_accel"},
        )
    return _IP_CLASSES[key]


class PynqTransport(Transport):
    """The overlay on a PYNQ board."""

    name = "pynq"

    def __init__(
        self,
        bitfile: str,
        timeout_s: float = 5.0,
        pynq_module: ModuleType | None = None,
        download: bool = True,
    ) -> None:
        try:
            pynq = pynq_module or importlib.import_module("pynq")
        except ImportError as exc:
            raise TransportError(
                "the pynq backend runs on a PYNQ board (pip install plutflow[board]); "
                "use --backend sim on a host"
            ) from exc
        self.pynq = pynq
        self.timeout_s = timeout_s
        accelerator_ip_class(pynq)
        self.overlay = pynq.Overlay(bitfile, download=download)
        ips = self.overlay.ip_dict
        accel = [n for n, d in ips.items() if d.get("type") == R.VLNV]
        dmas = [n for n, d in ips.items() if str(d.get("type", "")).startswith(DMA_VLNV_PREFIX)]
        if len(accel) != 1 or len(dmas) != 1:
            raise TransportError(
                f"{bitfile}: expected one {R.VLNV} and one AXI DMA, found "
                f"{accel or 'no accelerator'} and {dmas or 'no DMA'}"
            )
        self.ip = getattr(self.overlay, accel[0])
        self.dma = getattr(self.overlay, dmas[0])
        self._buffers: dict[tuple[str, int], Any] = {}

    def read(self, addr: int) -> int:
        return int(self.ip.read(addr))

    def write(self, addr: int, value: int) -> None:
        self.ip.write(addr, int(value))

    def _buffer(self, kind: str, words: int) -> Any:
        key = (kind, words)
        if key not in self._buffers:
            self._buffers[key] = self.pynq.allocate(shape=(words,), dtype=np.uint64)
        return self._buffers[key]

    def diagnostics(self, sent_bytes: int, recv_bytes: int) -> str:
        """The state of the DMA and the accelerator, for a timeout report."""
        mm2s = self.dma.read(MM2S_DMASR)
        s2mm = self.dma.read(S2MM_DMASR)
        words_in = self.read(R.IN_WORDS)
        words_out = self.read(R.OUT_WORDS)
        width = 8  # bytes per counted word at 64 bits; scaled below for 128-bit overlays
        pe = self.read(R.PE_CONFIG)
        if (pe >> 24) & 0xF:
            width = 16
        return (
            f"MM2S DMASR {decode_dmasr(mm2s)}, S2MM DMASR {decode_dmasr(s2mm)}, "
            f"S2MM_LENGTH {self.dma.read(S2MM_LENGTH)}; "
            f"accelerator took {words_in * width} of {sent_bytes} bytes and sent "
            f"{words_out * width} of {recv_bytes} bytes; AP_CTRL 0x{self.read(R.AP_CTRL):02x}, "
            f"STATUS {self.read(R.STATUS)}, CYCLES {self.read(R.CYCLES_LO)}"
        )

    def _wait(self, channel: Any, label: str, sent: int, recv: int, deadline: float) -> None:
        while not channel.idle:
            if time.monotonic() > deadline:
                raise TransportError(
                    f"DMA {label} timed out after {self.timeout_s:.1f} s: "
                    + self.diagnostics(sent, recv)
                )
            time.sleep(0.0001)

    def transfer(self, send: np.ndarray, recv_words: int, timeout_s: float) -> TransferResult:
        t0 = time.perf_counter()
        inbuf = self._buffer("in", send.size)
        outbuf = self._buffer("out", recv_words)
        inbuf[:] = send
        inbuf.flush()
        sent, recv = send.size * 8, recv_words * 8
        self.dma.recvchannel.transfer(outbuf)
        self.dma.sendchannel.transfer(inbuf)
        deadline = time.monotonic() + min(timeout_s, self.timeout_s)
        self._wait(self.dma.sendchannel, "MM2S (to the accelerator)", sent, recv, deadline)
        self._wait(self.dma.recvchannel, "S2MM (from the accelerator)", sent, recv, deadline)
        for label, reg in (("MM2S", MM2S_DMASR), ("S2MM", S2MM_DMASR)):
            status = self.dma.read(reg)
            if status & DMASR_ERRORS:
                raise TransportError(f"DMA {label} error: {decode_dmasr(status)}")
        outbuf.invalidate()
        got = int(self.dma.read(S2MM_LENGTH)) // 8
        return TransferResult(
            out=np.array(outbuf[:got], dtype=np.uint64),
            sent_words=send.size,
            recv_words=got,
            seconds=time.perf_counter() - t0,
        )

    def reset(self) -> None:
        """Reset both DMA channels (DMACR bit 2) after an error."""
        self.dma.write(MM2S_DMACR, 1 << 2)
        self.dma.write(S2MM_DMACR, 1 << 2)
        self.dma.sendchannel.start()
        self.dma.recvchannel.start()

    def close(self) -> None:
        for buf in self._buffers.values():
            buf.freebuffer()
        self._buffers.clear()
