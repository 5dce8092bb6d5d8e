"""Batched runs of an :class:`Accelerator` with progress, accumulated timings and exact
comparison between backends."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from plutflow.notes import progress_bar
from plutflow.overlay.driver import RunStats
from plutflow.runtime.accelerator import CLOCK_MHZ, Accelerator


@dataclass
class Evaluation:
    """Logits of every image and the cost of the run, summed over its batches."""

    backend: str
    images: int
    logits: np.ndarray
    codes: np.ndarray
    stats: RunStats = field(default_factory=RunStats)
    host_layers: dict[str, float] = field(default_factory=dict)
    pack_s: float = 0.0
    unpack_s: float = 0.0
    wall_s: float = 0.0

    @property
    def cycles_per_image(self) -> float:
        return self.stats.cycles / max(self.images, 1)

    def host_seconds_per_image(self) -> float:
        return sum(self.host_layers.values()) / max(self.images, 1)

    def modelled_images_per_s(self, clock_mhz: float = CLOCK_MHZ) -> float:
        """Throughput at ``clock_mhz``: the overlay's cycles (memory traffic included, as
        simulated) plus the measured time of the layers on the host."""
        return modelled_images_per_s(self.cycles_per_image, self.host_seconds_per_image(),
                                     clock_mhz)  # fmt: skip


def modelled_images_per_s(
    cycles_per_image: float, host_s_per_image: float, clock_mhz: float = CLOCK_MHZ
) -> float:
    """Images per second when each image takes ``cycles_per_image`` overlay cycles at
    ``clock_mhz`` plus ``host_s_per_image`` seconds of host layers (inf for no time)."""
    t = cycles_per_image / (clock_mhz * 1e6) + host_s_per_image
    return 1.0 / t if t else float("inf")


def evaluate(
    acc: Accelerator, x: np.ndarray, batch_size: int = 32, progress: bool = True
) -> Evaluation:
    """Run ``x`` (preprocessed floats or codes) through ``acc`` in batches."""
    logits, codes = [], []
    ev = Evaluation(acc.backend, len(x), np.zeros(0), np.zeros(0))
    t0 = time.perf_counter()
    out_name = acc.model.outputs[0]
    steps = range(0, len(x), batch_size)
    for i in progress_bar(steps, progress=progress, desc=f"run on {acc.backend}", unit="batch"):
        r = acc.run(x[i : i + batch_size])
        logits.append(r.logits)
        codes.append(r.outputs[out_name])
        ev.stats.add(r.stats)
        ev.pack_s += r.pack_s
        ev.unpack_s += r.unpack_s
        for k, v in r.host_layers.items():
            ev.host_layers[k] = ev.host_layers.get(k, 0.0) + v
    ev.logits, ev.codes = np.concatenate(logits), np.concatenate(codes)
    ev.wall_s = time.perf_counter() - t0
    return ev


@dataclass
class Mismatch:
    layer: str
    tensor: str
    image: int
    channel: int
    position: tuple[int, ...]
    expected: int
    actual: int
    count: int

    def __str__(self) -> str:
        return (
            f"first mismatch in layer {self.layer} (tensor {self.tensor}): image {self.image}, "
            f"channel {self.channel}, position {self.position}: expected {self.expected}, "
            f"actual {self.actual} ({self.count} values differ in this tensor)"
        )


def first_mismatch(
    reference: Accelerator, other: Accelerator, x: np.ndarray, batch_size: int = 32
) -> Mismatch | None:
    """Run both backends on ``x`` and return the first differing value, in layer order."""
    model = reference.model
    for i in range(0, len(x), batch_size):
        a = reference.run(x[i : i + batch_size], keep=True).tensors
        b = other.run(x[i : i + batch_size], keep=True).tensors
        for lay in model.layers:
            name = lay.outputs[0]
            if not np.array_equal(a[name], b[name]):
                bad = np.argwhere(a[name] != b[name])
                idx = tuple(int(v) for v in bad[0])
                return Mismatch(
                    lay.name,
                    name,
                    i + idx[0],
                    idx[1] if len(idx) > 1 else 0,
                    idx[2:],
                    int(a[name][idx]),
                    int(b[name][idx]),
                    len(bad),
                )
    return None
