"""ONNX graphs that break ONNX's structural rules: repaired when that is safe (node
order), otherwise one error naming the node."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from plutflow.errors import UnsupportedModelError
from plutflow.ir import import_onnx
from plutflow.reference import run_float

V = helper.make_tensor_value_info


def model(nodes, outputs=("y",), inits=()) -> onnx.ModelProto:
    ins = [V("x", TensorProto.FLOAT, ["N", 2, 4, 4])]
    outs = [V(o, TensorProto.FLOAT, None) for o in outputs]
    g = helper.make_graph(nodes, "g", ins, outs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_nodes_out_of_order_are_sorted() -> None:
    second = helper.make_node("Relu", ["t"], ["y"], name="second")
    first = helper.make_node("Transpose", ["x"], ["t"], name="first", perm=[0, 1, 3, 2])
    m = model([second, first])
    graph = import_onnx(m, optimize=False)
    x = np.random.default_rng(0).normal(size=(2, 2, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(
        run_float(graph, {"x": x})["y"], np.maximum(x.transpose(0, 1, 3, 2), 0)
    )


def bad_init_dims() -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((3, 2, 1, 1), np.float32), "w")
    w.dims[:] = [3, 2, 2, 2]
    return model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])], inits=[w])


def if_node() -> onnx.ModelProto:
    branch = helper.make_graph([helper.make_node("Relu", ["x"], ["z"])], "b", [],
                               [V("z", TensorProto.FLOAT, None)])  # fmt: skip
    cond = numpy_helper.from_array(np.array(True), "c")
    return model([helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)],
                 inits=[cond])  # fmt: skip


CASES = {
    "cycle": (
        lambda: model(
            [helper.make_node("Add", ["x", "y"], ["t"]), helper.make_node("Relu", ["t"], ["y"])]
        ),
        "cycle",
    ),
    "self_loop": (lambda: model([helper.make_node("Add", ["x", "y"], ["y"])]), "cycle"),
    "missing_input": (
        lambda: model([helper.make_node("Add", ["x", "nowhere"], ["y"])]),
        "produced by nothing",
    ),
    "dangling_output": (
        lambda: model([helper.make_node("Relu", ["x"], ["t"])]),
        "produces this graph output",
    ),
    "produced_twice": (
        lambda: model(
            [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Neg", ["x"], ["y"])]
        ),
        "twice",
    ),
    "bad_init_dims": (bad_init_dims, "does not match dims"),
    "nan_weight": (
        lambda: model(
            [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])],
            inits=[numpy_helper.from_array(np.full((3, 2, 1, 1), np.nan, np.float32), "w")],
        ),
        "NaN or infinite",
    ),
    "conv_channels": (
        lambda: model(
            [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])],
            inits=[numpy_helper.from_array(np.ones((3, 5, 1, 1), np.float32), "w")],
        ),
        "input channels",
    ),
    "if_subgraph": (if_node, "control flow"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_graphs_are_one_error(case) -> None:
    build, message = CASES[case]
    with pytest.raises(UnsupportedModelError, match=message) as err:
        import_onnx(build())
    assert "\n" not in str(err.value)
