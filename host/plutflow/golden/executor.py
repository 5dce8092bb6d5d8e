"""Run an :class:`~plutflow.intmodel.IntModel` on integer inputs, bit-exactly."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from plutflow.errors import ShapeError
from plutflow.golden.ops import INT_OPS
from plutflow.intmodel.model import IntLayer, IntModel
from plutflow.ir.graph import fmt_shape


class GoldenExecutor:
    """The contract: integer codes in, integer codes out, vectorised over the batch."""

    def __init__(self, model: IntModel) -> None:
        unknown = sorted({lay.op for lay in model.layers} - set(INT_OPS))
        if unknown:
            raise ShapeError(f"the model uses integer ops this plutflow does not know: {unknown}")
        self.model = model

    def quantize_inputs(self, x: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Float inputs (already preprocessed) to integer codes."""
        feeds = x if isinstance(x, Mapping) else {self.model.inputs[0]: x}
        return {k: self.model.tensors[k].quantize(v) for k, v in feeds.items()}

    def _check(self, feeds: Mapping[str, np.ndarray]) -> None:
        for name in self.model.inputs:
            if name not in feeds:
                raise ShapeError(f"missing input '{name}'")
            spec, arr = self.model.tensors[name], np.asarray(feeds[name])
            if arr.dtype != spec.np_dtype:
                raise ShapeError(
                    f"input '{name}' has dtype {arr.dtype}, expected {spec.dtype} "
                    "codes (quantize floats with quantize_inputs)"
                )
            if len(arr.shape) != len(spec.shape) or any(
                w is not None and w != g for w, g in zip(spec.shape, arr.shape, strict=True)
            ):
                raise ShapeError(
                    f"input '{name}' has shape {arr.shape}, expected {fmt_shape(spec.shape)}"
                )

    def run(
        self, feeds: np.ndarray | Mapping[str, np.ndarray], keep: bool = False
    ) -> dict[str, np.ndarray]:
        """Execute on integer codes. Returns the outputs, or every tensor with ``keep``."""
        if not isinstance(feeds, Mapping):
            feeds = {self.model.inputs[0]: feeds}
        self._check(feeds)
        env: dict[str, np.ndarray] = dict(self.model.constants)
        env.update(feeds)
        tensors = self.model.tensors
        for lay in self.model.layers:
            ins = [env[i] for i in lay.inputs]
            env[lay.outputs[0]] = INT_OPS[lay.op](
                lay, ins, [tensors[i] for i in lay.inputs], tensors[lay.outputs[0]]
            )
        if keep:
            return env
        return {name: env[name] for name in self.model.outputs}

    def run_layer(self, layer: IntLayer, ins: list[np.ndarray]) -> np.ndarray:
        """One layer of the model on its input codes (the overlay runtime's host layers)."""
        tensors = self.model.tensors
        return INT_OPS[layer.op](
            layer, ins, [tensors[i] for i in layer.inputs], tensors[layer.outputs[0]]
        )

    def dequantize_outputs(self, outs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: self.model.tensors[k].dequantize(v) for k, v in outs.items()}


def run_golden(
    model: IntModel, codes: np.ndarray | Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Convenience wrapper: ``GoldenExecutor(model).run(codes)``."""
    return GoldenExecutor(model).run(codes)
