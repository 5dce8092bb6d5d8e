"""The fast engine's activations and steps: the offset domain, the environment that
holds tensors in golden or engine layout, and a plan step (docs/fast.md sections 1-2)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from plutflow.fast import program as prog
from plutflow.intmodel.model import IntLayer, TensorSpec


def offset(spec: TensorSpec) -> int:
    """``off`` of the offset domain: 128 for int8 codes, 0 for uint8."""
    return 128 if spec.dtype == "int8" else 0


def to_u(q: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Golden codes (N, C, ...) to offset-domain uint8, channels last."""
    u = q.view(np.uint8) ^ np.uint8(0x80) if spec.dtype == "int8" else q.astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(u, 1, -1)) if u.ndim > 2 else u


def to_golden(u: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """The inverse of :func:`to_u`."""
    q = (u ^ np.uint8(0x80)).view(np.int8) if spec.dtype == "int8" else u
    return np.ascontiguousarray(np.moveaxis(q, -1, 1)) if q.ndim > 2 else q


class Env:
    """Tensor values, each held in golden layout, offset-domain layout, or both."""

    def __init__(self, tensors: Mapping[str, TensorSpec]) -> None:
        self.tensors = tensors
        self.golden: dict[str, np.ndarray] = {}
        self.u: dict[str, np.ndarray] = {}

    def get_u(self, name: str) -> np.ndarray:
        if name not in self.u:
            self.u[name] = to_u(self.golden[name], self.tensors[name])
        return self.u[name]

    def get_golden(self, name: str) -> np.ndarray:
        if name not in self.golden:
            self.golden[name] = to_golden(self.u[name], self.tensors[name])
        return self.golden[name]

    def has_u(self, name: str) -> bool:
        return name in self.u

    def nhwc_shape(self, name: str) -> tuple[int, ...]:
        """The offset-domain (channels-last) shape of a 4-D tensor, without converting."""
        if name in self.u:
            return self.u[name].shape
        n, c, *spatial = self.golden[name].shape
        return (n, *spatial, c)


@dataclass
class Step:
    """One layer of the plan: ``run(env)`` stores the layer's output in ``env``;
    ``lower(lw)`` writes it into a whole-network program instead (:mod:`.program`) and
    says whether it could (False when the shapes it meets have no program form)."""

    layer: IntLayer
    kind: str  # "fast" or "golden"
    note: str
    run: Callable[[Env], None] = field(repr=False)
    lower: Callable[[prog.Lowering], bool] | None = field(default=None, repr=False)
    #: the padded layout this step reads its first input in (for a given shape), if any
    want: Callable[[tuple[int, ...]], prog.Layout | None] | None = field(default=None,
                                                                         repr=False)  # fmt: skip
