"""Layer placement: which layers run on the overlay and which on the host golden code."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from plutflow.formats.accel import (
    LayerGeometry,
    OverlayConfig,
    UnsupportedLayer,
    check_supported,
)
from plutflow.intmodel.model import IntLayer, IntModel
from plutflow.runtime.lowering import im2col_pays_off, lower_layer, lowered_geometry


@dataclass
class LayerPlan:
    """Where one layer runs, and why it does not run on the overlay."""

    layer: str
    op: str
    target: str  # "overlay" | "host"
    reason: str = ""
    weight_scheme: str = ""
    weight_bits: int = 0
    in_bits: int = 0
    out_bits: int = 0
    geometry: dict[str, Any] | None = None
    lowering: str = ""  # "im2col": runs as a 1x1 convolution on host-gathered windows

    @property
    def geo(self) -> LayerGeometry | None:
        return None if self.geometry is None else LayerGeometry(**self.geometry)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LayerPlan:
        return cls(**d)


def input_shape(model: IntModel, layer: IntLayer) -> tuple[int, ...]:
    """The static shape of a layer's first input with batch 1."""
    shape = model.tensors[layer.inputs[0]].shape
    return tuple(1 if s is None else int(s) for s in shape)


def place_layer(model: IntModel, layer: IntLayer, cfg: OverlayConfig) -> LayerPlan:
    in_spec = model.tensors[layer.inputs[0]]
    out_spec = model.tensors[layer.outputs[0]]
    plan = LayerPlan(layer.name, layer.op, "host", in_bits=in_spec.bits, out_bits=out_spec.bits)
    if layer.op not in ("conv", "gemm"):
        plan.reason = f"{layer.op} runs on the host"
        return plan
    plan.weight_scheme = layer.attrs.get("weight_scheme", "int8")
    plan.weight_bits = int(layer.attrs.get("weight_bits", 8))
    try:
        geo = check_supported(layer, in_spec, input_shape(model, layer), cfg)
    except UnsupportedLayer as exc:
        plan.reason = str(exc)
        return plan
    if im2col_pays_off(geo, cfg):
        lowered, low_geo = lower_layer(layer), lowered_geometry(geo)
        try:
            geo = check_supported(lowered, in_spec, (1, low_geo.c, low_geo.h, low_geo.w), cfg)
            plan.lowering = "im2col"
        except UnsupportedLayer:
            pass
    plan.target = "overlay"
    plan.geometry = asdict(geo)
    return plan


def overlay_layer(layer: IntLayer, plan: LayerPlan) -> IntLayer:
    """The layer as the overlay runs it (lowered if the plan says so)."""
    if plan.lowering == "im2col":
        return lower_layer(layer)
    return layer


def plan_model(model: IntModel, cfg: OverlayConfig) -> list[LayerPlan]:
    """Place every layer of ``model`` for the overlay ``cfg``."""
    return [place_layer(model, lay, cfg) for lay in model.layers]
