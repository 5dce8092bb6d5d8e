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


def resolve(engine: str = "auto") -> str:
    """``fast`` or ``golden``: what ``engine`` (auto, fast or golden) means here."""
    if engine not in ENGINES:
        raise PlutflowError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")
    if engine == "auto":
        return "fast" if available() else "golden"
    if engine == "fast" and not available():
        raise PlutflowError("the fast engine needs numba: pip install 'plutflow[fast]'")
    return engine


def executor(model: IntModel, engine: str = "auto"):
    """An executor of ``model``: ``fast``, ``golden``, or ``auto`` (fast when available).

    Both have ``run(codes, keep=False)`` and ``run_layer`` and return identical integers.
    """
    if resolve(engine) == "golden":
        return GoldenExecutor(model)
    from plutflow.fast.plan import FastExecutor

    return FastExecutor(model)
