"""Ports: what the driver needs from a target — 32-bit register access, a memory window
the overlay reads and writes, and a way to wait for the end of a run.

* :class:`SimPort`: the RTL, Verilated into a shared library with its memory model
  (``sim/cpp/pf_sim.cpp``), driven in this process through ctypes.
* :class:`EmulatorPort`: the executable specification (:mod:`plutflow.overlay.emulator`)
  behind the same register map — no cycles, for fast checks of compiler and driver.
* the board: :class:`plutflow.overlay.pynq_port.PynqPort` (PYNQ MMIO and ``allocate``).
"""

from __future__ import annotations

import ctypes
import time
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from plutflow.errors import PlutflowError
from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.contract import CONTRACT

R = CONTRACT.reg


class PortError(PlutflowError):
    """The target failed: it cannot be built or loaded, or it stopped answering."""


class Port(ABC):
    """A target: registers, a memory window and a wait."""

    name = "port"

    #: bus address of the memory window (what MEM_BASE must hold)
    mem_base: int = 0

    @property
    @abstractmethod
    def mem_size(self) -> int:
        """Bytes in the memory window."""

    @abstractmethod
    def read(self, offset: int) -> int: ...

    @abstractmethod
    def write(self, offset: int, value: int) -> None: ...

    @abstractmethod
    def mem_write(self, offset: int, data: bytes | np.ndarray) -> None: ...

    @abstractmethod
    def mem_read(self, offset: int, n: int) -> np.ndarray:
        """``n`` bytes of the window as uint8."""

    @abstractmethod
    def wait(self, deadline: float) -> bool:
        """Wait until the running program ends (ap_done / the interrupt) or the
        ``time.monotonic()`` deadline passes; True when it ended."""

    def reset(self) -> None:  # noqa: B027 - optional
        """Reset the overlay (after a timeout or a failed run)."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release the target."""

    def cycles(self) -> int | None:
        """Simulated clock cycles so far (simulators only)."""
        return None

    def __enter__(self) -> Port:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- simulator
SIM_BASE = 0x1_0000_0000  # the simulated window's bus address (exercises MEM_BASE_HI)


class SimPort(Port):
    """The Verilated overlay in this process.

    ``latency`` is the memory model's read latency in cycles and ``gap`` the probability
    (per mille) that a read beat or write ready pauses a cycle: ``1 - gap/1000`` is the
    modelled memory efficiency.
    """

    name = "sim"

    def __init__(
        self,
        cfg: OverlayConfig,
        mem_bytes: int,
        latency: int = 40,
        gap: int = 0,
        seed: int = 1,
        progress: bool = False,
        lib: Path | None = None,
    ) -> None:
        from plutflow.overlay.simbuild import build_library

        self.cfg = cfg
        path = lib or build_library(cfg, progress=progress)
        try:
            self._lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise PortError(f"cannot load the simulator {path}: {exc}") from exc
        L = self._lib
        v, u32, u64 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64
        L.pf_sim_new.restype = v
        L.pf_sim_new.argtypes = [u64, u64, u32, u32, u32]
        L.pf_sim_free.argtypes = [v]
        L.pf_sim_reset.argtypes = [v]
        L.pf_sim_reg_read.restype = u32
        L.pf_sim_reg_read.argtypes = [v, u32]
        L.pf_sim_reg_write.argtypes = [v, u32, u32]
        L.pf_sim_mem_write.restype = ctypes.c_int
        L.pf_sim_mem_write.argtypes = [v, u64, ctypes.c_void_p, u64]
        L.pf_sim_mem_read.restype = ctypes.c_int
        L.pf_sim_mem_read.argtypes = [v, u64, ctypes.c_void_p, u64]
        L.pf_sim_run.restype = u64
        L.pf_sim_run.argtypes = [v, u64]
        L.pf_sim_irq.restype = ctypes.c_int
        L.pf_sim_irq.argtypes = [v]
        L.pf_sim_cycles.restype = u64
        L.pf_sim_cycles.argtypes = [v]
        L.pf_sim_set_memory_model.argtypes = [v, u32, u32]
        self._size = int(mem_bytes)
        self.mem_base = SIM_BASE
        self._h = L.pf_sim_new(self._size, SIM_BASE, latency, gap, seed)
        if not self._h:
            raise PortError("the simulator could not be created")
        self.run_cycles = 0  # cycles clocked in run loops (wait)
        self.run_seconds = 0.0  # wall and process CPU time inside those loops
        self.run_cpu_seconds = 0.0

    @property
    def mem_size(self) -> int:
        return self._size

    def _live(self) -> ctypes.c_void_p:
        if self._h is None:
            raise PortError("the simulator is closed")
        return self._h

    def read(self, offset: int) -> int:
        return int(self._lib.pf_sim_reg_read(self._live(), offset))

    def write(self, offset: int, value: int) -> None:
        self._lib.pf_sim_reg_write(self._live(), offset, int(value) & 0xFFFFFFFF)

    def mem_write(self, offset: int, data: bytes | np.ndarray) -> None:
        buf = np.ascontiguousarray(
            np.frombuffer(bytes(data), np.uint8) if isinstance(data, bytes | bytearray) else data
        )
        raw = buf.view(np.uint8)
        if self._lib.pf_sim_mem_write(self._live(), offset, raw.ctypes.data, raw.nbytes):
            raise PortError(f"write of {raw.nbytes} bytes at 0x{offset:x} outside the window")

    def mem_read(self, offset: int, n: int) -> np.ndarray:
        out = np.empty(n, np.uint8)
        if self._lib.pf_sim_mem_read(self._live(), offset, out.ctypes.data, n):
            raise PortError(f"read of {n} bytes at 0x{offset:x} outside the window")
        return out

    def wait(self, deadline: float, chunk: int = 200_000) -> bool:
        h = self._live()
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            while not self._lib.pf_sim_irq(h):
                self.run_cycles += int(self._lib.pf_sim_run(h, chunk))
                if self._lib.pf_sim_irq(h):
                    break
                if time.monotonic() > deadline:
                    return False
            return True
        finally:
            self.run_seconds += time.perf_counter() - t0
            self.run_cpu_seconds += time.process_time() - c0

    def irq(self) -> bool:
        """The overlay's interrupt line."""
        return bool(self._lib.pf_sim_irq(self._live()))

    def run_until_done(self, max_cycles: int) -> int:
        """Clock the model until the interrupt or ``max_cycles`` (no wall deadline)."""
        return int(self._lib.pf_sim_run(self._live(), max_cycles))

    def set_memory_model(self, latency: int, gap: int) -> None:
        self._lib.pf_sim_set_memory_model(self._live(), latency, gap)

    def cycles(self) -> int:
        return int(self._lib.pf_sim_cycles(self._live()))

    def reset(self) -> None:
        self._lib.pf_sim_reset(self._live())

    def close(self) -> None:
        if self._h is not None:
            self._lib.pf_sim_free(self._h)
            self._h = None


# --------------------------------------------------------------------------- emulator
class EmulatorPort(Port):
    """The emulator behind the register map: a run executes at AP_CTRL's start bit."""

    name = "emu"

    def __init__(self, cfg: OverlayConfig, mem_bytes: int) -> None:
        from plutflow.overlay.emulator import Emulator, OverlayFault

        self.cfg = cfg
        self._fault = OverlayFault
        self.mem = np.zeros(mem_bytes, np.uint8)
        self.emu = Emulator(cfg, self.mem)
        self.mem_base = 0x8000_0000
        regs = cfg.registers()
        self.regs = {
            R("ID"): CONTRACT.id,
            R("VERSION"): CONTRACT.version,
            R("PE_CONFIG"): regs["PE_CONFIG"],
            R("BUF_CONFIG"): regs["BUF_CONFIG"],
            R("BUF_CONFIG2"): regs["BUF_CONFIG2"],
            R("AP_CTRL"): 0x4,
            R("TIMEOUT"): 1 << 24,
        }
        self._done = False

    @property
    def mem_size(self) -> int:
        return self.mem.size

    def read(self, offset: int) -> int:
        v = self.regs.get(offset, 0)
        if offset == R("AP_CTRL"):
            self.regs[offset] = v & ~0x2  # ap_done clears on read
        return v

    def write(self, offset: int, value: int) -> None:
        if offset == R("AP_CTRL") and value & 1:
            self._start()
        elif offset == R("ISR"):
            self.regs[offset] = self.regs.get(offset, 0) ^ (value & 3)
        else:
            self.regs[offset] = int(value)

    def _start(self) -> None:
        r = self.regs
        base = r.get(R("MEM_BASE_LO"), 0) | r.get(R("MEM_BASE_HI"), 0) << 32
        size = r.get(R("MEM_SIZE"), 0)
        units = {n: c for c, n in CONTRACT.units.items()}
        codes = {n: c for c, (n, _) in CONTRACT.errors.items()}
        status, cur, err_addr = 0, 0, 0
        before = dict(self.emu.stats)
        count = r.get(R("PROG_COUNT"), 0)
        if base != self.mem_base or size > self.mem.size:  # memory answers errors
            status = codes["RRESP"] | units["fetch"] << 8
        else:
            try:
                cur = max(self.emu.run(r.get(R("PROG_ADDR"), 0), count, size) - 1, 0)
            except self._fault as f:
                status = f.code | units[f.unit] << 8
                cur, err_addr = f.desc, f.addr
        r[R("STATUS")] = status
        r[R("CUR_DESC")] = cur
        r[R("ERR_ADDR")] = err_addr
        r[R("DONE_DESC")] = count if status == 0 else cur
        for name, key in (("RD_BYTES_LO", "read_bytes"), ("WR_BYTES_LO", "write_bytes")):
            r[R(name)] = (self.emu.stats[key] - before[key]) & 0xFFFFFFFF
        r[R("AP_CTRL")] = 0x4 | 0x2
        if r.get(R("IER"), 0) & 1:
            r[R("ISR")] = r.get(R("ISR"), 0) | 1

    def mem_write(self, offset: int, data: bytes | np.ndarray) -> None:
        raw = (
            np.frombuffer(bytes(data), np.uint8)
            if isinstance(data, bytes | bytearray)
            else (np.ascontiguousarray(data).view(np.uint8).reshape(-1))
        )
        if offset + raw.size > self.mem.size:
            raise PortError(f"write of {raw.size} bytes at 0x{offset:x} outside the window")
        self.mem[offset : offset + raw.size] = raw

    def mem_read(self, offset: int, n: int) -> np.ndarray:
        if offset + n > self.mem.size:
            raise PortError(f"read of {n} bytes at 0x{offset:x} outside the window")
        return self.mem[offset : offset + n].copy()

    def wait(self, deadline: float) -> bool:
        return True
