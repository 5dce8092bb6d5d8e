"""The overlay's identity and register map, read from ``plutflow/data/overlay.json`` (the
single source of truth shared with the Vivado scripts; ``docs/spec.md`` section 8)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from plutflow.formats.accel import OverlayConfig

SPEC_FILE = Path(__file__).resolve().parents[1] / "data" / "overlay.json"


@lru_cache(maxsize=1)
def overlay_spec() -> dict[str, Any]:
    return json.loads(SPEC_FILE.read_text())


def reg(name: str) -> int:
    """Byte offset of a control register."""
    return int(overlay_spec()["registers"][name])


VLNV: str = overlay_spec()["vlnv"]
ID_VALUE: int = int(overlay_spec()["id"])
VERSION_VALUE: int = int(overlay_spec()["version"])
CLOCK_MHZ: float = float(overlay_spec()["clock_mhz"])
AP_CTRL, GIE, IER, ISR = reg("AP_CTRL"), reg("GIE"), reg("IER"), reg("ISR")
ID, VERSION, PE_CONFIG, STATUS = reg("ID"), reg("VERSION"), reg("PE_CONFIG"), reg("STATUS")
CYCLES_LO, CYCLES_HI = reg("CYCLES_LO"), reg("CYCLES_HI")
STALLS_LO, BUF_CONFIG, COMPUTE = reg("STALLS_LO"), reg("BUF_CONFIG"), reg("COMPUTE")
IN_WORDS, OUT_WORDS = reg("IN_WORDS"), reg("OUT_WORDS")


def board_overlay() -> OverlayConfig:
    """The overlay configuration the KV260 bitstream is built with."""
    return OverlayConfig(**overlay_spec()["board_overlay"])
