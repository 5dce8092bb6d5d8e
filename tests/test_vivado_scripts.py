"""The contract's generated views agree with overlay.json (Verilog header, Tcl for the
Vivado scripts, the spec's tables), and the Vivado scripts, RTL and driver agree on the
overlay's identity, registers and parameters. Vivado itself is not run here; the Tcl is
run with Tcl 8.6 (Python's tkinter)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plutflow.overlay import contract as C
from plutflow.overlay.config import OverlayConfig

ROOT = Path(__file__).resolve().parents[1]
VIVADO = ROOT / "overlay_src" / "vivado"
RTL = ROOT / "overlay_src" / "rtl"


@pytest.fixture(scope="module")
def tcl():
    import tkinter

    interp = tkinter.Tcl()
    interp.eval(f"source {{{VIVADO / 'pf_contract.tcl'}}}")
    return interp


def test_generated_views_are_current() -> None:
    """pf_contract.vh, pf_contract.tcl and spec.md's tables are what the contract makes
    (python -m plutflow.overlay.contract --write regenerates them)."""
    assert C.HEADER.read_text() == C.verilog_header()
    assert C.TCL.read_text() == C.tcl_header()
    assert C.SPEC.read_text() == C.render_spec(C.SPEC.read_text())
    assert C.main([]) == 0


def test_tcl_holds_the_contract(tcl) -> None:
    c = C.CONTRACT
    assert tcl.eval("dict get $pf_contract vlnv") == c.vlnv
    assert tcl.eval("dict get $pf_contract ip_instance") == c.ip_instance
    assert float(tcl.eval("dict get $pf_contract clock_mhz")) == c.clock_mhz
    assert tcl.eval("dict get $pf_contract rtl").split() == c.rtl
    for name, reg in c.registers.items():
        assert int(tcl.eval(f"dict get $pf_contract registers {name}")) == reg.offset
    assert tcl.eval("dict get $pf_contract board_overlay") == c.data["board_overlay"]
    declared = set(re.findall(r"parameter integer (\w+)", (RTL / "pf_accel.v").read_text()))
    assert tcl.eval("dict keys [dict get $pf_contract overlays]").split() == c.overlay_names
    for name in c.overlay_names:
        pairs = tcl.eval(f"dict get $pf_contract overlays {name} params").split()
        params = {k: int(v) for k, v in zip(pairs[::2], pairs[1::2], strict=True)}
        assert params == OverlayConfig.named(name).rtl_parameters()
        assert set(params) <= declared, set(params) - declared
        bits = int(tcl.eval(f"dict get $pf_contract overlays {name} data_bits"))
        assert bits == 8 * params["P"]


def _package_ip(overlay: str | None):
    """package_ip.tcl sourced as build.tcl does, for ``overlay`` (None: the default)."""
    import tkinter

    interp = tkinter.Tcl()
    interp.eval("set pf_library_mode 1")
    if overlay is not None:
        interp.eval(f"set pf_overlay {{{overlay}}}")
    interp.eval(f"source {{{VIVADO / 'package_ip.tcl'}}}")
    return interp


@pytest.mark.parametrize("overlay", [None, "", *C.CONTRACT.overlay_names])
def test_a_build_picks_its_overlay(overlay) -> None:
    """`make bitstream OVERLAY=name` builds that configuration (build.tcl's third
    argument); no name builds the board overlay."""
    interp = _package_ip(overlay)
    name = overlay or C.CONTRACT.data["board_overlay"]
    assert interp.eval("pf_overlay_name") == name
    pairs = interp.eval("pf_rtl_parameters").split()
    params = {k: int(v) for k, v in zip(pairs[::2], pairs[1::2], strict=True)}
    assert params == OverlayConfig.named(name).rtl_parameters()
    assert int(interp.eval("pf_data_bits")) == 8 * OverlayConfig.named(name).p


def test_an_unknown_overlay_is_refused() -> None:
    import tkinter

    interp = _package_ip("int9")
    with pytest.raises(tkinter.TclError, match="unknown overlay 'int9': one of int8 shift"):
        interp.eval("pf_rtl_parameters")


def test_every_rtl_file_of_the_contract_exists_and_covers_the_top() -> None:
    files = C.CONTRACT.rtl
    for name in files:
        assert (RTL / name).is_file(), name
    defined = {m for n in files for m in re.findall(r"^module (\w+)", (RTL / n).read_text(), re.M)}
    assert C.CONTRACT.top in defined
    for f in files:
        # module instances: "pf_x #(" or "pf_x name (" (not function calls or assignments)
        for inst in re.findall(r"^\s+(pf_\w+)\s+(?:#\s*\(|\w+\s*\()", (RTL / f).read_text(),
                               re.M):  # fmt: skip
            assert inst in defined, f"{f} instantiates {inst}, which no listed file defines"


def test_scripts_take_identity_from_the_contract_only() -> None:
    scripts = {p.name: p.read_text() for p in VIVADO.glob("*.tcl")}
    assert {"pf_contract.tcl", "package_ip.tcl", "build_bd.tcl", "build.tcl"} <= set(scripts)
    for name, text in scripts.items():
        if name == "pf_contract.tcl":
            continue
        assert C.CONTRACT.vlnv not in text, f"{name} hard-codes the VLNV"
        assert "250" not in text, f"{name} hard-codes the clock"
    assert "pf_contract.tcl" in scripts["package_ip.tcl"]
    assert "package_ip.tcl" in scripts["build.tcl"]
    bd = scripts["build_bd.tcl"]
    for needed in ("apply_board_preset", "smartconnect", "PL0_REF_CTRL__FREQMHZ",
                   "pl_ps_irq0", "S_AXI_HP0_FPD", "M_AXI_HPM0_FPD", "ip_instance"):  # fmt: skip
        assert needed in bd, needed
    assert "axi_dma" not in bd  # the overlay masters memory itself
    # the interfaces the scripts connect exist on pf_accel
    verilog = (RTL / "pf_accel.v").read_text()
    for port in set(re.findall(r"\$accel/(\w+)", bd)) | {"m_axi_gmem", "s_axi_control"}:
        assert re.search(rf"\b{port}(_\w+)?\b", verilog), port


def test_register_map_in_rtl_and_contract_agree() -> None:
    ctrl = (RTL / "pf_ctrl_axil.v").read_text()
    decoded = set(re.findall(r"`PF_REG_(\w+):\s+reg_value", ctrl))
    assert decoded == set(C.CONTRACT.registers)
    header = C.HEADER.read_text()
    for name, reg in C.CONTRACT.registers.items():
        assert re.search(rf"`define PF_REG_{name} 8'h{reg.offset:02X}\b", header), name
    spec = C.SPEC.read_text()
    for name, reg in C.CONTRACT.registers.items():
        assert f"| 0x{reg.offset:02X} | {name} |" in spec, name


def test_makefile_targets() -> None:
    mk = (ROOT / "overlay_src" / "Makefile").read_text()
    assert "bitstream:" in mk and "vivado/build.tcl" in mk
    assert "-tclargs $(BUILD_OUT) $(JOBS) $(OVERLAY)" in mk
    assert "timing:" in mk and "timing.py" in mk
