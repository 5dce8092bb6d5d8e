"""Constant folding, including the shape arithmetic that PyTorch and Paddle exporters emit.

Shape subgraphs depend on the symbolic batch size. They are evaluated twice, with two
different batch sizes: values that agree are constants; values that differ depend on the
batch and may only feed a Reshape's target shape, where they become 0 (copy the batch
dimension) or -1 (infer). Any other use is an error that names the node.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from plutflow.errors import UnsupportedModelError

#: The two batch sizes used to tell constant values from batch-dependent ones.
PROBE_BATCHES = (3, 5)

#: Ops never folded, even on constant inputs (random or stateful).
_NEVER_FOLD = {
    "RandomNormal",
    "RandomUniform",
    "RandomNormalLike",
    "RandomUniformLike",
    "Multinomial",
    "Bernoulli",
    "Dropout",
}


def _static_dims(vi: onnx.ValueInfoProto | None, batch: int) -> list[int] | None:
    if vi is None or not vi.type.HasField("tensor_type"):
        return None
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    dims = []
    for i, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value"):
            dims.append(d.dim_value)
        elif i == 0:
            dims.append(batch)  # the symbolic batch
        else:
            return None
    return dims


def _eval(node: onnx.NodeProto, inputs: list[np.ndarray | None], opset: int) -> list[np.ndarray]:
    feeds = {name: value for name, value in zip(node.input, inputs, strict=True) if name}
    ref = ReferenceEvaluator(node, opsets={"": opset})
    return [np.asarray(v) for v in ref.run(None, feeds)]


def _resolve_reshape_target(
    node: onnx.NodeProto, values: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    a, b = (np.asarray(v, dtype=np.int64) for v in values)
    target = a.copy()
    varying = np.nonzero(a != b)[0]
    for i in varying:
        if i == 0 and a[0] == PROBE_BATCHES[0] and b[0] == PROBE_BATCHES[1]:
            target[0] = 0  # copy the batch dimension of the input
        elif len(varying) == 1 and -1 not in a:
            target[i] = -1
        else:
            raise UnsupportedModelError(
                node.name,
                node.op_type,
                "reshape target depends on the batch size in a way "
                "plutflow cannot resolve to a static shape",
            )
    return target


def fold_constants(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """Return a copy of ``model`` with every constant-computable node replaced by an
    initializer. ``model`` must carry inferred shapes in ``graph.value_info``."""
    g = model.graph
    infos = {vi.name: vi for vi in (*g.input, *g.value_info, *g.output)}
    envs: list[dict[str, np.ndarray]] = [{}, {}]
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        envs[0][init.name] = envs[1][init.name] = arr
    kept: list[onnx.NodeProto] = []
    for node in g.node:
        if node.op_type == "Constant":
            value = _eval(node, [], opset)[0]
            envs[0][node.output[0]] = envs[1][node.output[0]] = value
            continue
        if node.op_type == "Shape":
            shapes = [_static_dims(infos.get(node.input[0]), b) for b in PROBE_BATCHES]
            if shapes[0] is not None:
                attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
                start, end = attrs.get("start", 0), attrs.get("end")
                for env, dims in zip(envs, shapes, strict=True):
                    env[node.output[0]] = np.asarray(dims[start:end], dtype=np.int64)
                continue
        foldable = node.op_type not in _NEVER_FOLD and node.domain in ("", "ai.onnx")
        if foldable and all(not n or n in envs[0] for n in node.input) and any(node.input):
            for env in envs:
                outs = _eval(node, [env.get(n) if n else None for n in node.input], opset)
                for name, value in zip(node.output, outs, strict=False):
                    env[name] = value
            continue
        kept.append(node)

    # constants used by the nodes that stay
    inits: dict[str, np.ndarray] = {}
    for node in kept:
        for idx, name in enumerate(node.input):
            if not name or name not in envs[0]:
                continue
            a, b = envs[0][name], envs[1][name]
            if a.shape == b.shape and np.array_equal(a, b):
                inits[name] = a
            elif node.op_type == "Reshape" and idx == 1:
                inits[name] = _resolve_reshape_target(node, (a, b))
            else:
                raise UnsupportedModelError(
                    node.name,
                    node.op_type,
                    f"input '{name}' depends on the batch size and is not a Reshape target; "
                    "plutflow needs static shapes apart from the batch",
                )
    for name in g.output:
        if name.name in envs[0] and name.name not in inits:
            inits[name.name] = envs[0][name.name]

    new_graph = onnx.helper.make_graph(
        kept,
        g.name,
        list(g.input),
        list(g.output),
        initializer=[numpy_helper.from_array(np.asarray(v), n) for n, v in inits.items()],
    )
    out = onnx.helper.make_model(new_graph, opset_imports=list(model.opset_import))
    out.ir_version = model.ir_version
    return out
