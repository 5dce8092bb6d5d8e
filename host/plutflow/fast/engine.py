"""Choosing an executor: the fast engine when numba is present, else the golden one."""

from __future__ import annotations

import importlib.util

from plutflow.errors import PlutflowError
from plutflow.golden.executor import GoldenExecutor
from plutflow.intmodel.model import IntModel

ENGINES = ("auto", "fast", "golden")


def available() -> bool:
    """Whether the fast engine can run here (numba is installed)."""
    return importlib.util.find_spec("numba") is not None


def executor(model: IntModel, engine: str = "auto"):
    """An executor of ``model``: ``fast``, ``golden``, or ``auto`` (fast when available).

    Both have ``run(codes, keep=False)`` and return identical integers.
    """
    if engine not in ENGINES:
        raise PlutflowError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")
    if engine == "golden" or (engine == "auto" and not available()):
        return GoldenExecutor(model)
    if not available():
        raise PlutflowError("the fast engine needs numba: pip install 'plutflow[fast]'")
    from plutflow.fast.plan import FastExecutor

    return FastExecutor(model)
