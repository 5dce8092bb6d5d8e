"""Which exact integer dot-product path this CPU can run (docs/fast.md).

Paths, best first:

``vnni512``
    AVX-512 VNNI ``vpdpbusd`` (u8 x s8 -> int32, four products per lane, no saturation).
``generic``
    Plain int32 loops compiled by numba for the host CPU; LLVM vectorises them with the
    widening multiplies the CPU has (``vpmaddwd``/``vpmulld`` on AVX2). Exact everywhere.

A saturating path (``vpmaddubsw``) is never used. ``PLUTFLOW_FAST_PATH`` forces a path
(for tests and comparisons); asking for one the CPU lacks is an error.
"""

from __future__ import annotations

import os
from functools import lru_cache

from plutflow.errors import PlutflowError

PATHS = ("vnni512", "generic")
_NEEDS = {"vnni512": ("avx512f", "avx512bw", "avx512vnni"), "generic": ()}


@lru_cache(maxsize=1)
def host_features() -> frozenset[str]:
    """The host CPU's feature names as LLVM spells them (``avx2``, ``avx512vnni``, ...)."""
    import llvmlite.binding as llvm

    return frozenset(k for k, v in llvm.get_host_cpu_features().items() if v)


def cpu_summary() -> dict[str, object]:
    """The CPU name and the features that matter to the integer kernels, for reports."""
    import llvmlite.binding as llvm

    feats = host_features()
    return {
        "cpu": llvm.get_host_cpu_name(),
        "avx2": "avx2" in feats,
        "avx512_vnni": "avx512vnni" in feats,
        "avx_vnni": "avxvnni" in feats,
    }


def supported(path: str) -> bool:
    """Whether this CPU can run ``path``."""
    return all(f in host_features() for f in _NEEDS[path])


def select_path(requested: str | None = None) -> str:
    """The path to use: ``requested``, else ``$PLUTFLOW_FAST_PATH``, else the best one."""
    want = requested or os.environ.get("PLUTFLOW_FAST_PATH") or None
    if want is None:
        return next(p for p in PATHS if supported(p))
    if want not in PATHS:
        raise PlutflowError(f"unknown fast path '{want}' (choose from {', '.join(PATHS)})")
    if not supported(want):
        missing = [f for f in _NEEDS[want] if f not in host_features()]
        raise PlutflowError(f"this CPU cannot run the '{want}' path (lacks {', '.join(missing)})")
    return want
