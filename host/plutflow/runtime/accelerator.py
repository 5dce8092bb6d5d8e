"""The driver: run a compiled artifact on the simulated overlay, a board or the host.

    acc = Accelerator("model.pfa", backend="sim")
    result = acc.run(images)          # float (preprocessed) or integer input codes
    result.outputs, result.logits, result.stats

Backends: ``golden`` (the host's integer executor), ``emu`` (the overlay's executable
specification), ``sim`` (the Verilated RTL), ``pynq`` (a KV260 through PYNQ) and
``pynq-sim`` (the board's code path against the simulated RTL). The overlay backends
load the program for the batch size into device memory, run its segments (overlay runs
and host layers in turn) and read the outputs back; before the first run the driver
compares the overlay's ID and configuration registers with the artifact.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from plutflow.errors import PlutflowError, ShapeError
from plutflow.fast.engine import executor
from plutflow.overlay.contract import CONTRACT
from plutflow.overlay.driver import OverlayMismatch, OverlayRunError, RunStats
from plutflow.overlay.executor import OverlayExecutor
from plutflow.overlay.ports import EmulatorPort, Port, SimPort
from plutflow.runtime.artifact import Artifact

BACKENDS = ("golden", "emu", "sim", "pynq", "pynq-sim")
CLOCK_MHZ = CONTRACT.clock_mhz

__all__ = ["BACKENDS", "Accelerator", "OverlayMismatch", "OverlayRunError", "RunResult"]


@dataclass
class RunResult:
    outputs: dict[str, np.ndarray]
    logits: np.ndarray
    stats: RunStats = field(default_factory=RunStats)
    host_layers: dict[str, float] = field(default_factory=dict)  # layer -> seconds
    pack_s: float = 0.0
    unpack_s: float = 0.0
    wall_s: float = 0.0
    tensors: dict[str, np.ndarray] | None = None

    @property
    def cycles(self) -> int:
        return self.stats.cycles

    def modelled_seconds(self, clock_mhz: float = CLOCK_MHZ) -> float:
        """Overlay time at ``clock_mhz`` (host layers not included)."""
        return self.stats.cycles / (clock_mhz * 1e6)


def open_port(backend: str, art: Artifact, mem_bytes: int, **options) -> Port:
    """The port of an overlay backend with a memory window of ``mem_bytes``."""
    cfg = art.overlay
    if backend == "emu":
        return EmulatorPort(cfg, mem_bytes)
    if backend == "sim":
        return SimPort(cfg, mem_bytes, **options)
    if backend in ("pynq", "pynq-sim"):
        from plutflow.overlay.pynq_port import open_board

        module = None
        bitfile = options.pop("bitfile", None)
        if backend == "pynq-sim":
            from plutflow.overlay.pynq_sim import make_pynq

            module = make_pynq(cfg, mem_bytes + (1 << 20), **options)
            bitfile = bitfile or "plutflow.bit"
        elif not bitfile:
            raise PlutflowError("--backend pynq needs --bitfile (the overlay's .bit)")
        return open_board(bitfile, mem_bytes, cfg, pynq_module=module)
    raise PlutflowError(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")


class Accelerator:
    """Runs an artifact on a backend (see the module docstring)."""

    def __init__(
        self,
        artifact: Artifact | str | Path,
        backend: str = "sim",
        port: Port | None = None,
        timeout_s: float = 60.0,
        max_batch: int = 64,
        engine: str = "auto",
        **port_options,
    ) -> None:
        self.artifact = artifact if isinstance(artifact, Artifact) else Artifact.load(artifact)
        if backend not in BACKENDS:
            raise PlutflowError(f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.model = self.artifact.model
        self.golden = executor(self.model, engine)  # the host's integer engine
        self.max_batch = max_batch
        self.port: Port | None = port
        self.executor: OverlayExecutor | None = None
        if backend != "golden":
            if self.port is None:
                need = self.artifact.compiled.program(max_batch).mem_size
                self.port = open_port(backend, self.artifact, need, **port_options)
            self.executor = OverlayExecutor(
                self.artifact.compiled, self.port, timeout_s, self.golden.run_layer
            )

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        if self.port is not None:
            self.port.close()
            self.port = None

    def __enter__(self) -> Accelerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_overlay(self) -> None:
        """Compare the overlay's identity and configuration with the artifact; raise
        :class:`OverlayMismatch` with a readable diff when they differ."""
        if self.executor is not None:
            self.executor.ctl.identify()

    # ---------------------------------------------------------------- running
    def _codes(self, x: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = x if isinstance(x, Mapping) else {self.model.inputs[0]: x}
        out = {}
        for name, arr in feeds.items():
            if name not in self.model.tensors:
                raise ShapeError(f"unknown input '{name}'")
            spec = self.model.tensors[name]
            arr = np.asarray(arr)
            out[name] = arr if arr.dtype == spec.np_dtype else spec.quantize(arr)
        return out

    def run(self, x: np.ndarray | Mapping[str, np.ndarray], keep: bool = False) -> RunResult:
        """Run a batch; ``x`` holds preprocessed floats or integer input codes. With
        ``keep`` the result also holds every tensor of the model (for comparisons)."""
        feeds = self._codes(x)
        self.golden._check(feeds)
        t0 = time.perf_counter()
        if self.executor is None:
            env = self.golden.run(feeds, keep=True)
            outputs = {n: env[n] for n in self.model.outputs}
            res = RunResult(outputs, np.zeros(0), tensors=env if keep else None)
        else:
            n = int(next(iter(feeds.values())).shape[0])
            parts = []
            for s in range(0, n, self.max_batch):
                chunk = {k: v[s : s + self.max_batch] for k, v in feeds.items()}
                parts.append(self.executor.run(chunk, keep=keep))
            outputs = {k: np.concatenate([p.outputs[k] for p in parts]) for k in parts[0].outputs}
            res = RunResult(outputs, np.zeros(0))
            for p in parts:
                res.stats.add(p.stats)
                res.pack_s += p.pack_s
                res.unpack_s += p.unpack_s
                for seg in p.segments:
                    if seg.kind == "host":
                        for lay in seg.layers:
                            res.host_layers[lay] = res.host_layers.get(lay, 0.0) + seg.wall_s
            if keep:
                res.tensors = {
                    k: np.concatenate([p.tensors[k] for p in parts]) for k in parts[0].tensors
                }
        res.wall_s = time.perf_counter() - t0
        first = self.model.outputs[0]
        res.logits = self.model.tensors[first].dequantize(outputs[first])
        return res
