"""The Vivado scripts, the driver, the RTL and the spec agree on the overlay's identity,
register map, stream width and parameters (one source of truth: overlay.json). Vivado
itself is not run here; the Tcl that reads the source of truth is run with Tcl 8.6
(Python's tkinter), the rest is checked against the files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plutflow.runtime import registers as R

ROOT = Path(__file__).resolve().parents[1]
VIVADO = ROOT / "overlay_src" / "vivado"
RTL = ROOT / "overlay_src" / "rtl"


@pytest.fixture(scope="module")
def tcl():
    import tkinter

    interp = tkinter.Tcl()
    interp.eval(f"source {{{VIVADO / 'overlay_spec.tcl'}}}")
    interp.eval("set spec [pf_load_overlay_spec $pf_spec_file]")
    return interp


def test_tcl_reads_the_same_spec_as_the_driver(tcl) -> None:
    spec = R.overlay_spec()
    assert tcl.eval("dict get $spec vlnv") == R.VLNV == spec["vlnv"]
    assert int(tcl.eval("dict get $spec stream_width")) == spec["stream_width"]
    assert int(tcl.eval("dict get $spec clock_mhz")) == R.CLOCK_MHZ
    for name, offset in spec["registers"].items():
        assert int(tcl.eval(f"dict get $spec registers {name}")) == offset == R.reg(name)
    assert tcl.eval("dict get $spec rtl").split() == spec["rtl"]


def test_tcl_build_parameters_match_the_board_overlay(tcl) -> None:
    pairs = tcl.eval("pf_rtl_parameters $spec").split()
    params = {k: int(v) for k, v in zip(pairs[::2], pairs[1::2], strict=True)}
    assert params == R.board_overlay().rtl_parameters()
    assert params["DATA_W"] == R.overlay_spec()["stream_width"]
    verilog = (RTL / "pf_accel.v").read_text()
    declared = set(re.findall(r"parameter integer (\w+)", verilog))
    assert set(params) <= declared, set(params) - declared


def test_every_rtl_file_the_scripts_name_exists() -> None:
    for name in R.overlay_spec()["rtl"]:
        assert (RTL / name).is_file(), name
    modules = {
        m for f in RTL.glob("*.v") for m in re.findall(r"^module (\w+)", f.read_text(), re.M)
    }
    assert R.overlay_spec()["top"] in modules
    # the top instantiates only modules the list brings in
    listed = {
        m
        for n in R.overlay_spec()["rtl"]
        for m in re.findall(r"^module (\w+)", (RTL / n).read_text(), re.M)
    }
    for f in R.overlay_spec()["rtl"]:
        for inst in re.findall(r"^\s+(pf_\w+)\s+#?\(?", (RTL / f).read_text(), re.M):
            assert inst in listed, f"{f} instantiates {inst}, which no listed file defines"


def test_scripts_take_identity_from_the_spec_only() -> None:
    scripts = {p.name: p.read_text() for p in VIVADO.glob("*.tcl")}
    assert {"overlay_spec.tcl", "package_ip.tcl", "build_bd.tcl", "build.tcl"} <= set(scripts)
    for name, text in scripts.items():
        if name == "overlay_spec.tcl":
            continue
        assert R.VLNV not in text, f"{name} hard-codes the VLNV"
        assert "overlay_spec.tcl" in text or name == "build_bd.tcl", name
    bd = scripts["build_bd.tcl"]
    for needed in (
        "apply_board_preset",
        "xilinx.com:ip:axi_dma",
        "c_include_sg {0}",
        "smartconnect",
        "PL0_REF_CTRL__FREQMHZ",
        "pl_ps_irq0",
        "dma_instance",
        "ip_instance",
        "stream_width",
    ):
        assert needed in bd, needed
    # the ports the block design connects exist on pf_accel
    verilog = (RTL / "pf_accel.v").read_text()
    for port in re.findall(r"\$accel/(\w+)", bd):
        assert re.search(rf"\b{port}(_\w+)?\b", verilog), port


def test_register_map_in_rtl_spec_and_driver_agree() -> None:
    ctrl = (RTL / "pf_ctrl_axil.v").read_text()
    rtl_words = {int(w, 16) * 4 for w in re.findall(r"6'h([0-9A-F]{2}): rdata_next", ctrl)}
    assert rtl_words == set(R.overlay_spec()["registers"].values())
    spec_md = (ROOT / "docs" / "spec.md").read_text()
    for name, offset in R.overlay_spec()["registers"].items():
        base = name.removesuffix("_LO").removesuffix("_HI")
        assert f"0x{offset:02X}" in spec_md, f"{name} at 0x{offset:02X} missing from the spec"
        assert base in spec_md, name
    magic = re.search(r"MAGIC = 32'h([0-9A-Fa-f_]+)", ctrl).group(1).replace("_", "")
    assert int(magic, 16) == R.ID_VALUE
    accel = (RTL / "pf_accel.v").read_text()
    version = re.search(r"\.VERSION\(32'h([0-9A-Fa-f_]+)\)", accel).group(1).replace("_", "")
    assert int(version, 16) == R.VERSION_VALUE


def test_makefile_has_the_bitstream_target() -> None:
    mk = (ROOT / "overlay_src" / "Makefile").read_text()
    assert "bitstream:" in mk and "vivado/build.tcl" in mk
