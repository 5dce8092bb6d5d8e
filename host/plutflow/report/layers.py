"""Per-layer table of an integer model."""

from __future__ import annotations

from typing import Any

import numpy as np

from plutflow.formats.layers import pack_layer
from plutflow.intmodel.model import IntModel
from plutflow.intmodel.schema import stored_weights, weight_bits, weight_scheme
from plutflow.report.markdown import markdown_table


def _fmt_shape(shape: tuple) -> str:
    return "x".join("N" if d is None else str(d) for d in shape)


def layer_rows(model: IntModel) -> list[dict[str, Any]]:
    """One row per layer: op, output shape and quantization, parameters and requant."""
    rows = []
    wreport = model.meta.get("quantizer", {}).get("weights", {})
    for lay in model.layers:
        out = model.tensors[lay.outputs[0]]
        p = lay.params
        macs = 0
        if lay.op in ("conv", "gemm"):
            w = stored_weights(lay)
            per_out = int(np.prod(w.shape[1:]))
            macs = per_out * int(np.prod([d for d in out.shape[1:] if d is not None]))
        requant = ""
        if "mult" in p and "shift" in p:
            requant = (
                f"M0 {int(p['mult'].min())}..{int(p['mult'].max())}, "
                f"n {int(p['shift'].min())}..{int(p['shift'].max())}"
            )
        elif "mult" in lay.attrs:
            requant = f"M0 {lay.attrs['mult']}, n {lay.attrs['shift']}"
        elif "mult_a" in lay.attrs:
            requant = f"M0 {lay.attrs['mult_a']}/{lay.attrs['mult_b']}, n {lay.attrs['shift']}"
        scheme, sqnr, packed = "", "", 0
        if lay.op in ("conv", "gemm"):
            in_bits = model.tensors[lay.inputs[0]].bits
            scheme = f"W{weight_bits(lay)}A{in_bits} {weight_scheme(lay)}"
            if lay.name in wreport:
                sqnr = f"{wreport[lay.name]['sqnr_db']:.1f}"
            packed = pack_layer(lay).total_bytes
        act = lay.attrs.get("activation", "")
        if lay.op == "add" and lay.attrs.get("lo", out.qmin) > out.qmin:
            act = "clamp"
        rows.append(
            {
                "layer": lay.name,
                "op": lay.op + (f"+{act}" if act else ""),
                "scheme": scheme,
                "sqnr_db": sqnr,
                "packed_bytes": packed,
                "output": _fmt_shape(out.shape),
                "dtype": f"{out.dtype}/{out.bits}b",
                "zero_point": out.zero_point,
                "scale": out.scale,
                "param_bytes": int(sum(a.nbytes for a in p.values())),
                "macs": macs,
                "requant": requant,
            }
        )
    return rows


def layer_table(model: IntModel, markdown: bool = False) -> str:
    """The rows of :func:`layer_rows` as aligned text or a markdown table."""
    rows = layer_rows(model)
    cols = [
        "layer",
        "op",
        "scheme",
        "sqnr_db",
        "packed_bytes",
        "output",
        "dtype",
        "zero_point",
        "macs",
        "requant",
    ]
    cells = [[f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols] for r in rows]
    if markdown:
        return "\n".join(markdown_table(cols, cells))
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(cols)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*cols)] + [fmt.format(*c) for c in cells])
