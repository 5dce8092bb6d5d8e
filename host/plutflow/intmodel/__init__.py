"""The serialisable pure-integer model."""

from plutflow.intmodel.model import FORMAT_VERSION, IntLayer, IntModel, TensorSpec

__all__ = ["FORMAT_VERSION", "IntLayer", "IntModel", "TensorSpec"]
