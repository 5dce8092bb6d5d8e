"""The library API (plutflow.quantize / compile / evaluate with QuantOptions): the same
results as the CLI's policy, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import plutflow
from plutflow.assets import DemoAssets
from plutflow.errors import PlutflowError
from plutflow.golden import GoldenExecutor


@pytest.fixture(scope="module")
def assets() -> DemoAssets:
    return DemoAssets()


def test_quantize_compile_evaluate(assets) -> None:
    calib = assets.calib_set()[:128]
    opts = plutflow.QuantOptions(scheme="upot:4:8", rules=["/fc/*=int8"])
    model = plutflow.quantize(assets.model, calib, opts, preprocess=assets.preprocess(),
                              progress=False)  # fmt: skip
    labels = model.meta["quantizer"]["layers"]
    assert labels["/fc/Gemm"] == "W8A8 int8" and "W4A8 upot" in labels.values()
    assert model.meta["preprocess"]["mean"] == assets.preprocess().mean
    x, y = assets.test_set()
    gold = plutflow.evaluate(model, x[:200], y[:200])
    assert gold["top1"] > 80
    art = plutflow.compile(model, overlay="shift", array=8)
    emu = plutflow.evaluate(art, x[:8], y[:8], backend="emu")
    name = model.inputs[0]
    want = GoldenExecutor(model).run({name: model.tensors[name].quantize(x[:8])})
    assert np.array_equal(emu["outputs"], want[model.outputs[0]])


def test_auto_bits_policy_lives_in_the_library(assets) -> None:
    """An int8 default with a budget searches UPoT bits (the CLI's --auto-bits)."""
    calib = assets.calib_set()[:64]
    model = plutflow.quantize(assets.model, calib, plutflow.QuantOptions(auto_bits=15000),
                              progress=False)  # fmt: skip
    assert any("upot" in v for v in model.meta["quantizer"]["layers"].values())


def test_api_errors(assets) -> None:
    model = plutflow.quantize(assets.model, assets.calib_set()[:16], progress=False)
    with pytest.raises(PlutflowError, match="compile the model first"):
        plutflow.evaluate(model, assets.test_set()[0][:2], backend="sim")
    with pytest.raises(PlutflowError, match="IntModel or an Artifact"):
        plutflow.evaluate("model.pfq", assets.test_set()[0][:2])
    with pytest.raises(PlutflowError, match="overlay 'int8', array 6"):
        plutflow.compile(model, overlay="int8", array=6)
    with pytest.raises(PlutflowError, match="task-loss needs labelled"):
        plutflow.quantize(assets.model, assets.calib_set()[:16],
                          plutflow.QuantOptions(scheme="uniform:4:4", task_loss=True),
                          progress=False)  # fmt: skip
    with pytest.raises(PlutflowError, match="rule pattern '/fcc/\\*' matches no Conv/Gemm"):
        plutflow.quantize(assets.model, assets.calib_set()[:16],
                          plutflow.QuantOptions(rules=["/fcc/*=int8"]), progress=False)  # fmt: skip
    with pytest.raises(AttributeError):
        plutflow.no_such_function  # noqa: B018
