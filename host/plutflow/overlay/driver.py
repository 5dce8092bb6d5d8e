"""The overlay's control protocol (``docs/spec.md`` 8, 9.4): identify, configure the memory
window, run a program range, wait with a deadline, report.

:class:`OverlayControl` speaks it over any :class:`~plutflow.overlay.ports.Port`; on a
board the port is the PYNQ ``DefaultIP`` bound to the accelerator's VLNV
(:mod:`plutflow.overlay.pynq_port`), in simulation the Verilated RTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from plutflow.errors import PlutflowError
from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.contract import CONTRACT
from plutflow.overlay.ports import Port

R = CONTRACT.reg
AP_DONE = 0x2


class OverlayMismatch(PlutflowError):
    """The loaded overlay is not the one the artifact was compiled for."""


class OverlayRunError(PlutflowError):
    """The overlay ended a run with an error status, or did not end it in time."""

    def __init__(self, message: str, status: int = 0, desc: int = -1) -> None:
        super().__init__(message)
        self.status, self.desc = status, desc


@dataclass
class RunStats:
    """The counters of one run (spec 8)."""

    cycles: int = 0
    stalls: int = 0
    compute: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    descriptors: int = 0
    wall_s: float = 0.0

    def add(self, other: RunStats) -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))


def describe_status(status: int) -> str:
    """``STATUS`` as text: the error and the unit that raised it."""
    code, unit = status & 0xFF, (status >> 8) & 0xFF
    where = CONTRACT.units.get(unit, "unit ?")
    return f"{CONTRACT.error_text(code)} ({where} unit, STATUS 0x{status:x})"


class OverlayControl:
    """The protocol of one overlay behind a port."""

    def __init__(self, port: Port, expected: OverlayConfig | None = None) -> None:
        self.port = port
        self.expected = expected
        self.configured = False

    # ---------------------------------------------------------------- identity
    def registers(self) -> dict[str, int]:
        return {n: self.port.read(R(n)) for n in ("ID", "VERSION", "PE_CONFIG", "BUF_CONFIG",
                                                    "BUF_CONFIG2")}  # fmt: skip

    def identify(self) -> OverlayConfig:
        """The overlay's configuration; with ``expected``, a readable diff if it differs."""
        found = self.registers()
        if found["ID"] != CONTRACT.id:
            raise OverlayMismatch(
                f"the loaded design is not a plutflow overlay (ID 0x{found['ID']:08x}, "
                f"expected 0x{CONTRACT.id:08x})"
            )
        if found["VERSION"] >> 16 != CONTRACT.version >> 16:
            raise OverlayMismatch(
                f"overlay version {found['VERSION'] >> 16}.{found['VERSION'] & 0xFFFF}; this "
                f"plutflow drives version {CONTRACT.version >> 16}. Rebuild the bitstream "
                "(make -C overlay_src bitstream) or use a matching plutflow"
            )
        have = OverlayConfig.from_registers(
            found["PE_CONFIG"], found["BUF_CONFIG"], found["BUF_CONFIG2"]
        )
        if self.expected is not None and have != self.expected:
            a, b = self.expected.to_json(), have.to_json()
            lines = [f"  {k}: artifact {a[k]!r}, overlay {b[k]!r}" for k in a if a[k] != b[k]]
            raise OverlayMismatch(
                "the overlay does not match the artifact; refusing to run:\n" + "\n".join(lines)
            )
        return have

    def configure(self) -> None:
        """Identify, then point the overlay at the port's memory window."""
        self.identify()
        p = self.port
        p.write(R("MEM_BASE_LO"), p.mem_base & 0xFFFFFFFF)
        p.write(R("MEM_BASE_HI"), p.mem_base >> 32)
        p.write(R("MEM_SIZE"), p.mem_size)
        p.write(R("GIE"), 1)
        p.write(R("IER"), 1)
        self.configured = True

    # ---------------------------------------------------------------- runs
    def _counter(self, lo: str, hi: str | None = None) -> int:
        v = self.port.read(R(lo))
        return v | (self.port.read(R(hi)) << 32 if hi else 0)

    def run(
        self,
        prog_offset: int,
        count: int,
        timeout_s: float,
        describe: Callable[[int], str] = lambda i: f"descriptor {i}",
    ) -> RunStats:
        """Run ``count`` descriptors at byte ``prog_offset`` of the window; wait for
        ap_done (at most ``timeout_s``); raise OverlayRunError naming the failing
        descriptor (``describe``) and what moved."""
        if not self.configured:
            self.configure()
        p = self.port
        t0 = time.perf_counter()
        p.write(R("PROG_ADDR"), prog_offset)
        p.write(R("PROG_COUNT"), count)
        p.write(R("AP_CTRL"), 1)
        done = p.wait(time.monotonic() + timeout_s)
        wall = time.perf_counter() - t0
        if not done:
            diag = self.diagnosis(describe)
            p.reset()
            self.configured = False
            raise OverlayRunError(
                f"the overlay did not finish within {timeout_s:.1f} s; {diag}; reset it"
            )
        p.write(R("ISR"), 1)
        p.read(R("AP_CTRL"))  # clears ap_done
        status = p.read(R("STATUS"))
        stats = RunStats(
            cycles=self._counter("CYCLES_LO", "CYCLES_HI"),
            stalls=self._counter("STALLS_LO", "STALLS_HI"),
            compute=self._counter("COMPUTE_LO", "COMPUTE_HI"),
            read_bytes=self._counter("RD_BYTES_LO", "RD_BYTES_HI"),
            write_bytes=self._counter("WR_BYTES_LO", "WR_BYTES_HI"),
            descriptors=p.read(R("DONE_DESC")),
            wall_s=wall,
        )
        if status:
            cur = p.read(R("CUR_DESC"))
            addr = p.read(R("ERR_ADDR"))
            # a failed run may leave bursts or the interconnect in a bad state: start the
            # next one from a reset overlay
            p.reset()
            self.configured = False
            raise OverlayRunError(
                f"{describe(cur)}: the overlay reported {describe_status(status)} at offset "
                f"0x{addr:x}; {stats.descriptors} of {count} descriptors done, "
                f"{stats.read_bytes} bytes read, {stats.write_bytes} written; the overlay "
                "was reset",
                status,
                cur,
            )
        return stats

    def diagnosis(self, describe: Callable[[int], str]) -> str:
        """Where a run stands (for a timeout report)."""
        p = self.port
        cur = p.read(R("CUR_DESC"))
        return (
            f"it was at {describe(cur)} with {p.read(R('DONE_DESC'))} descriptors done, "
            f"{self._counter('RD_BYTES_LO', 'RD_BYTES_HI')} bytes read and "
            f"{self._counter('WR_BYTES_LO', 'WR_BYTES_HI')} written, AP_CTRL "
            f"0x{p.read(R('AP_CTRL')):x}"
        )
