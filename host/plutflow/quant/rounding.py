"""Rounding reconstruction: each low-bit weight rounds up or down so that the layer's
output, not the weight itself, is reproduced best on calibration data.

For one output channel with weights ``w`` (in units of the channel's scale) and the
layer's input ``x``, the output error of the rounded ``q`` is ``(q - w)^T H (q - w)``
with ``H = E[x x^T]``, the second moment of the input patches. Rounding every weight to
its nearest level ignores ``H``'s off-diagonal terms. Here the weights are rounded one
input position at a time, and the error each rounding leaves is fed forward onto the
weights not yet rounded through the Cholesky factor of ``H^-1`` (the optimal-brain
quantization update, as in GPTQ); every weight still ends on one of the two levels next
to its target (as in AdaRound), so the weight format, the level set and the
per-channel scales do not change. Works for every scheme: uniform grids and the
sign-magnitude level sets of PoT, UPoT and P-LUT.

Given the input codes the integer layer will read (``x^``, the input rounded to its
activation grid), the target is not ``w`` but the least-squares weight
``w* = w E[x x^^T] E[x^ x^^T]^-1`` that maps the rounded input to the float output, and
``H = E[x^ x^^T]``: the rounding then also makes up for the input's quantization error
(what matters at 4-bit activations).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from plutflow.ir.graph import Graph, Node
from plutflow.kernels import windows as win
from plutflow.kernels.conv import im2col
from plutflow.notes import progress_bar
from plutflow.quant.weights import QuantizedWeights, encode_levels
from plutflow.reference.executor import run_float

ROUNDINGS = ("nearest", "reconstruct")
#: Diagonal damping of H, as a share of its mean diagonal.
DAMPING = 0.01


def input_hessians(
    graph: Graph,
    x: np.ndarray,
    batch: int = 32,
    progress: bool = False,
    specs: dict | None = None,
) -> dict[str, list[np.ndarray]]:
    """Input statistics of every Conv/Gemm, one entry per group, in the order of the
    layer's flattened weight (input channel, then kernel taps).

    Without ``specs``: ``H = E[x x^T]`` of the float input patches. With ``specs``
    (tensor name -> TensorSpec of the integer model) the layer sees its input rounded to
    those codes, ``x^``: each entry is the pair ``(E[x^ x^^T], E[x x^^T])``, so that the
    rounding also makes up for the input's quantization error."""
    readers: dict[str, list[Node]] = {}
    for n in graph.nodes:
        if n.op in ("Conv", "Gemm"):
            readers.setdefault(n.inputs[0], []).append(n)
    sums: dict[str, np.ndarray] = {}
    count: dict[str, int] = {}

    def observe(name: str, value: np.ndarray) -> None:
        for node in readers.get(name, ()):
            kernel = tuple(graph.const(node.inputs[1]).shape[2:])
            v = np.asarray(value, np.float64)
            cols = _patches(node, v, kernel)  # (G, P, Kg)
            if specs is not None and name in specs:
                spec = specs[name]
                vq = spec.dequantize(spec.quantize(v))
                colq = _patches(node, vq, kernel)
                h = np.stack([np.einsum("gpi,gpj->gij", colq, colq),
                              np.einsum("gpi,gpj->gij", cols, colq)], axis=1)  # fmt: skip
            else:
                h = np.einsum("gpi,gpj->gij", cols, cols)
            sums[node.name] = sums.get(node.name, 0) + h
            count[node.name] = count.get(node.name, 0) + cols.shape[1]

    chunks: Iterable[int] = range(0, len(x), batch)
    for i in progress_bar(list(chunks), progress=progress, desc="rounding statistics",
                          unit="batch"):  # fmt: skip
        run_float(graph, {graph.inputs[0]: x[i : i + batch]}, observe=observe)
    return {k: list(v / max(count[k], 1)) for k, v in sums.items()}


def _patches(node: Node, x: np.ndarray, kernel: tuple[int, ...]) -> np.ndarray:
    """Input patches of a Conv (G, P, Cg * taps) or the rows of a Gemm (1, N, K)."""
    if node.op == "Gemm":
        return x.reshape(1, len(x), -1)
    a = node.attrs
    geom = win.resolve(x.shape[2:], kernel, a.get("strides"), a.get("dilations"),
                       a.get("pads"), a.get("auto_pad", "NOTSET"))  # fmt: skip
    cols = im2col(x, geom, 0.0)  # (P, taps, C)
    g = int(a.get("group", 1))
    p, taps, c = cols.shape
    cols = cols.reshape(p, taps, g, c // g).transpose(2, 0, 3, 1)  # (G, P, Cg, taps)
    return cols.reshape(g, p, (c // g) * taps)


def _grid(qw: QuantizedWeights) -> np.ndarray:
    """Every integer value a weight of this format can take, ascending."""
    if qw.levels is None:
        q = 2 ** (qw.bits - 1) - 1
        return np.arange(-q, q + 1, dtype=np.float64)
    mags = np.unique(qw.levels.astype(np.float64))
    return np.unique(np.concatenate([-mags, mags]))


def _round_group(t: np.ndarray, grid: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Round the rows of ``t`` (M, K) onto ``grid`` minimising each row's
    ``(q - t)^T h (q - t)``, every value on one of its two neighbours in the grid."""
    k = t.shape[1]
    h = h.copy()
    dead = np.diag(h) <= 0
    h[dead, dead] = 1.0
    h[np.diag_indices(k)] += DAMPING * float(np.mean(np.diag(h)))
    try:
        u = np.linalg.cholesky(np.linalg.inv(h)).T  # upper factor of H^-1
    except np.linalg.LinAlgError:
        u = np.diag(1.0 / np.sqrt(np.diag(h)))
    hi_idx = np.clip(np.searchsorted(grid, t, side="left"), 0, len(grid) - 1)
    lo_idx = np.clip(hi_idx - 1, 0, len(grid) - 1)
    down, up = grid[lo_idx], grid[hi_idx]
    work = t.astype(np.float64).copy()
    out = np.empty_like(work)
    for j in range(k):
        col = work[:, j]
        q = np.where(np.abs(col - down[:, j]) <= np.abs(col - up[:, j]), down[:, j], up[:, j])
        out[:, j] = q
        err = (col - q) / u[j, j]
        work[:, j + 1 :] -= err[:, None] * u[j, j + 1 :][None, :]
    return out


def _output_error(q: np.ndarray, t: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``(q - t)^T h (q - t)`` of every row."""
    d = q - t
    return np.einsum("mi,ij,mj->m", d, h, d)


def reconstruct(
    qw: QuantizedWeights, w: np.ndarray, hessians: list[np.ndarray]
) -> QuantizedWeights:
    """``qw`` with every weight re-rounded against the layer's input statistics."""
    m = w.shape[0]
    groups = len(hessians)
    t = w.reshape(m, -1).astype(np.float64) / qw.scale[:, None]
    mg = m // groups
    if np.ndim(hessians[0]) == 3:  # (E[x^ x^^T], E[x x^^T]): the least-squares target
        hs = []
        for g, (hq, cross) in enumerate(hessians):
            rows = slice(g * mg, (g + 1) * mg)
            damped = hq + DAMPING * float(np.mean(np.diag(hq))) * np.eye(len(hq))
            t[rows] = np.linalg.solve(damped.T, (t[rows] @ cross).T).T
            hs.append(hq)
        hessians = hs
    grid = _grid(qw)
    q = np.empty_like(t)
    near = qw.values.reshape(m, -1).astype(np.float64)
    for g, h in enumerate(hessians):
        rows = slice(g * mg, (g + 1) * mg)
        q[rows] = _round_group(t[rows], grid, h)
        # a row keeps nearest rounding where that is no worse (error feedback is greedy)
        worse = _output_error(q[rows], t[rows], h) > _output_error(near[rows], t[rows], h)
        q[rows][worse] = near[rows][worse]
    values = q.reshape(w.shape)
    if qw.levels is None:
        return QuantizedWeights(qw.scheme, qw.bits, values.astype(np.int8), qw.scale)
    return encode_levels(values, qw.levels, qw.bits, qw.scheme, qw.scale, qw.terms)
