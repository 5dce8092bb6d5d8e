"""The float reference executor against the ONNX backend node-test data of every supported op.

Cases are generated from the installed onnx wheel and compared with its stored outputs.
A few cases use features plutflow deliberately refuses (training mode, non-tensor
values, MaxPool's Indices output); for those the importer must raise a clear error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

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


def test_every_supported_op_has_cases() -> None:
    ops = {c.model.graph.node[0].op_type for c in CASES}
    assert ops == set(SUPPORTED_OPS) - {"SiLU"}  # SiLU is an IR-only fused op
    assert len(CASES) >= 170


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case(case) -> None:
    if case.name in REFUSED:
        with pytest.raises(UnsupportedModelError, match=REFUSED[case.name]):
            import_onnx(case.model, symbolic_batch=False)
        return
    graph = import_onnx(case.model, symbolic_batch=False)
    for inputs, outputs in case.data_sets:
        got = run_float(graph, dict(zip(graph.inputs, inputs, strict=True)))
        for name, expected in zip(graph.outputs, outputs, strict=True):
            expected = np.asarray(expected)
            assert got[name].shape == expected.shape, name
            assert got[name].dtype == expected.dtype, name
            np.testing.assert_allclose(
                got[name], expected, rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-6)
            )
