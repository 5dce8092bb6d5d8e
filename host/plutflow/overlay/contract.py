"""The overlay's hardware contract, read from ``plutflow/data/overlay.json``.

Every fact shared by the RTL, the testbenches, the driver and the docs lives in that one
file: identity, register map and fields, descriptor layout and flags, error codes, PE
types, memory rules and the build configurations. This module loads it and renders it
for the others: :func:`verilog_header` writes ``overlay_src/rtl/pf_contract.vh`` (the
RTL includes it), :func:`spec_tables` the generated tables of ``docs/spec.md``.
``python -m plutflow.overlay.contract --write`` regenerates both; a test checks that
they are current.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "overlay.json"
ROOT = Path(__file__).resolve().parents[3]
HEADER = ROOT / "overlay_src" / "rtl" / "pf_contract.vh"
TCL = ROOT / "overlay_src" / "vivado" / "pf_contract.tcl"
SPEC = ROOT / "docs" / "spec.md"


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: str
    doc: str


@dataclass(frozen=True)
class Field:
    """A descriptor field: ``width`` bits at bit ``lo`` of 32-bit word ``word``."""

    name: str
    word: int
    lo: int
    width: int
    signed: bool
    doc: str

    @property
    def bit(self) -> int:
        """Position of the field's least significant bit in the whole descriptor."""
        return 32 * self.word + self.lo

    def check(self, value: int) -> int:
        """The field's raw bits for ``value``; out-of-range values raise ValueError."""
        lo, hi = (
            (-(1 << (self.width - 1)), (1 << (self.width - 1)) - 1)
            if self.signed
            else (
                0,
                (1 << self.width) - 1,
            )
        )
        if not lo <= int(value) <= hi:
            raise ValueError(f"descriptor field {self.name}={value} outside {lo}..{hi}")
        return int(value) & ((1 << self.width) - 1)


class Contract:
    """The parsed ``overlay.json``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.vlnv: str = data["vlnv"]
        self.top: str = data["top"]
        self.ip_instance: str = data["ip_instance"]
        self.clock_mhz: float = float(data["clock_mhz"])
        #: the target device's resources (the shares reports and the timing check give)
        self.device_part: str = str(data["device"]["part"])
        self.device: dict[str, int] = {k: int(v) for k, v in data["device"].items() if k != "part"}
        self.id: int = int(data["id"])
        self.version: int = int(data["version_major"]) << 16 | int(data["version_minor"])
        self.rtl: list[str] = list(data["rtl"])
        self.memory: dict[str, Any] = dict(data["memory"])
        self.registers: dict[str, Register] = {
            k: Register(k, int(v["offset"]), v["access"], v["doc"])
            for k, v in data["registers"].items()
        }
        self.reg_fields: dict[str, dict[str, tuple[int, int]]] = {
            r: {f: (int(lo), int(w)) for f, (lo, w) in fs.items()}
            for r, fs in data["reg_fields"].items()
        }
        self.pe_types: dict[str, int] = {k: int(v) for k, v in data["pe_types"].items()}
        self.errors: dict[int, tuple[str, str]] = {
            int(k): (v[0], v[1]) for k, v in data["errors"].items()
        }
        self.units: dict[int, str] = {int(k): v for k, v in data["units"].items()}
        d = data["descriptor"]
        self.desc_words: int = int(d["words"])
        self.desc_magic: int = int(d["magic"])
        self.desc_version: int = int(d["version"])
        self.kinds: dict[str, int] = {k: int(v) for k, v in d["kinds"].items()}
        self.flags: dict[str, int] = {k: int(v[0]) for k, v in d["flags"].items()}
        self.flag_docs: dict[str, str] = {k: v[1] for k, v in d["flags"].items()}
        self.fields: dict[str, Field] = {
            k: Field(k, int(v[0]), int(v[1]), int(v[2]), bool(v[3]), v[4])
            for k, v in d["fields"].items()
        }
        self._check()

    def _check(self) -> None:
        offsets = [r.offset for r in self.registers.values()]
        if len(set(offsets)) != len(offsets) or any(o % 4 for o in offsets):
            raise ValueError("overlay.json: register offsets must be distinct words")
        used: dict[int, str] = {}
        for f in self.fields.values():
            if f.lo + f.width > 32 or f.word >= self.desc_words:
                raise ValueError(f"overlay.json: descriptor field {f.name} does not fit a word")
            for b in range(f.bit, f.bit + f.width):
                if b in used:
                    raise ValueError(f"overlay.json: fields {used[b]} and {f.name} overlap")
                used[b] = f.name

    # ---------------------------------------------------------------- lookups
    def reg(self, name: str) -> int:
        """Byte offset of a control register."""
        return self.registers[name].offset

    def error_text(self, code: int) -> str:
        return self.errors.get(code, ("?", f"unknown error code {code}"))[1]

    @cached_property
    def desc_bytes(self) -> int:
        return 4 * self.desc_words

    def overlay(self, name: str) -> dict[str, Any]:
        """Build parameters of a named overlay configuration (``board`` = the bitstream's)."""
        if name == "board":
            name = self.data["board_overlay"]
        if name == "small":
            return dict(self.data["small_overlay"])
        return dict(self.data["overlays"][name])

    @property
    def overlay_names(self) -> list[str]:
        return list(self.data["overlays"])

    def timing_configs(self, small: bool = False) -> dict[str, dict[str, int]]:
        """RTL parameters of the configurations the timing check synthesises."""
        from plutflow.overlay.config import OverlayConfig

        names = ["small"] if small else self.overlay_names
        return {n: OverlayConfig(**self.overlay(n)).rtl_parameters() for n in names}


def load_contract(path: Path = DATA) -> Contract:
    return Contract(json.loads(path.read_text()))


CONTRACT = load_contract()


def rtl_sources() -> list[str]:
    """The overlay's Verilog sources relative to the repository root (headers excluded)."""
    return [f"overlay_src/rtl/{f}" for f in CONTRACT.rtl if f.endswith(".v")]


# ---------------------------------------------------------------- generated views
def verilog_header(c: Contract = CONTRACT) -> str:
    """``pf_contract.vh``: the contract as Verilog macros (registers, errors, descriptor
    fields and flags), so the RTL never hand-copies an offset or a bit position."""
    out = [
        "// GENERATED from host/plutflow/data/overlay.json by plutflow.overlay.contract;",
        "// do not edit. Regenerate: python -m plutflow.overlay.contract --write",
        "`ifndef PF_CONTRACT_VH",
        "`define PF_CONTRACT_VH",
        "",
        f"`define PF_ID 32'h{c.id:08X}",
        f"`define PF_VERSION 32'h{c.version:08X}",
        f"`define PF_DESC_WORDS {c.desc_words}",
        f"`define PF_DESC_BITS {32 * c.desc_words}",
        f"`define PF_DESC_MAGIC 16'h{c.desc_magic:04X}",
        f"`define PF_DESC_VERSION 4'd{c.desc_version}",
        f"`define PF_MAX_BURST {c.memory['max_burst']}",
        f"`define PF_BOUNDARY {c.memory['boundary']}",
        f"`define PF_ADDR_BITS {c.memory['addr_bits']}",
        "",
        "// control registers (byte offsets)",
    ]
    out += [f"`define PF_REG_{r.name} 8'h{r.offset:02X}" for r in c.registers.values()]
    out += ["", "// register fields: bit position and width"]
    for reg, fs in c.reg_fields.items():
        for f, (lo, w) in fs.items():
            out += [f"`define PF_{reg}_{f.upper()}_LO {lo}", f"`define PF_{reg}_{f.upper()}_W {w}"]
    out += ["", "// error codes (STATUS bits 0-7) and failing units (bits 8-15)"]
    out += [f"`define PF_E_{name} 8'd{code}" for code, (name, _) in sorted(c.errors.items())]
    out += [f"`define PF_U_{name.upper()} 8'd{code}" for code, name in sorted(c.units.items())]
    out += ["", "// descriptor kinds"]
    out += [f"`define PF_K_{k} 4'd{v}" for k, v in c.kinds.items()]
    out += ["", "// descriptor flags (bit of the FLAGS field)"]
    out += [f"`define PF_F_{k} {v}" for k, v in c.flags.items()]
    out += ["", "// descriptor fields: `PF_D_<NAME>(d) is the field's bits of descriptor d"]
    for f in c.fields.values():
        out.append(f"`define PF_D_{f.name}(d) d[{f.bit + f.width - 1}:{f.bit}]")
    out += ["", "`endif", ""]
    return "\n".join(out)


def tcl_header(c: Contract = CONTRACT) -> str:
    """The contract as Tcl for the Vivado scripts: ``pf_contract`` (a dict) with the
    VLNV, instance name, clock, top, RTL files, register offsets, the name of the board
    overlay and every named overlay configuration (its build parameters and memory
    port width), one of which a bitstream build picks (``OVERLAY=`` of the make target)."""
    from plutflow.overlay.config import OverlayConfig

    def braces(items: list[str]) -> str:
        return "{" + " ".join(items) + "}"

    regs = [f"{n} {r.offset}" for n, r in c.registers.items()]
    overlays = []
    for name in c.overlay_names:
        cfg = OverlayConfig.named(name)
        params = [f"{k} {v}" for k, v in cfg.rtl_parameters().items()]
        overlays.append(f"        {name} {{params {braces(params)} data_bits {8 * cfg.p}}} \\")
    mhz = int(c.clock_mhz) if c.clock_mhz == int(c.clock_mhz) else c.clock_mhz
    return "\n".join([
        "# Generated from host/plutflow/data/overlay.json by plutflow.overlay.contract;",
        "# do not edit (python -m plutflow.overlay.contract --write).",
        "set pf_contract [dict create \\",
        f"    vlnv {c.vlnv} \\",
        f"    ip_instance {c.ip_instance} \\",
        f"    top {c.top} \\",
        f"    clock_mhz {mhz} \\",
        f"    addr_bits {int(c.memory['addr_bits'])} \\",
        f"    rtl {braces(c.rtl)} \\",
        f"    registers {braces(regs)} \\",
        f"    board_overlay {c.data['board_overlay']} \\",
        "    overlays [dict create \\",
        *overlays,
        "    ]]",
        "",
    ])  # fmt: skip


def spec_tables(c: Contract = CONTRACT) -> dict[str, str]:
    """The generated blocks of docs/spec.md, by marker name."""
    regs = ["| offset | name | access | content |", "|---|---|---|---|"]
    regs += [
        f"| 0x{r.offset:02X} | {r.name} | {r.access} | {r.doc} |" for r in c.registers.values()
    ]
    for reg, fs in c.reg_fields.items():
        regs += ["", f"{reg}: " + ", ".join(
            f"bits {lo}\u2013{lo + w - 1} `{f}`" if w > 1 else f"bit {lo} `{f}`"
            for f, (lo, w) in fs.items()
        ) + "."]  # fmt: skip
    errs = ["| code | name | meaning |", "|---|---|---|"]
    errs += [f"| {k} | {n} | {t} |" for k, (n, t) in sorted(c.errors.items())]
    errs += ["", "Units (STATUS bits 8\u201315): " + ", ".join(
        f"{k} {v}" for k, v in sorted(c.units.items())) + "."]  # fmt: skip
    desc = ["| word | bits | field | content |", "|---|---|---|---|"]
    for f in c.fields.values():
        bits = f"{f.lo}\u2013{f.lo + f.width - 1}" if f.width > 1 else f"{f.lo}"
        signed = " (two's complement)" if f.signed else ""
        desc.append(f"| {f.word} | {bits} | {f.name} | {f.doc}{signed} |")
    flags = ["| bit | flag | meaning |", "|---|---|---|"]
    flags += [f"| {b} | {k} | {c.flag_docs[k]} |" for k, b in c.flags.items()]
    kinds = ", ".join(f"{v} {k}" for k, v in c.kinds.items())
    return {
        "registers": "\n".join(regs),
        "errors": "\n".join(errs),
        "descriptor": "\n".join(desc),
        "flags": "\n".join(flags),
        "kinds": f"Kinds: {kinds}.",
    }


def render_spec(text: str, c: Contract = CONTRACT) -> str:
    """``text`` (docs/spec.md) with every ``<!-- contract:NAME -->`` block regenerated."""
    for name, body in spec_tables(c).items():
        start, end = f"<!-- contract:{name} -->", f"<!-- /contract:{name} -->"
        i, j = text.find(start), text.find(end)
        if i < 0 or j < 0:
            raise ValueError(f"docs/spec.md lacks the {start} ... {end} block")
        text = text[: i + len(start)] + "\n" + body + "\n" + text[j:]
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Regenerate or check the contract's views.")
    ap.add_argument("--write", action="store_true",
                    help="rewrite pf_contract.vh, pf_contract.tcl and spec.md")  # fmt: skip
    args = ap.parse_args(argv)
    views = {HEADER: verilog_header(), TCL: tcl_header(), SPEC: render_spec(SPEC.read_text())}
    if args.write:
        for path, text in views.items():
            path.write_text(text)
        return 0
    stale = [p for p, t in views.items() if not p.exists() or p.read_text() != t]
    for p in stale:
        print(f"{p} is out of date: python -m plutflow.overlay.contract --write")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
