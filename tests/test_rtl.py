"""RTL modules in Verilator through cocotb (bit-exact against the golden arithmetic where
they compute)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))

from harness import ACCEL_TEST_CONFIGS, run_accel, run_cocotb


def _passed(results: Path) -> None:
    import xml.etree.ElementTree as ET

    root = ET.parse(results).getroot()
    cases = root.findall(".//testcase")
    assert cases, "no cocotb test ran"
    failures = [c.get("name") for c in cases if c.find("failure") is not None]
    assert not failures, f"cocotb failures: {failures}"


@pytest.mark.parametrize("out_w", [9])
def test_requant_random_vectors(out_w: int) -> None:
    _passed(
        run_cocotb(
            "pf_requant",
            ["pf_requant.v"],
            "test_pf_requant",
            parameters={"OUT_W": out_w},
            extra_env={"PLUTFLOW_VECTORS": "1500", "PLUTFLOW_SEED": "7"},
        )
    )


@pytest.mark.slow
def test_requant_many_vectors() -> None:
    _passed(
        run_cocotb(
            "pf_requant",
            ["pf_requant.v"],
            "test_pf_requant",
            parameters={"OUT_W": 9},
            extra_env={"PLUTFLOW_VECTORS": "50000", "PLUTFLOW_SEED": "11"},
        )
    )


def test_control_register_map() -> None:
    _passed(
        run_cocotb(
            "pf_ctrl_axil",
            ["pf_ctrl_axil.v"],
            "test_pf_ctrl_axil",
            parameters={"VERSION": 0x0001_0000, "PE_CONFIG": 0x1234_5678},
        )
    )


@pytest.mark.parametrize(
    ("pe_type", "wbits", "b2"),
    [(0, 8, 1), (1, 4, 1), (1, 4, 0), (1, 3, 1), (2, 4, 1), (2, 3, 1), (3, 4, 1), (3, 3, 1)],
    ids=[
        "int8",
        "shift-upot-w4",
        "shift-pot-w4",
        "shift-upot-w3",
        "plut-w4",
        "plut-w3",
        "plut-lutram-w4",
        "plut-lutram-w3",
    ],
)
def test_pe_array_dot_products(pe_type: int, wbits: int, b2: int) -> None:
    _passed(
        run_cocotb(
            "pf_pe_array",
            ["pf_pe_array.v"],
            "test_pf_pe_array",
            parameters={"PE_TYPE": pe_type, "P_IN": 5, "P_OUT": 3, "WBITS": wbits, "B2": b2},
        )
    )


# ---------------------------------------------------------------- the whole accelerator
@pytest.mark.parametrize("config", sorted(ACCEL_TEST_CONFIGS))
def test_accelerator_layers(config: str) -> None:
    """Random layers bit-exact with golden under random backpressure, every malformed
    stream ends in its error code, and a reset mid-layer recovers."""
    pe, params = ACCEL_TEST_CONFIGS[config]
    _passed(run_accel(pe, params, cases="12", seed="20261124"))


# the full sweep (50 layers per overlay, 250 in all) is bench/rtl_engine.py (make bench)
