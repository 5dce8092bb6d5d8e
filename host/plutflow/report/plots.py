"""matplotlib for the reports' plots, headless, or one clear error naming the extra."""

from __future__ import annotations

from types import ModuleType

from plutflow.errors import PlutflowError


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    try:
        import matplotlib
    except ImportError:
        raise PlutflowError("plots need matplotlib: pip install 'plutflow[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
