"""RTL modules in Verilator through cocotb: each module's own testbench, bit-exact against
the golden arithmetic (requant, PE array) or the overlay's executable specification (the
whole accelerator), and the AXI masters against cocotbext-axi's AXI RAM."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))

from harness import BUILD, accel_test_configs, run_accel, run_cocotb


def _passed(results: Path) -> None:
    """The cocotb results all passed; the run's folder (waves, logs) is then removed, and
    kept under build/sim for a look when a test failed."""
    import shutil
    import xml.etree.ElementTree as ET

    root = ET.parse(results).getroot()
    cases = root.findall(".//testcase")
    assert cases, "no cocotb test ran"
    failures = [c.get("name") for c in cases if c.find("failure") is not None]
    assert not failures, f"cocotb failures: {failures} (logs in {results.parent})"
    if results.parent.parent == BUILD:
        shutil.rmtree(results.parent, ignore_errors=True)


def test_requant_random_vectors() -> None:
    _passed(
        run_cocotb(
            "pf_requant",
            ["pf_requant.v"],
            "test_pf_requant",
            parameters={"OUT_W": 9, "LANES": 3},
            extra_env={"PLUTFLOW_VECTORS": "1500", "PLUTFLOW_SEED": "7", "PLUTFLOW_LANES": "3"},
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
            parameters={"PE_CONFIG": 0x1234_5678, "BUF_CONFIG": 0x0D0B_080D},
        )
    )


def test_sequencer_address_stream() -> None:
    _passed(run_cocotb("pf_seq", ["pf_seq.v"], "test_pf_seq",
                       extra_env={"PLUTFLOW_TILES": "300", "PLUTFLOW_SEED": "3"}))  # fmt: skip


@pytest.mark.parametrize(
    ("pe_type", "wbits", "b2", "int8_path"),
    [
        (0, 8, 1, 0),
        (1, 4, 1, 0),
        (1, 4, 0, 1),
        (1, 7, 3, 1),
        (2, 4, 1, 1),
        (2, 3, 1, 0),
        (3, 4, 1, 1),
        (3, 3, 1, 0),
    ],
    ids=[
        "int8",
        "shift-upot-w4",
        "shift-pot-w4+int8",
        "shift-w7+int8",
        "plut-w4+int8",
        "plut-w3",
        "plut-lutram-w4+int8",
        "plut-lutram-w3",
    ],
)
def test_pe_array_dot_products(pe_type: int, wbits: int, b2: int, int8_path: int) -> None:
    _passed(
        run_cocotb(
            "pf_pe_array",
            ["pf_pe_array.v", "pf_addtree.v"],
            "test_pf_pe_array",
            parameters={
                "PE_TYPE": pe_type,
                "P_IN": 5,
                "P_OUT": 3,
                "WBITS": wbits,
                "B2": b2,
                "INT8_PATH": int8_path,
            },
        )
    )


def test_pe_array_with_a_split_adder_tree() -> None:
    """16 inputs: a 4-level adder tree whose last level has a stage of its own."""
    _passed(
        run_cocotb(
            "pf_pe_array",
            ["pf_pe_array.v", "pf_addtree.v"],
            "test_pf_pe_array",
            parameters={"PE_TYPE": 0, "P_IN": 16, "P_OUT": 2, "WBITS": 8, "B2": 3, "INT8_PATH": 0},
        )
    )


@pytest.mark.parametrize("params", [{"DATA_W": 128}, {"DATA_W": 32, "MAX_OUT": 3}])
def test_axi_read_master(params: dict) -> None:
    _passed(run_cocotb("pf_axi_rd", ["pf_axi_rd.v"], "test_pf_axi_rd", parameters=params))


@pytest.mark.parametrize("params", [{"DATA_W": 128}, {"DATA_W": 32, "MAX_BURST": 8}])
def test_axi_write_master(params: dict) -> None:
    _passed(run_cocotb("pf_axi_wr", ["pf_axi_wr.v"], "test_pf_axi_wr", parameters=params))


# ---------------------------------------------------------------- the whole accelerator
@pytest.mark.parametrize("config", sorted(accel_test_configs()))
def test_accelerator_programs(config: str) -> None:
    """Random programs (every kind and flag, chained tiles, bank reuse, partial sums,
    barriers) leave memory exactly as the emulator does, under random AXI backpressure;
    malformed programs end in their STATUS; memory errors and timeouts end the run."""
    _passed(run_accel(accel_test_configs()[config], cases="6", seed="20261201"))


# many more programs per overlay: bench/rtl_engine.py (make bench)
