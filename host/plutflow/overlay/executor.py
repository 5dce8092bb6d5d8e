"""Running a compiled model: inputs into device memory, the program's segments in order
(overlay runs and host layers), outputs back.

Host layers run on the golden executor's ops over tensors read from device memory, and
write their outputs back, so every overlay segment finds its inputs where the program
expects them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from plutflow.golden.executor import GoldenExecutor
from plutflow.intmodel.model import IntLayer
from plutflow.overlay.compiler import Compiled, Program, TensorLoc
from plutflow.overlay.driver import OverlayControl, RunStats
from plutflow.overlay.lowering import gather_input
from plutflow.overlay.ports import Port

HostOp = Callable[[IntLayer, list[np.ndarray]], np.ndarray]


@dataclass
class SegmentTiming:
    kind: str  # "overlay" | "host"
    layers: list[str]
    wall_s: float = 0.0
    stats: RunStats | None = None


@dataclass
class Execution:
    outputs: dict[str, np.ndarray]
    stats: RunStats = field(default_factory=RunStats)
    segments: list[SegmentTiming] = field(default_factory=list)
    pack_s: float = 0.0
    unpack_s: float = 0.0
    host_s: float = 0.0
    tensors: dict[str, np.ndarray] | None = None


class OverlayExecutor:
    """Runs batches of a :class:`Compiled` model on a port."""

    def __init__(
        self,
        compiled: Compiled,
        port: Port,
        timeout_s: float = 60.0,
        host_op: HostOp | None = None,
    ) -> None:
        """``host_op(layer, inputs)`` runs a layer the overlay does not take (default: the
        golden op; the fast engine's :meth:`~plutflow.fast.plan.FastExecutor.run_layer`
        gives the same integers)."""
        self.c = compiled
        self.host_op = host_op or GoldenExecutor(compiled.model).run_layer
        self.port = port
        self.ctl = OverlayControl(port, compiled.cfg)
        self.timeout_s = timeout_s
        self._programs: dict[int, Program] = {}
        self._loaded: int | None = None  # the batch size whose program is in memory

    def program(self, batch: int) -> Program:
        if batch not in self._programs:
            self._programs[batch] = self.c.program(batch)
        return self._programs[batch]

    def _load(self, prog: Program) -> None:
        if prog.mem_size > self.port.mem_size:
            from plutflow.errors import PlutflowError

            raise PlutflowError(
                f"batch {prog.batch} needs {prog.mem_size} bytes of device memory; the "
                f"window holds {self.port.mem_size}"
            )
        self.port.mem_write(prog.param_offset, self.c.params)
        self.port.mem_write(prog.prog_offset, prog.bytes())
        self._loaded = prog.batch

    # ---------------------------------------------------------------- tensors
    def _write_tensor(self, loc: TensorLoc, codes: np.ndarray) -> None:
        x = np.asarray(codes)
        if x.ndim == 2:
            x = x[:, :, None, None]
        n, c = x.shape[:2]
        raw = np.zeros((n, x.shape[2], x.shape[3], loc.ps), np.uint8)
        raw[..., :c] = np.moveaxis(x, 1, -1).astype(np.int64) & 0xFF
        self.port.mem_write(loc.offset, raw.reshape(-1))

    def _read_tensor(self, loc: TensorLoc, name: str, n: int) -> np.ndarray:
        spec = self.c.model.tensors[name]
        raw = self.port.mem_read(loc.offset, n * loc.ns).reshape(n, loc.h, loc.w, -1)
        codes = np.ascontiguousarray(np.moveaxis(raw[..., : loc.c], -1, 1))
        codes = codes.view(np.int8) if spec.dtype == "int8" else codes
        shape = tuple(n if s is None else int(s) for s in spec.shape)
        return codes.astype(spec.np_dtype).reshape(shape)

    # ---------------------------------------------------------------- run
    def run(self, feeds: Mapping[str, np.ndarray], keep: bool = False) -> Execution:
        """Run a batch of input codes; tensors the overlay reads or writes live in device
        memory, the others (host layers among themselves) stay here. With ``keep`` every
        tensor of the model comes back (``Execution.tensors``)."""
        model = self.c.model
        n = int(next(iter(feeds.values())).shape[0])
        prog = self.program(n)
        if self._loaded != n:
            self._load(prog)
        ex = Execution({})
        local: dict[str, np.ndarray] = {**model.constants, **feeds}
        t0 = time.perf_counter()
        for name, codes in feeds.items():
            if name in self.c.lowered.gathered:  # a stem's input, written gathered
                window, pad = self.c.lowered.gathered[name]
                codes = gather_input(np.asarray(codes), window, pad)
            if name in prog.tensors:
                self._write_tensor(prog.tensors[name], codes)
        ex.pack_s = time.perf_counter() - t0

        producer = {o: lay for lay in model.layers for o in lay.outputs}

        def get(name: str) -> np.ndarray:
            if name not in local:
                if name in prog.tensors:
                    local[name] = self._read_tensor(prog.tensors[name], name, n)
                else:  # a view (flatten, reshape): the op itself, on its input
                    lay = producer[name]
                    ins = [get(i) for i in lay.inputs]
                    local[name] = self.host_op(lay, ins)
            return local[name]

        for seg in prog.segments:
            t0 = time.perf_counter()
            if seg.kind == "overlay":
                stats = self.ctl.run(
                    prog.prog_offset + seg.first * 128, seg.count, self.timeout_s,
                    lambda i, s=seg: prog.describe(s.first + i),
                )  # fmt: skip
                for lay in seg.layers:  # their outputs are now in device memory
                    for out in model.layer(lay).outputs:
                        local.pop(out, None)
                ex.stats.add(stats)
                ex.segments.append(SegmentTiming("overlay", seg.layers,
                                                 time.perf_counter() - t0, stats))  # fmt: skip
            else:
                lay = model.layer(seg.layer)
                ins = [get(i) for i in lay.inputs]
                y = self.host_op(lay, ins)
                local[lay.outputs[0]] = y
                if lay.outputs[0] in prog.tensors:
                    self._write_tensor(prog.tensors[lay.outputs[0]], y)
                dt = time.perf_counter() - t0
                ex.host_s += dt
                ex.segments.append(SegmentTiming("host", [lay.name], dt))
        t0 = time.perf_counter()
        ex.outputs = {o: get(o) for o in model.outputs}
        ex.unpack_s = time.perf_counter() - t0
        if keep:
            names = [t for lay in model.layers for t in lay.outputs] + list(model.inputs)
            ex.tensors = {t: get(t) for t in names}
        return ex
