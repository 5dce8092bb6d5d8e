"""Batched runs of an :class:`Accelerator` with progress, accumulated timings and exact
comparison between backends."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

import numpy as np
from tqdm.auto import tqdm

from plutflow.runtime.accelerator import Accelerator, LayerTiming
from plutflow.runtime.registers import CLOCK_MHZ


@dataclass
class Evaluation:
    """Logits of every image and the per-layer cost summed over the run."""

    backend: str
    images: int
    logits: np.ndarray
    codes: np.ndarray
    layers: list[LayerTiming] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def cycles_per_image(self) -> float:
        return sum(t.cycles for t in self.layers) / max(self.images, 1)

    def modelled_images_per_s(self, clock_mhz: float = CLOCK_MHZ) -> float:
        """Throughput of the overlay layers at ``clock_mhz`` (host layers excluded)."""
        c = self.cycles_per_image
        return clock_mhz * 1e6 / c if c else float("inf")

    def host_seconds_per_image(self) -> dict[str, float]:
        n = max(self.images, 1)
        return {
            "pack": sum(t.pack_s for t in self.layers) / n,
            "transfer": sum(t.transfer_s for t in self.layers) / n,
            "unpack": sum(t.unpack_s for t in self.layers) / n,
            "host_layers": sum(t.wall_s for t in self.layers if t.target == "host") / n,
        }


def _accumulate(total: dict[str, LayerTiming], batch: list[LayerTiming]) -> None:
    for t in batch:
        if t.name not in total:
            total[t.name] = LayerTiming(t.name, t.target)
        acc = total[t.name]
        for f in fields(LayerTiming):
            if f.name not in ("name", "target"):
                setattr(acc, f.name, getattr(acc, f.name) + getattr(t, f.name))


def evaluate(
    acc: Accelerator, x: np.ndarray, batch_size: int = 32, progress: bool = True
) -> Evaluation:
    """Run ``x`` (preprocessed floats or codes) through ``acc`` in batches."""
    total: dict[str, LayerTiming] = {}
    logits, codes = [], []
    t0 = time.perf_counter()
    out_name = acc.model.outputs[0]
    steps = range(0, len(x), batch_size)
    for i in tqdm(steps, desc=f"run on {acc.backend}", unit="batch", disable=not progress):
        r = acc.run(x[i : i + batch_size])
        logits.append(r.logits)
        codes.append(r.outputs[out_name])
        _accumulate(total, r.layers)
    return Evaluation(
        acc.backend,
        len(x),
        np.concatenate(logits),
        np.concatenate(codes),
        list(total.values()),
        time.perf_counter() - t0,
    )


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
