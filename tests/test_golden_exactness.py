"""The golden executor's BLAS/float64 fast paths equal pure int64 evaluation on a real network."""

from __future__ import annotations

import numpy as np
import pytest

import plutflow.golden.ops as gops
from plutflow.api import quantize_model
from plutflow.arith import requantize
from plutflow.golden import GoldenExecutor


def _pure_integer(monkeypatch) -> None:
    monkeypatch.setattr(gops, "exact_dtype", lambda bound: np.int64)

    def slow(sums, bias, f, mult, shift, zp, lo, hi, bound):
        acc = (np.asarray(sums).astype(np.int64) << f) + np.asarray(bias, np.int64)
        return requantize(acc, mult, shift, zp, lo, hi)

    monkeypatch.setattr(gops, "requantize_accumulator", slow)


def _check(demo, monkeypatch, count: int) -> None:
    x, _ = demo.test_set()
    model = quantize_model(demo.model, demo.calib_set(), progress=False)
    ex = GoldenExecutor(model)
    codes = ex.quantize_inputs(x[:count])
    fast = ex.run(codes, keep=True)
    with monkeypatch.context() as m:
        _pure_integer(m)
        slow = ex.run(codes, keep=True)
    for lay in model.layers:
        out = lay.outputs[0]
        diff = np.argwhere(fast[out] != slow[out])
        assert diff.size == 0, f"layer {lay.name}: first mismatch at {diff[0].tolist()}"


def test_fast_paths_are_exact_on_demo_network(demo, monkeypatch) -> None:
    _check(demo, monkeypatch, 64)


@pytest.mark.slow
def test_fast_paths_are_exact_on_all_bundled_images(demo, monkeypatch) -> None:
    _check(demo, monkeypatch, 2000)
