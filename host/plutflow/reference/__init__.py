"""Float reference executor of the IR, in numpy: one reference implementation per op."""

from plutflow.reference.executor import run_float
from plutflow.reference.ops import FLOAT_OPS

__all__ = ["FLOAT_OPS", "run_float"]
