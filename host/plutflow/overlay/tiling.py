"""Tile sizes: how an overlay op is cut to fit the on-chip buffers (``docs/spec.md`` 9.7).

A CONV tile covers ``g_t`` output channel groups, ``c_t`` input channel groups (fewer
than all: the partial sums of the groups stay on chip and only the last tile
requantizes), and a block of ``oh_t`` x ``ow_t`` output pixels whose input rows and
columns (with the halo of the kernel) fit the activation buffer. Cutting never changes an
output code: every tile computes the same integer sums.
"""

from __future__ import annotations

from dataclasses import dataclass

from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.lowering import Geometry, NotOnOverlay, OverlayOp


@dataclass(frozen=True)
class Tiles:
    g_t: int  # output channel groups per tile
    c_t: int  # input channel groups per tile (CONV; = all when not split)
    oh_t: int
    ow_t: int


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _rows_fitting(g: Geometry, limit_words: int, cols: int, groups: int) -> int:
    """Most output rows whose input rows x ``cols`` x ``groups`` fit ``limit_words``."""
    rows_in = limit_words // max(cols * groups, 1)
    span = (g.kh - 1) * g.dh + 1
    if rows_in < span:
        return 0
    return (rows_in - span) // g.sh + 1


def _cols_fitting(g: Geometry, limit_words: int, rows_in: int, groups: int) -> int:
    cols_in = limit_words // max(rows_in * groups, 1)
    span = (g.kw - 1) * g.dw + 1
    if cols_in < span:
        return 0
    return (cols_in - span) // g.sw + 1


def choose_tiles(op: OverlayOp, cfg: OverlayConfig, ow: int | None = None) -> Tiles:
    """Tile sizes for ``op`` on ``cfg`` (``ow``: the output width when the batch forms
    the columns of a gemm). Raises NotOnOverlay when even one output pixel does not fit."""
    g = op.geo
    ow = g.ow if ow is None else ow
    p = cfg.p
    mg, cg = _ceil(g.m, p), _ceil(g.c, p)
    per_ch_tab = op.table is not None and op.table.ndim == 2
    if op.kind == "CONV":
        c_t = min(cg, cfg.wdepth // g.taps)
        if c_t < 1:
            raise NotOnOverlay(f"a {g.kh}x{g.kw} kernel needs {g.taps} weight tiles per "
                               f"group, the buffer holds {cfg.wdepth}")  # fmt: skip
        span_h = (g.kh - 1) * g.dh + 1
        # one output row, as wide as fits
        ow_t = min(ow, _cols_fitting(g, cfg.adepth, span_h, c_t))
        while ow_t < 1 and c_t > 1:
            c_t = max(1, c_t // 2)
            ow_t = min(ow, _cols_fitting(g, cfg.adepth, span_h, c_t))
        if ow_t < 1:
            raise NotOnOverlay(f"the {g.kh}x{g.kw} window of one output pixel does not fit "
                               f"the activation buffer ({cfg.adepth} words)")  # fmt: skip
        g_t = min(mg, cfg.wdepth // (g.taps * c_t), cfg.mdepth)
        if per_ch_tab:
            g_t = min(g_t, cfg.tslots)
        split = c_t < cg
        if split:
            ow_t = min(ow_t, cfg.pdepth)
            g_t = max(1, min(g_t, cfg.pdepth // ow_t))
        oh_t = min(g.oh, _rows_fitting(g, cfg.adepth, g.in_cols(ow_t), c_t))
        if split:
            oh_t = max(1, min(oh_t, cfg.pdepth // (ow_t * g_t)))
        return Tiles(g_t, c_t, max(oh_t, 1), ow_t)
    # vector kinds: channel groups of A and of the output are the same
    g_t = mg
    if op.kind == "DW":
        g_t = min(g_t, cfg.wdepth // g.taps, cfg.mdepth)
    if op.rq is not None:
        g_t = min(g_t, cfg.mdepth)
    if per_ch_tab:
        g_t = min(g_t, cfg.tslots)
    if g_t < 1:
        raise NotOnOverlay("a depthwise kernel larger than the weight buffer")
    span_h = (g.kh - 1) * g.dh + 1
    ow_t = min(ow, _cols_fitting(g, cfg.adepth, span_h, g_t))
    while ow_t < 1 and g_t > 1:
        g_t = max(1, g_t // 2)
        ow_t = min(ow, _cols_fitting(g, cfg.adepth, span_h, g_t))
    if ow_t < 1:
        raise NotOnOverlay(f"the {g.kh}x{g.kw} window does not fit the activation buffer")
    oh_t = min(g.oh, _rows_fitting(g, cfg.adepth, g.in_cols(ow_t), g_t))
    if op.kind in ("ADD", "MUL") and not op.b_bcast:  # operand B fills the other bank
        oh_t = min(oh_t, max(1, cfg.adepth // (ow_t * g_t)))
    return Tiles(g_t, g_t, max(oh_t, 1), ow_t)
