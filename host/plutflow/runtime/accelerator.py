"""The driver: run a compiled artifact on the simulated overlay, a board or the host.

    acc = Accelerator("model.pfa", backend="sim")
    result = acc.run(images)          # float (preprocessed) or integer input codes
    result.outputs, result.logits, result.layers

Layers the artifact places on the overlay go through the transport (one packet per layer
and batch chunk); the others run on the golden host code. Before the first transfer the
driver checks the overlay's ID and configuration registers against the artifact.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from plutflow.errors import ShapeError
from plutflow.formats.accel import (
    ERROR_CODES,
    OverlayConfig,
    activation_stream,
    activation_words,
    descriptor_words,
    output_words,
    parse_output,
)
from plutflow.golden.executor import GoldenExecutor
from plutflow.golden.ops import INT_OPS
from plutflow.runtime import registers as R
from plutflow.runtime.artifact import Artifact
from plutflow.runtime.lowering import lower_input
from plutflow.runtime.plan import LayerPlan, overlay_layer
from plutflow.runtime.transport import (
    AcceleratorError,
    OverlayMismatch,
    Transport,
    TransportError,
)

BACKENDS = ("golden", "sim", "pynq")


@dataclass
class LayerTiming:
    """Where a layer ran and what it cost."""

    name: str
    target: str  # "overlay" | "host"
    wall_s: float = 0.0
    cycles: int = 0  # accelerator cycles (CYCLES register), summed over chunks
    compute_cycles: int = 0
    pack_s: float = 0.0  # host: building the packet
    transfer_s: float = 0.0  # transport round trip (simulation time for sim)
    unpack_s: float = 0.0  # host: parsing the output packet
    bytes_in: int = 0
    bytes_out: int = 0
    macs: int = 0


@dataclass
class RunResult:
    outputs: dict[str, np.ndarray]
    logits: np.ndarray
    layers: list[LayerTiming] = field(default_factory=list)
    tensors: dict[str, np.ndarray] | None = None

    @property
    def cycles(self) -> int:
        return sum(t.cycles for t in self.layers)

    def modelled_seconds(self, clock_mhz: float = R.CLOCK_MHZ) -> float:
        """Accelerator time at ``clock_mhz`` (host layers not included)."""
        return self.cycles / (clock_mhz * 1e6)


def _significant(register: str, value: int) -> int:
    """The part of an identity register that must match: VERSION's major number only (a
    minor version keeps the register map and the stream format)."""
    return value >> 16 if register == "VERSION" else value


def open_transport(backend: str, overlay: OverlayConfig, **kw) -> Transport:
    if backend == "sim":
        from plutflow.runtime.sim_transport import SimTransport

        return SimTransport(overlay, **kw)
    if backend == "pynq":
        from plutflow.runtime.pynq_transport import PynqTransport

        return PynqTransport(**kw)
    raise ValueError(f"unknown backend {backend!r}; one of {BACKENDS}")


class Accelerator:
    """Runs an artifact on a backend: ``golden`` (host only), ``sim`` or ``pynq``."""

    def __init__(
        self,
        artifact: Artifact | str | Path,
        backend: str = "sim",
        transport: Transport | None = None,
        timeout_s: float = 600.0,
        **transport_options,
    ) -> None:
        self.artifact = artifact if isinstance(artifact, Artifact) else Artifact.load(artifact)
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; one of {BACKENDS}")
        self.backend = backend
        self.model = self.artifact.model
        self.timeout_s = timeout_s
        self.golden = GoldenExecutor(self.model)
        self.plans: dict[str, LayerPlan] = {p.layer: p for p in self.artifact.plan}
        self.transport: Transport | None = transport
        if self.transport is None and backend != "golden":
            self.transport = open_transport(backend, self.artifact.overlay, **transport_options)
        # the layers as the overlay runs them (lowered once, not per run)
        self.hw_layers = {
            p.layer: overlay_layer(self.model.layer(p.layer), p)
            for p in self.artifact.plan
            if p.target == "overlay"
        }
        self._checked = False

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def __enter__(self) -> Accelerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_overlay(self) -> None:
        """Compare the overlay's identity and configuration with the artifact; raise
        :class:`OverlayMismatch` with a readable diff when they differ."""
        t = self.transport
        found = {
            "ID": t.read(R.ID),
            "VERSION": t.read(R.VERSION),
            "PE_CONFIG": t.read(R.PE_CONFIG),
            "BUF_CONFIG": t.read(R.BUF_CONFIG),
        }
        pe, buf = self.artifact.overlay.registers()
        want = {"ID": R.ID_VALUE, "VERSION": R.VERSION_VALUE, "PE_CONFIG": pe, "BUF_CONFIG": buf}
        diff = [k for k in want if _significant(k, found[k]) != _significant(k, want[k])]
        if diff:
            lines = [
                f"  {k}: artifact expects 0x{want[k]:08x}, overlay has 0x{found[k]:08x}"
                for k in diff
            ]
            if found["ID"] == R.ID_VALUE:
                try:
                    have = OverlayConfig.from_registers(found["PE_CONFIG"], found["BUF_CONFIG"])
                    a, b = self.artifact.overlay.to_json(), have.to_json()
                    lines += [
                        f"  {k}: artifact {a[k]!r}, overlay {b[k]!r}" for k in a if a[k] != b[k]
                    ]
                except ValueError:
                    pass
            else:
                lines.insert(0, "  the loaded design is not a plutflow overlay")
            raise OverlayMismatch(
                "the overlay does not match the artifact; refusing to run:\n" + "\n".join(lines)
            )
        t.write(R.GIE, 1)
        t.write(R.IER, 1)
        self._checked = True

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
        """Run a batch; ``x`` holds preprocessed floats or integer input codes."""
        feeds = self._codes(x)
        self.golden._check(feeds)
        env: dict[str, np.ndarray] = dict(self.model.constants)
        env.update(feeds)
        timings = []
        for lay in self.model.layers:
            t0 = time.perf_counter()
            plan = self.plans[lay.name]
            ins = [env[i] for i in lay.inputs]
            specs = [self.model.tensors[i] for i in lay.inputs]
            out_spec = self.model.tensors[lay.outputs[0]]
            if plan.target == "overlay" and self.transport is not None:
                y, timing = self._run_overlay(lay, plan, ins[0], specs[0], out_spec)
            else:
                y = INT_OPS[lay.op](lay, ins, specs, out_spec)
                timing = LayerTiming(lay.name, "host")
            timing.wall_s = time.perf_counter() - t0
            env[lay.outputs[0]] = y
            timings.append(timing)
        outputs = {n: env[n] for n in self.model.outputs}
        first = self.model.outputs[0]
        logits = self.model.tensors[first].dequantize(outputs[first])
        return RunResult(outputs, logits, timings, env if keep else None)

    def _chunk(self, plan: LayerPlan) -> int:
        """Images per packet: as many as the transport's stream memories allow."""
        geo, cfg = plan.geo, self.artifact.overlay
        limit = getattr(self.transport, "in_depth", None)
        if limit is None:
            return 65535
        lanes = cfg.data_w // 64
        params = self.artifact.streams[plan.layer].size // lanes + 512 // cfg.data_w
        per_img_in = activation_words(geo, 1, cfg) // lanes
        per_img_out = output_words(geo, 1, cfg) // lanes
        n_in = max((limit - params) // max(per_img_in, 1), 1)
        n_out = max(self.transport.out_depth // max(per_img_out, 1), 1)
        return int(min(n_in, n_out, 65535))

    def _run_overlay(self, lay, plan: LayerPlan, x, in_spec, out_spec):
        if not self._checked:
            self.check_overlay()
        cfg = self.artifact.overlay
        geo = plan.geo
        timing = LayerTiming(lay.name, "overlay", macs=geo.macs * x.shape[0])
        hw = self.hw_layers[lay.name]
        parts = []
        step = self._chunk(plan)
        for s in range(0, x.shape[0], step):
            xs = x[s : s + step]
            n = xs.shape[0]
            t0 = time.perf_counter()
            if plan.lowering == "im2col":
                xs = lower_input(lay, xs)
            packet = np.concatenate(
                [
                    descriptor_words(hw, geo, in_spec, out_spec, n, cfg),
                    self.artifact.streams[lay.name],
                    activation_stream(xs, geo, cfg),
                ]
            )
            want = output_words(geo, n, cfg)
            timing.pack_s += time.perf_counter() - t0
            self.transport.write(R.AP_CTRL, 1)
            res = self.transport.transfer(packet, want, self.timeout_s)
            timing.transfer_s += res.seconds
            status = self._wait_done(lay.name, packet.size, want)
            if status:
                self.transport.reset()
                raise AcceleratorError(
                    f"layer {lay.name}: the accelerator reported {ERROR_CODES.get(status, '?')} "
                    f"(STATUS {status}); {res.sent_words * 8} of {packet.size * 8} bytes sent, "
                    f"{res.recv_words * 8} of {want * 8} bytes received"
                )
            if res.recv_words != want:
                raise TransportError(
                    f"layer {lay.name}: received {res.recv_words * 8} of {want * 8} bytes"
                )
            timing.cycles += self.transport.read(R.CYCLES_LO)
            timing.compute_cycles += self.transport.read(R.COMPUTE)
            timing.bytes_in += packet.size * 8
            timing.bytes_out += want * 8
            t0 = time.perf_counter()
            parts.append(parse_output(res.out, geo, n, out_spec, cfg))
            timing.unpack_s += time.perf_counter() - t0
        y = np.concatenate(parts)
        if lay.op == "gemm":
            y = y.reshape(y.shape[0], y.shape[1])
        return y, timing

    def _wait_done(self, name: str, sent_words: int, want: int, polls: int = 1000) -> int:
        """Poll AP_CTRL for ap_done (the transfer has completed, so it comes within a few
        cycles); clear the interrupt; return STATUS."""
        for _ in range(polls):
            if self.transport.read(R.AP_CTRL) & 0x2:
                self.transport.write(R.ISR, 1)
                return self.transport.read(R.STATUS)
        raise TransportError(
            f"layer {name}: the accelerator did not signal ap_done after the transfer; "
            f"it took {self.transport.read(R.IN_WORDS)} input words of the packet's "
            f"{sent_words * 64 // self.artifact.overlay.data_w} and sent "
            f"{self.transport.read(R.OUT_WORDS)} of {want * 64 // self.artifact.overlay.data_w}"
        )
