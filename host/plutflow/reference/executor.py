"""Run an IR graph in float with the reference ops."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from plutflow import activations
from plutflow.errors import ShapeError
from plutflow.ir.graph import Graph, Node, fmt_shape
from plutflow.reference.ops import FLOAT_OPS

#: Called with (tensor name, value) for every tensor computed; a fused activation's input
#: is reported as ``"<output>::pre"``.
Observer = Callable[[str, np.ndarray], None]

PRE_SUFFIX = "::pre"


def check_inputs(graph: Graph, feeds: Mapping[str, np.ndarray]) -> None:
    """Raise :class:`ShapeError` if a feed is missing or its shape does not fit the graph."""
    for name in graph.inputs:
        if name not in feeds:
            raise ShapeError(f"missing input '{name}'; the model's inputs are {graph.inputs}")
        want = graph.shapes.get(name)
        got = np.shape(feeds[name])
        if want is None:
            continue
        if len(want) != len(got) or any(
            w is not None and w != g for w, g in zip(want, got, strict=True)
        ):
            raise ShapeError(f"input '{name}' has shape {got}, the model expects {fmt_shape(want)}")


def fused_activation(graph: Graph, node: Node, y: np.ndarray) -> np.ndarray:
    """Apply ``node``'s fused activation, if any, to its output ``y``."""
    act = node.attrs.get("act")
    if not act:
        return y
    params = dict(act)
    if act["op"] == "PRelu":
        params["slope"] = graph.constants[act["slope"]]
    return activations.apply(act["op"], y, params)


def run_float(
    graph: Graph,
    feeds: Mapping[str, np.ndarray],
    observe: Observer | None = None,
    transform: Callable[[str, np.ndarray], np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Execute ``graph`` on ``feeds`` and return its outputs by name.

    ``observe``, if given, sees every intermediate tensor (calibration uses it);
    ``transform`` may replace each input and node output (fake quantization uses it).
    """
    check_inputs(graph, feeds)
    env: dict[str, np.ndarray | None] = {"": None}
    env.update(graph.constants)
    env.update(feeds)
    if transform:
        for name in graph.inputs:
            env[name] = transform(name, np.asarray(feeds[name]))
    if observe:
        for name in graph.inputs:
            observe(name, np.asarray(feeds[name]))
    for node in graph.nodes:
        outs = FLOAT_OPS[node.op](node, [env[name] for name in node.inputs])
        if node.attrs.get("act"):
            if observe:
                observe(node.outputs[0] + PRE_SUFFIX, outs[0])
            outs[0] = fused_activation(graph, node, outs[0])
        for name, value in zip(node.outputs, outs, strict=False):
            if transform and name:
                value = transform(name, value)
            env[name] = value
            if observe and name:
                observe(name, value)
    return {name: env[name] for name in graph.outputs}
