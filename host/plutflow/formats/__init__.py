"""Packers: integer layers to the accelerator's dense stream formats (docs/spec.md 7)."""

from plutflow.formats.bitpack import pack_fields, unpack_fields
from plutflow.formats.layers import PackedLayer, pack_layer, pack_model, unpack_layer

__all__ = [
    "PackedLayer",
    "pack_fields",
    "pack_layer",
    "pack_model",
    "unpack_fields",
    "unpack_layer",
]
