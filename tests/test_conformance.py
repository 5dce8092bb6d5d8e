"""The float reference executor against the ONNX backend node-test data of every supported op.

Cases are generated from the installed onnx wheel and compared with its stored outputs.
A few cases use features plutflow deliberately refuses (training mode, non-tensor
values, MaxPool's Indices output, interpolating Resize modes); for those the importer must
raise a clear error. The node tests feed the parameters of Slice, Split, Pad, Resize and
ReduceMean (bounds, pads, scales, axes) as graph inputs; plutflow, like every exporter,
wants them constant, so each data set's values become initializers here.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from plutflow.errors import UnsupportedModelError
from plutflow.ir import SUPPORTED_OPS, import_onnx
from plutflow.reference import run_float

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from onnx.backend.test.case.node import collect_testcases

    CASES = [
        c for c in collect_testcases()
        if c.model is not None and len(c.model.graph.node) == 1
        and c.model.graph.node[0].op_type in SUPPORTED_OPS
    ]  # fmt: skip

#: Cases that must be refused, with the words their error must contain.
REFUSED = {
    "test_batchnorm_example_training_mode": "training mode",
    "test_batchnorm_epsilon_training_mode": "training mode",
    "test_training_dropout_default": "training_mode",
    "test_training_dropout_default_mask": "training_mode",
    "test_training_dropout": "training_mode",
    "test_training_dropout_mask": "training_mode",
    "test_training_dropout_zero_ratio": "training_mode",
    "test_training_dropout_zero_ratio_mask": "training_mode",
    "test_identity_sequence": "not a tensor",
    "test_identity_opt": "not a tensor",
    "test_maxpool_with_argmax_2d_precomputed_pads": "Indices",
    "test_maxpool_with_argmax_2d_precomputed_strides": "Indices",
}
#: Refused by name fragment: Resize's interpolating modes.
REFUSED_PARTS = {"linear": "only nearest", "cubic": "only nearest", "tf_crop": "only nearest"}
#: Ops whose inputs after the first are parameters.
PARAMETER_OPS = ("Slice", "Split", "Pad", "Resize", "ReduceMean", "Upsample")


def refusal(name: str) -> str | None:
    """The words the importer's error must contain, for a case it must refuse."""
    if name in REFUSED:
        return REFUSED[name]
    return next((w for part, w in REFUSED_PARTS.items() if part in name), None)


def with_constant_parameters(model: onnx.ModelProto, inputs: list) -> tuple:
    """The model with its parameter inputs as initializers, and the remaining feeds."""
    node = model.graph.node[0]
    if node.op_type not in PARAMETER_OPS:
        return model, inputs
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep, feeds = [], []
    for vi, value in zip(model.graph.input, inputs, strict=True):
        if vi.name == node.input[0]:
            keep.append(vi)
            feeds.append(value)
        else:
            m.graph.initializer.append(numpy_helper.from_array(np.asarray(value), vi.name))
    del m.graph.input[:]
    m.graph.input.extend(keep)
    return m, feeds


def test_every_supported_op_has_cases() -> None:
    ops = {c.model.graph.node[0].op_type for c in CASES}
    assert ops == set(SUPPORTED_OPS) - {"SiLU"}  # SiLU is an IR-only fused op
    assert len(CASES) >= 170


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case(case) -> None:
    words = refusal(case.name)
    if words is not None:
        model, _ = with_constant_parameters(case.model, list(case.data_sets[0][0]))
        with pytest.raises(UnsupportedModelError, match=words):
            import_onnx(model, symbolic_batch=False)
        return
    for inputs, outputs in case.data_sets:
        model, inputs = with_constant_parameters(case.model, list(inputs))
        graph = import_onnx(model, symbolic_batch=False)
        got = run_float(graph, dict(zip(graph.inputs, inputs, strict=True)))
        for name, expected in zip(graph.outputs, outputs, strict=True):
            expected = np.asarray(expected)
            assert got[name].shape == expected.shape, name
            assert got[name].dtype == expected.dtype, name
            np.testing.assert_allclose(
                got[name], expected, rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-6)
            )
