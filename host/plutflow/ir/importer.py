"""ONNX to IR: validation, symbolic-batch shape inference, constant folding, normalisation.

The importer either returns a :class:`~plutflow.ir.graph.Graph` whose every node the
float reference can execute, or raises :class:`~plutflow.errors.UnsupportedModelError`
naming the node, its op and the reason. It never returns a silently wrong graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from plutflow.activations import ACTIVATION_OPS
from plutflow.errors import PlutflowError, UnsupportedModelError
from plutflow.ir import passes
from plutflow.ir.folding import fold_constants
from plutflow.ir.graph import Graph, Node, Shape
from plutflow.ir.movement import canonicalise_movement
from plutflow.ir.prequant import strip_quantization
from plutflow.ir.structure import check_conv_channels, check_initializers, sort_and_check

#: Ops the IR executes at run time.
SUPPORTED_OPS = (
    "Conv", "Gemm", "MatMul", "BatchNormalization",
    *ACTIVATION_OPS,
    "MaxPool", "AveragePool", "GlobalAveragePool",
    "Add", "Mul", "Concat",
    "Flatten", "Reshape", "Transpose",
    "Slice", "Split", "Pad", "Resize", "Upsample", "ReduceMean",
    "Softmax", "Identity", "Dropout",
)  # fmt: skip
#: Ops accepted only when they fold to constants (shape arithmetic), or rewritten on import.
FOLD_ONLY_OPS = (
    "Shape",
    "Gather",
    "Cast",
    "Unsqueeze",
    "Squeeze",
    "Constant",
    "ConstantOfShape",
    "Div",
    "Sub",
    "Range",
    "Expand",
)

_SUPPORTED_AUTO_PAD = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def load_model(source: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    """Read an ONNX file (or pass a ModelProto through) and check it is well formed."""
    if isinstance(source, onnx.ModelProto):
        model = source
    else:
        path = Path(source)
        if not path.exists():
            raise PlutflowError(f"model file not found: {path}")
        try:
            model = onnx.load(str(path))
        except Exception as exc:  # protobuf raises several types
            raise PlutflowError(f"{path} is not a readable ONNX model: {exc}") from exc
    if not model.graph.node:
        raise PlutflowError("the ONNX model has no nodes")
    return model


def _opset(model: onnx.ModelProto) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    return 1


def _symbolic_batch(model: onnx.ModelProto) -> None:
    """Mark dim 0 of every runtime input of rank >= 2 as the symbolic batch 'N'."""
    inits = {i.name for i in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        if len(dims) >= 2:
            dims[0].Clear()
            dims[0].dim_param = "N"
    for vi in model.graph.output:
        dims = vi.type.tensor_type.shape.dim
        if len(dims) >= 1:
            dims[0].Clear()
            dims[0].dim_param = "N"


def parse_input_shape(text: str) -> tuple[str | None, tuple[int, ...]]:
    """``NAME=1x3x48x192`` (or ``1x3x48x192`` for the only input) as (name, dims)."""
    name, _, dims = text.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.lower().replace(",", "x").split("x"))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise PlutflowError(
            f"bad input shape '{text}': write NAME=1x3x48x192 (positive sizes, x-separated)"
        )
    return (name or None), shape


def _set_input_shapes(model: onnx.ModelProto, shapes: dict[str | None, tuple[int, ...]]) -> None:
    """Fix the dims of the named runtime inputs (None: the only one) before inference."""
    inputs = list(model.graph.input)
    for name, dims in shapes.items():
        if name is None:
            if len(inputs) != 1:
                names = ", ".join(vi.name for vi in inputs)
                raise PlutflowError(f"the model has inputs {names}: write NAME=shape")
            name = inputs[0].name
        vi = next((v for v in inputs if v.name == name), None)
        if vi is None:
            names = ", ".join(v.name for v in inputs)
            raise PlutflowError(f"--input-shape names '{name}'; the model's inputs are {names}")
        old = vi.type.tensor_type.shape.dim
        if len(old) != len(dims):
            raise PlutflowError(
                f"input '{name}' has rank {len(old)}; --input-shape gives {len(dims)} dims"
            )
        for d, (o, new) in enumerate(zip(old, dims, strict=True)):
            if o.HasField("dim_value") and o.dim_value != new and d > 0:
                raise PlutflowError(
                    f"input '{name}' has size {o.dim_value} on axis {d}; --input-shape gives {new}"
                )
            o.Clear()
            o.dim_value = new


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:
        raise PlutflowError(f"ONNX shape inference failed: {exc}") from exc


def _shape_of(vi: onnx.ValueInfoProto) -> Shape | None:
    if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return None
    return tuple(
        d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim
    )


def _check_supported(node: onnx.NodeProto, opset: int, tensor_inputs: set[str]) -> None:
    op = node.op_type
    name = node.name or node.output[0]
    if node.domain not in ("", "ai.onnx"):
        raise UnsupportedModelError(name, op, f"custom domain '{node.domain}' is not supported")
    if op in FOLD_ONLY_OPS and op not in ("Div", "Sub"):
        raise UnsupportedModelError(
            name,
            op,
            "only supported on constant or shape inputs (it could not be folded "
            "because an input is computed at run time)",
        )
    if op not in SUPPORTED_OPS and op not in ("Div", "Sub"):
        raise UnsupportedModelError(
            name, op, "op is not supported; supported ops are " + ", ".join(SUPPORTED_OPS)
        )
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    for inp in node.input:
        if inp and inp not in tensor_inputs:
            raise UnsupportedModelError(name, op, f"input '{inp}' is not a tensor")
    if op in ("Conv", "MaxPool", "AveragePool"):
        pad = attrs.get("auto_pad", b"NOTSET")
        pad = pad.decode() if isinstance(pad, bytes) else pad
        if pad not in _SUPPORTED_AUTO_PAD:
            raise UnsupportedModelError(name, op, f"auto_pad={pad} is not supported")
    if op == "MaxPool" and len([o for o in node.output if o]) > 1:
        raise UnsupportedModelError(name, op, "the Indices output is not supported")
    if op == "BatchNormalization" and (
        attrs.get("training_mode", 0) or len([o for o in node.output if o]) > 1
    ):
        raise UnsupportedModelError(name, op, "training mode is not supported (inference only)")


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list | tuple):
            v = [int(x) if isinstance(x, int) else x for x in v]
        out[a.name] = v
    return out


def _normalise(node: Node, opset: int, consts: dict[str, np.ndarray]) -> Node:
    """Bring attributes to one form across opsets."""
    a = node.attrs
    if node.op == "Clip" and opset < 11:
        node.attrs = {
            "min": a.get("min", -3.4028234663852886e38),
            "max": a.get("max", 3.4028234663852886e38),
        }
    if node.op == "Softmax" and opset < 13:
        node.attrs = {"axis": a.get("axis", 1), "legacy_2d": True}
    if node.op == "Dropout":
        training = node.inputs[2] if len(node.inputs) > 2 else ""
        if training and (training not in consts or bool(consts[training])):
            raise UnsupportedModelError(
                node.name, node.op, "training_mode must be a constant false (inference only)"
            )
        if a.get("is_test", 1) == 0:
            raise UnsupportedModelError(node.name, node.op, "is_test=0 (training) is not supported")
    return node


def import_onnx(
    source: str | Path | onnx.ModelProto,
    symbolic_batch: bool = True,
    optimize: bool = True,
    input_shapes: dict[str | None, tuple[int, ...]] | None = None,
) -> Graph:
    """Import an ONNX model into the plutflow IR.

    Args:
        source: a path to an ``.onnx`` file or a loaded ModelProto.
        symbolic_batch: treat dim 0 of every input of rank >= 2 as a free batch size.
        optimize: run the IR passes (Identity/Dropout removal, BN folding, MatMul+Add to
            Gemm, SiLU detection and activation fusion).
        input_shapes: input name (None: the only input) -> dims that replace symbolic
            (or agree with static) ones, for models exported with a free height or
            width; with ``symbolic_batch`` the batch stays free whatever dim 0 says.
    """
    model = onnx.ModelProto()
    model.CopyFrom(load_model(source))
    hints = strip_quantization(model)
    opset = _opset(model)
    init_names = {i.name for i in model.graph.initializer}
    # old exporters list initializers among the inputs
    real_inputs = [vi for vi in model.graph.input if vi.name not in init_names]
    del model.graph.input[:]
    model.graph.input.extend(real_inputs)
    if input_shapes:
        _set_input_shapes(model, input_shapes)
    if symbolic_batch:
        _symbolic_batch(model)
    for node in model.graph.node:
        if not node.name:
            node.name = f"{node.op_type}_{node.output[0]}" if node.output else node.op_type
    sort_and_check(model.graph)
    check_initializers(model.graph)
    model = _infer(model)
    model = fold_constants(model, opset)
    model = _infer(model)

    g = model.graph
    infos = {vi.name: vi for vi in (*g.input, *g.value_info, *g.output)}
    constants = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    tensor_inputs = set(constants) | {vi.name for vi in g.input}
    tensor_inputs |= {o for n in g.node for o in n.output}
    # non-tensor values (sequences, optionals)
    for vi in g.input:
        if not vi.type.HasField("tensor_type"):
            tensor_inputs.discard(vi.name)
    shapes: dict[str, Shape] = {}
    dtypes: dict[str, np.dtype] = {}
    for name, vi in infos.items():
        s = _shape_of(vi)
        if s is not None:
            shapes[name] = s
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            dtypes[name] = np.dtype(helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type))
    for name, arr in constants.items():
        shapes[name] = tuple(arr.shape)
        dtypes[name] = arr.dtype

    nodes: list[Node] = []
    for pnode in g.node:
        _check_supported(pnode, opset, tensor_inputs)
        node = Node(pnode.op_type, pnode.name, list(pnode.input), list(pnode.output), _attrs(pnode))
        nodes.append(_normalise(node, opset, constants))

    graph = Graph(
        nodes=nodes,
        inputs=[vi.name for vi in g.input],
        outputs=[vi.name for vi in g.output],
        constants=constants,
        shapes=shapes,
        dtypes=dtypes,
        name=g.name or "model",
        quant_hints=hints or None,
    )
    check_conv_channels(graph)
    canonicalise_movement(graph, opset)
    passes.canonicalise(graph)
    if optimize:
        passes.optimise(graph)
    graph.prune_constants()
    return graph
