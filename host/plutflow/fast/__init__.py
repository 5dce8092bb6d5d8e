"""The fast exact integer engine (docs/fast.md): same results as the golden executor,
at native speed. Needs numba (``pip install plutflow[fast]``)."""

from __future__ import annotations

from plutflow.fast.engine import available, executor

__all__ = ["available", "executor"]
