"""The op schemas: every model plutflow builds fits them; a model outside docs/spec.md is
refused when loaded and when compiled, with one line naming the layer and the field."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from plutflow.errors import ArtifactError
from plutflow.intmodel import IntModel
from plutflow.intmodel.schema import validate


@pytest.fixture(scope="module")
def models(demo) -> dict[str, IntModel]:
    from plutflow.api import QuantOptions, quantize_model

    calib = demo.calib_set()[:32]
    return {s: quantize_model(demo.model, calib, QuantOptions(scheme=s), progress=False)
            for s in ("int8", "uniform:4:8", "plut:4:4")}  # fmt: skip


def first(model: IntModel, op: str = "conv", index: int = 1):
    return [lay for lay in model.layers if lay.op == op][index]


def set_param(key, value):
    def change(lay):
        lay.params[key] = np.array(lay.params[key], np.int64)
        lay.params[key][0] = value

    return change


MUTATIONS = {
    "negative M0": ("int8", set_param("mult", -1), "'mult' holds -1"),
    "M0 past 2**31": ("int8", set_param("mult", 2**31), "'mult' holds"),
    "shift 63": ("int8", set_param("shift", 63), "'shift' holds 63"),
    "bias past int32": ("int8", set_param("bias", 2**40), "'bias' holds"),
    "weight past its bits": ("uniform:4:8", set_param("weight", 100), "'weight' holds 100"),
    "lo above hi": ("int8", lambda lay: lay.attrs.update(lo=5, hi=3), "lo 5 > hi 3"),
    "acc_bound understated": (
        "int8",
        lambda lay: lay.attrs.update(acc_bound=5),
        "understates",
    ),
    "code past its bits": ("plut:4:4", set_param("weight_codes", 16), "'weight_codes' holds"),
    "unknown scheme": (
        "int8",
        lambda lay: lay.attrs.update(weight_scheme="fp4"),
        "weight_scheme",
    ),
    "missing attribute": ("int8", lambda lay: lay.attrs.pop("strides"), "'strides'"),
    "bool as integer": ("int8", lambda lay: lay.attrs.update(group=True), "'group'"),
    "bad table shape": (
        "int8",
        lambda lay: (
            lay.params.update(table=np.zeros(7, np.int8)),
            lay.attrs.update(lo=-128, hi=127, mid_zero_point=0),
        ),
        "table",
    ),
    "product table shape": (
        "plut:4:4",
        lambda lay: lay.params.update(product_table=np.zeros((16, 3), np.int32)),
        "product_table",
    ),
}


def test_every_built_model_fits(models) -> None:
    for model in models.values():
        validate(model)


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_out_of_spec_models_are_refused(models, case) -> None:
    import plutflow

    scheme, change, message = MUTATIONS[case]
    model = copy.deepcopy(models[scheme])
    layer = first(model, "conv", 1)
    change(layer)
    with pytest.raises(ArtifactError, match=message) as err:
        IntModel.from_bytes(model.to_bytes(), "m.pfq")
    assert f"layer '{layer.name}'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ArtifactError, match=message):
        plutflow.compile(model, overlay="int8", array=8)
