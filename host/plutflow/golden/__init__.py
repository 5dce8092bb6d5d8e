"""The golden integer executor: the bit-exact contract every backend is checked against."""

from plutflow.golden.executor import GoldenExecutor, run_golden

__all__ = ["GoldenExecutor", "run_golden"]
