"""Static register-to-register timing estimate of a yosys ``synth_xilinx -family xcup``
netlist (no vendor tools).

The netlist is yosys's JSON of a flattened design. Every path starts at a clocked
element's output (flip-flop, SRL, LUT RAM, block RAM, UltraRAM, DSP48E2 register) or a
top-level input, runs through combinational cells (LUTs, carry chains, wide-function
muxes, LUT-RAM reads, unregistered DSP stages) and ends at a clocked element's input or a
top-level output. Arrival times add the delays of :data:`MODEL` (documented with their
sources in ``docs/rtl.md``, "Timing model"); the worst paths are reported by the names of
their source and destination signals.

What the estimate cannot see: placement and routing. Every net costs a routing delay that
grows with its fanout (see :func:`net_delay`), and cells that share dedicated routing
(carry cascades, LUT into MUXF7/8, DSP cascades) cost none. A path is accepted when its
estimate plus :data:`MODEL` ``uncertainty`` fits the clock period; the margin for what the
model cannot see is in the per-net routing figure, which is set above Vivado's typical
local routing.
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Delay model (ns) of an XCK26 (-2LV, VCCINT 0.72 V) fabric. docs/rtl.md lists sources.
MODEL: dict[str, float] = {
    "ff_clk_to_q": 0.10,  # FDRE/FDSE/FDCE/FDPE clock to Q
    "ff_setup_d": 0.06,  # data input setup
    "ff_setup_ce": 0.15,  # clock enable setup
    "ff_setup_sr": 0.25,  # synchronous set/reset setup
    "lut": 0.10,  # LUT1-6 logic delay (the net to its input is counted separately)
    "muxf": 0.10,  # MUXF7/F8/F9 (fed by dedicated routing)
    "carry_entry": 0.22,  # S/DI of a carry cell to its outputs
    "carry_bit": 0.02,  # per bit position inside a carry cell
    "carry_cascade": 0.06,  # CI to the outputs of the next carry cell (4 bits)
    "net": 0.30,  # routing of a net with one sink
    "net_fanout": 0.07,  # extra routing per doubling of the fanout
    "srl_clk_to_q": 0.95,  # SRL16E/SRLC32E clock to Q
    "srl_addr": 0.30,  # SRL address to Q
    "lutram_clk_to_out": 1.00,  # LUT RAM write clock to read data
    "lutram_read": 0.30,  # LUT RAM read address to data (64 deep)
    "lutram_read_deep": 0.50,  # 128/256/512 deep (built with MUXF7/F8)
    "lutram_setup": 0.40,  # write address, data, enable setup
    "bram_clk_to_out": 1.10,  # RAMB18E2/36E2 without the output register
    "bram_clk_to_out_reg": 0.45,  # with DOA_REG/DOB_REG
    "bram_setup": 0.50,  # address, data and enable setup
    "uram_clk_to_out": 1.60,
    "uram_clk_to_out_reg": 0.60,
    "uram_setup": 0.50,
    "dsp_setup": 0.30,  # fabric into a DSP input register (AREG/BREG/CREG/...)
    "dsp_mult": 1.85,  # unregistered A/B pins through the multiplier into MREG
    "dsp_mult_alu": 2.90,  # unregistered A/B pins through multiplier and ALU into PREG
    "dsp_alu": 1.00,  # C/PCIN/control pins through the ALU into PREG
    "dsp_a_to_m": 1.55,  # AREG/BREG to MREG (FMAX with all registers: 644 MHz)
    "dsp_a_to_p": 2.27,  # AREG/BREG to PREG without MREG (FMAX 440 MHz)
    "dsp_m_to_p": 1.20,  # MREG to PREG
    "dsp_clk_to_p": 0.35,  # PREG clock to P
    "dsp_comb": 3.20,  # A/B pins to P, no register on the way
    "dsp_c_comb": 1.30,  # C pins to P, no register
    "uncertainty": 0.10,  # clock jitter and skew
    "margin": 0.20,  # demanded on top: placement and congestion the model cannot see
}

#: port groups of DSP48E2 inputs and the register parameter that captures them
_DSP_REG_OF = {
    "A": "AREG",
    "ACIN": "AREG",
    "B": "BREG",
    "BCIN": "BREG",
    "C": "CREG",
    "D": "DREG",
    "OPMODE": "OPMODEREG",
    "ALUMODE": "ALUMODEREG",
    "INMODE": "INMODEREG",
    "CARRYIN": "CARRYINREG",
    "CARRYINSEL": "CARRYINSELREG",
}
_FF = {"FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1"}
_SRL = {"SRL16E", "SRLC16E", "SRLC32E"}
_BRAM = {"RAMB18E2", "RAMB36E2", "RAMB18E1", "RAMB36E1", "FIFO18E2", "FIFO36E2"}
_CARRY = {"CARRY4": 4, "CARRY8": 8}
_MUXF = {"MUXF7", "MUXF8", "MUXF9"}
_IGNORE = {"IBUF", "OBUF", "BUFG", "BUFGCE", "IOBUF", "GND", "VCC", "IBUFG", "OBUFT", "$scopeinfo"}
_CLOCK_PINS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "CLKA", "CLKB", "RDCLK", "WRCLK"}


def net_delay(fanout: int, model: dict[str, float] = MODEL) -> float:
    """Routing delay of a net with ``fanout`` sink pins."""
    return model["net"] + model["net_fanout"] * math.log2(max(fanout, 1))


@dataclass
class Path_:
    """One timing path: arrival at its end, the nets it crosses, its endpoints' names."""

    arrival: float
    required: float
    source: str
    sink: str
    kind: str  # the endpoint pin kind, e.g. "FDRE.D", "RAMB36E2 setup"
    steps: list[tuple[str, str, float]] = field(default_factory=list)  # (cell type, net, t)

    @property
    def slack(self) -> float:
        return self.required - self.arrival

    def to_json(self) -> dict[str, Any]:
        return {
            "arrival_ns": round(self.arrival, 3),
            "slack_ns": round(self.slack, 3),
            "source": self.source,
            "sink": self.sink,
            "endpoint": self.kind,
            "levels": sum(1 for c, _, _ in self.steps if c.startswith("LUT")),
            "steps": [[c, n, round(t, 3)] for c, n, t in self.steps],
        }


def _param(cell: dict[str, Any], name: str, default: int = 0) -> int:
    v = cell.get("parameters", {}).get(name)
    if v is None:
        return default
    if isinstance(v, int):
        return v
    s = str(v).strip()
    if s and set(s) <= {"0", "1", "x", "z"}:
        return int(s.replace("x", "0").replace("z", "0"), 2)
    try:
        return int(s)
    except ValueError:
        return default


def _base(port: str) -> str:
    """A pin's group name: 'A' for A, 'OPMODE' for OPMODE, 'ADDRA' for ADDRA."""
    return re.sub(r"\d+$", "", port)


class Netlist:
    """A flattened yosys JSON netlist as a timing graph."""

    def __init__(self, data: dict[str, Any], top: str | None = None) -> None:
        mods = data["modules"]
        if top is None:
            tops = [n for n, m in mods.items() if _param(m.get("attributes", {}), "top") == 1]
            tops = tops or [n for n, m in mods.items() if m.get("attributes", {}).get("top")]
            if len(tops) != 1:
                raise ValueError(f"cannot tell the top module among {tops}")
            top = tops[0]
        self.top = top
        mod = mods[top]
        self.cells: dict[str, dict[str, Any]] = mod["cells"]
        self.ports: dict[str, dict[str, Any]] = mod["ports"]
        self.names = self._bit_names(mod["netnames"])
        self.drivers: dict[int, tuple[str, str]] = {}  # bit -> (cell, port)
        self.sinks: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for cname, cell in self.cells.items():
            if cell["type"] in _IGNORE:
                continue
            dirs = cell.get("port_directions", {})
            for port, bits in cell["connections"].items():
                for i, b in enumerate(bits):
                    if not isinstance(b, int):
                        continue
                    pin = f"{port}{i}" if len(bits) > 1 else port
                    if dirs.get(port) == "output":
                        self.drivers[b] = (cname, pin)
                    elif dirs.get(port) == "input":
                        self.sinks[b].append((cname, pin))
        self.passthrough = self._io_buffers()

    @staticmethod
    def _bit_names(netnames: dict[str, Any]) -> dict[int, str]:
        best: dict[int, tuple[int, str]] = {}
        for name, info in netnames.items():
            hidden = bool(info.get("hide_name", 0)) or name.startswith("$")
            bits = info["bits"]
            for i, b in enumerate(bits):
                if not isinstance(b, int):
                    continue
                label = name if len(bits) == 1 else f"{name}[{i}]"
                rank = (1 if hidden else 0, len(label))
                if b not in best or rank < (best[b][0], len(best[b][1])):
                    best[b] = (rank[0], label)
        return {b: v[1] for b, v in best.items()}

    def _io_buffers(self) -> dict[int, int]:
        """IBUF/OBUF outputs mapped to their inputs (treated as wires)."""
        out = {}
        for cell in self.cells.values():
            if cell["type"] in ("IBUF", "OBUF", "BUFG", "IBUFG"):
                i = cell["connections"].get("I", [None])[0]
                o = cell["connections"].get("O", [None])[0]
                if isinstance(i, int) and isinstance(o, int):
                    out[o] = i
        return out

    def name(self, bit: int) -> str:
        return self.names.get(bit, f"<net {bit}>")


class Analyzer:
    """Arrival times over the netlist's combinational graph, and the worst paths."""

    def __init__(self, nl: Netlist, period_ns: float = 4.0, model: dict | None = None):
        self.nl = nl
        self.period = period_ns
        self.m = dict(MODEL, **(model or {}))
        # a net's arrival at its sinks, and how it got there
        self.arrival: dict[int, float] = {}
        self.pred: dict[int, tuple[int | None, str, float]] = {}  # bit -> (prev bit, cell, t)
        self.endpoints: list[tuple[float, float, int, str, str]] = []
        self.internal: list[tuple[float, str]] = []  # DSP register-to-register stages
        self._capture_pins: list[tuple[int, float, str, str]] = []
        self._dsp_regs = self._absorbed_dsp_registers()
        self._run()

    def _absorbed_dsp_registers(self) -> dict[str, dict[str, int]]:
        """DSP48E2 register settings after the packing Vivado does and yosys (0.70) does
        not: a fabric register whose loads are all DSP A or B inputs becomes their
        AREG/BREG (replicated into each DSP it feeds), and registers that are the only
        loads of the P outputs become PREG."""
        nl = self.nl
        out: dict[str, dict[str, int]] = {}
        for cname, cell in nl.cells.items():
            if cell["type"] != "DSP48E2":
                continue
            regs = {k: _param(cell, k) for k in ("AREG", "BREG", "MREG", "PREG", "CREG",
                                                   "ADREG")}  # fmt: skip
            conns = cell["connections"]
            for pin, reg in (("A", "AREG"), ("B", "BREG")):
                bits = [b for b in conns.get(pin, []) if isinstance(b, int)]
                if regs[reg] or not bits:
                    continue
                if all(
                    nl.drivers.get(b, ("", ""))[1] == "Q"
                    and nl.cells[nl.drivers[b][0]]["type"] in _FF
                    and all(nl.cells[c]["type"] == "DSP48E2" and _base(pn) in ("A", "B")
                            for c, pn in nl.sinks.get(b, []))
                    for b in bits
                ):  # fmt: skip
                    regs[reg] = 1
            p_bits = [b for b in conns.get("P", []) if isinstance(b, int) and nl.sinks.get(b)]
            if not regs["PREG"] and p_bits and all(
                len(nl.sinks[b]) == 1
                and nl.sinks[b][0][1] == "D"
                and nl.cells[nl.sinks[b][0][0]]["type"] in _FF
                for b in p_bits
            ):
                regs["PREG"] = 1
            out[cname] = regs
        return out

    # ---------------------------------------------------------------- cell timing
    def _classify(self, cell: dict[str, Any], name: str = ""):
        """(launch: {out pin: t}, capture: {in pin: setup}, arcs: [(in, out, d)])."""
        t = cell["type"]
        m = self.m
        conns = cell["connections"]
        dirs = cell.get("port_directions", {})
        ins = [p for p in conns if dirs.get(p) == "input" and p not in _CLOCK_PINS]
        outs = [p for p in conns if dirs.get(p) == "output"]
        launch: dict[str, float] = {}
        capture: dict[str, float] = {}
        arcs: list[tuple[str, str, float]] = []
        if t in _FF:
            launch = {"Q": m["ff_clk_to_q"]}
            for p in ins:
                capture[p] = (
                    m["ff_setup_d"]
                    if p == "D"
                    else m["ff_setup_ce"]
                    if p == "CE"
                    else m["ff_setup_sr"]
                )
        elif t.startswith("LUT") or t == "INV" or t == "BUF":
            arcs = [(p, "O", m["lut"]) for p in ins]
        elif t in _MUXF:
            arcs = [(p, "O", m["muxf"]) for p in ins]
        elif t in _CARRY:
            arcs = self._carry_arcs(cell, _CARRY[t])
        elif t in _SRL:
            launch = {p: m["srl_clk_to_q"] for p in outs}
            for p in ins:
                if p.startswith("A"):
                    arcs += [(p, o, m["srl_addr"]) for o in outs]
                else:
                    capture[p] = m["lutram_setup"]
        elif t.startswith("RAM") and not t.startswith("RAMB"):
            deep = any(s in t for s in ("128", "256", "512"))
            rd = m["lutram_read_deep"] if deep else m["lutram_read"]
            launch = {p: m["lutram_clk_to_out"] for p in outs}
            for p in ins:
                capture[p] = m["lutram_setup"]
                if p.startswith(("A", "DPRA", "RADR")):
                    arcs += [(p, o, rd) for o in outs]
        elif t in _BRAM:
            ab = _param(cell, "DOA_REG") or _param(cell, "DO_REG")
            bb = _param(cell, "DOB_REG") or _param(cell, "DO_REG")
            for p in outs:
                reg = bb if p.startswith(("DOUTB", "DOUTPB", "DOB", "DOPB")) else ab
                launch[p] = m["bram_clk_to_out_reg"] if reg else m["bram_clk_to_out"]
            capture = {p: m["bram_setup"] for p in ins if not p.startswith("CAS")}
        elif t == "URAM288" or t == "URAM288_BASE":
            ra, rb = _param(cell, "OREG_A"), _param(cell, "OREG_B")
            for p in outs:
                reg = rb if "_B" in p else ra
                launch[p] = m["uram_clk_to_out_reg"] if reg else m["uram_clk_to_out"]
            capture = {p: m["uram_setup"] for p in ins if not p.startswith("CAS")}
        elif t == "DSP48E2":
            return self._dsp(cell, ins, outs, name)
        else:
            raise ValueError(f"no timing model for cell type {t}")
        return launch, capture, arcs, 0.0

    def _carry_arcs(self, cell, width):
        m = self.m
        conns = cell["connections"]
        arcs = []
        for p in conns:
            if cell.get("port_directions", {}).get(p) != "input":
                continue
            bits = len(conns[p])
            for i in range(bits):
                pin = f"{p}{i}" if bits > 1 else p
                start = i if p in ("S", "DI") else 0
                entry = m["carry_entry"] if p in ("S", "DI") else m["carry_cascade"]
                for o in ("O", "CO"):
                    for j in range(start, width):
                        arcs.append((pin, f"{o}{j}", entry + m["carry_bit"] * (j - start)))
        return arcs

    def _dsp(self, cell, ins, outs, name: str = ""):
        m = self.m
        reg = self._dsp_regs.get(name) or {
            k: _param(cell, k) for k in ("AREG", "BREG", "MREG", "PREG", "CREG", "ADREG")
        }
        launch: dict[str, float] = {}
        capture: dict[str, float] = {}
        arcs: list[tuple[str, str, float]] = []
        p_outs = [o for o in outs if o in ("P", "PCOUT", "CARRYOUT", "CARRYCASCOUT", "XOROUT")]
        p_outs += [o for o in outs if o.startswith(("PATTERN", "MULTSIGNOUT", "OVERFLOW"))]
        for p in ins:
            g = _base(p)
            if g.startswith("CE") or g.startswith("RST"):
                capture[p] = m["ff_setup_ce"]
                continue
            regp = _DSP_REG_OF.get(g, "")
            if regp and (reg.get(regp) if regp in reg else _param(cell, regp)):
                capture[p] = m["dsp_setup"]
            elif g in ("A", "ACIN", "B", "BCIN", "D"):
                if reg["MREG"]:
                    capture[p] = m["dsp_mult"]
                elif reg["PREG"]:
                    capture[p] = m["dsp_mult_alu"]
                else:
                    arcs += [(p, o, m["dsp_comb"]) for o in p_outs]
            else:  # C, PCIN, OPMODE, ALUMODE, CARRYIN ... straight into the ALU
                if reg["PREG"]:
                    capture[p] = m["dsp_alu"]
                else:
                    arcs += [(p, o, m["dsp_c_comb"]) for o in p_outs]
        # the registers' own outputs, through what follows them inside the slice
        if reg["PREG"]:
            launch = {o: m["dsp_clk_to_p"] for o in p_outs}
        elif reg["MREG"]:
            launch = {o: m["dsp_clk_to_p"] + m["dsp_m_to_p"] for o in p_outs}
        elif reg["AREG"] or reg["BREG"]:
            launch = {o: m["dsp_clk_to_p"] + m["dsp_a_to_p"] for o in p_outs}
        # internal register-to-register stages
        internal = 0.0
        if reg["AREG"] or reg["BREG"]:
            if reg["MREG"]:
                internal = m["dsp_a_to_m"]
            elif reg["PREG"]:
                internal = m["dsp_a_to_p"]
        if reg["MREG"] and reg["PREG"]:
            internal = max(internal, m["dsp_m_to_p"])
        for o in outs:
            if o in ("ACOUT", "BCOUT") or o.startswith(("ACOUT", "BCOUT")):
                launch.setdefault(o, m["dsp_clk_to_p"])
        return launch, capture, arcs, internal

    # ---------------------------------------------------------------- propagation
    def _run(self) -> None:
        nl, m = self.nl, self.m
        start: dict[int, tuple[float, str]] = {}  # bit -> (launch time, cell type)
        fan: dict[int, list[tuple[int, float, str]]] = defaultdict(list)  # comb arcs
        indeg: dict[int, int] = defaultdict(int)
        for cname, cell in nl.cells.items():
            if cell["type"] in _IGNORE:
                continue
            launch, capture, arcs, internal = self._classify(cell, cname)
            if internal > 0:
                self.internal.append((internal, cname))
            conns = cell["connections"]
            for p, tq in launch.items():
                for b in self._pin_bits(conns, p):
                    start[b] = (tq, cname)
            for p, su in capture.items():
                for b in self._pin_bits(conns, p):
                    self._capture_pins.append((b, su, cname, f"{cell['type']}.{_base(p)}"))
            for src_pin, dst_pin, d in arcs:
                for sb in self._pin_bits(conns, src_pin):
                    for db in self._pin_bits(conns, dst_pin):
                        fan[sb].append((db, d, cname))
                        indeg[db] += 1
        for pname, port in nl.ports.items():
            for b in port["bits"]:
                if not isinstance(b, int):
                    continue
                if port["direction"] == "input":
                    start[b] = (0.0, f"<input {pname}>")
                else:
                    self._capture_pins.append((b, 0.0, f"<output {pname}>", "output port"))
        for o, i in nl.passthrough.items():  # IBUF/OBUF are wires
            fan[i].append((o, 0.0, ""))
            indeg[o] += 1
        fanout = {b: len(s) for b, s in nl.sinks.items()}

        def wire(src_bit: int, dst_type: str) -> float:
            """Routing from the driver of ``src_bit`` to a pin of a ``dst_type`` cell."""
            drv = nl.drivers.get(src_bit)
            st = nl.cells[drv[0]]["type"] if drv else ""
            if st in _CARRY and dst_type in _CARRY:
                return 0.0  # carry cascade
            if dst_type in _MUXF and (st.startswith("LUT") or st in _MUXF):
                return 0.0  # LUT -> MUXF7 -> MUXF8
            return net_delay(fanout.get(src_bit, 1), m)

        arrival: dict[int, float] = {b: t for b, (t, _) in start.items()}
        pred: dict[int, tuple[int | None, str, float]] = {
            b: (None, c, t) for b, (t, c) in start.items()
        }
        nodes = set(fan) | set(indeg) | set(start)
        ready = [b for b in nodes if indeg.get(b, 0) == 0]
        remaining = dict(indeg)
        while ready:
            b = ready.pop()
            if b not in arrival:  # undriven or constant
                arrival[b], pred[b] = 0.0, (None, "const", 0.0)
            for db, d, cname in fan.get(b, ()):
                ctype = nl.cells[cname]["type"] if cname else ""
                t = arrival[b] + (wire(b, ctype) if cname else 0.0) + d
                if t > arrival.get(db, -1.0):
                    arrival[db], pred[db] = t, (b, cname or "wire", t)
                remaining[db] -= 1
                if remaining[db] == 0:
                    ready.append(db)
        loops = [b for b, r in remaining.items() if r > 0]
        if loops:
            raise ValueError(
                f"combinational loop through {len(loops)} nets, e.g. {nl.name(loops[0])}"
            )
        self.arrival, self.pred = arrival, pred
        for b, su, cname, kind in self._capture_pins:
            if b not in arrival or pred[b][1] == "const":
                continue
            ctype = nl.cells[cname]["type"] if cname in nl.cells else ""
            t = arrival[b] + wire(b, ctype) + su + m["uncertainty"]
            self.endpoints.append((t, self.period, b, cname, kind))

    @staticmethod
    def _pin_bits(conns: dict[str, list], pin: str) -> list[int]:
        if pin in conns:
            return [b for b in conns[pin] if isinstance(b, int)]
        base = _base(pin)
        idx = pin[len(base) :]
        if base in conns and idx:
            b = conns[base][int(idx)]
            return [b] if isinstance(b, int) else []
        return []

    # ---------------------------------------------------------------- reports
    def _trace(self, bit: int) -> list[tuple[str, str, float]]:
        """(cell type, net name, arrival) from the launching cell to ``bit``."""
        steps = []
        b: int | None = bit
        while b is not None:
            prev, cell, t = self.pred[b]
            ctype = self.nl.cells[cell]["type"] if cell in self.nl.cells else cell
            steps.append((ctype, self.nl.name(b), t))
            b = prev
        return steps[::-1]

    def trace_sources(self, bit: int) -> list[str]:
        """The RTL source locations (yosys ``src``) of the cells on the path to ``bit``."""
        out = []
        b: int | None = bit
        while b is not None:
            prev, cell, _ = self.pred[b]
            src = self.nl.cells.get(cell, {}).get("attributes", {}).get("src", "")
            out.append(src.split("|")[0])
            b = prev
        return out[::-1]

    def _register_name(self, cname: str, fallback_bit: int) -> str:
        cell = self.nl.cells.get(cname)
        if cell is None:
            return cname
        for port in ("Q", "P", "DOUTADOUT", "DOUTBDOUT", "O", "SPO", "DOA", "DO"):
            bits = cell["connections"].get(port)
            if bits and isinstance(bits[0], int) and bits[0] in self.nl.names:
                return self.nl.name(bits[0])
        return self.nl.name(fallback_bit)

    def worst(self, count: int = 10, distinct: bool = True) -> list[Path_]:
        """The ``count`` worst paths; with ``distinct`` one per (source, sink) signal
        pair, signals named without their bit index."""
        heap = heapq.nlargest(len(self.endpoints), self.endpoints, key=lambda e: e[0])
        out: list[Path_] = []
        seen = set()
        for t, req, b, cname, kind in heap:
            steps = self._trace(b)
            src = steps[0][1] if steps else "?"
            sink = self._register_name(cname, b)
            key = (_strip_index(src), _strip_index(sink))
            if distinct and key in seen:
                continue
            seen.add(key)
            out.append(Path_(t, req, src, sink, kind, steps))
            if len(out) >= count:
                break
        for d, cname in sorted(self.internal, reverse=True)[:count]:
            name = self._register_name(cname, -1)
            out.append(
                Path_(d + self.m["uncertainty"], self.period, name, name, "DSP48E2 internal")
            )
        out.sort(key=lambda p: -p.arrival)
        return out[:count]

    def worst_arrival(self) -> float:
        ends = [e[0] for e in self.endpoints]
        ends += [d + self.m["uncertainty"] for d, _ in self.internal]
        return max(ends, default=0.0)


def _strip_index(name: str) -> str:
    """A signal's name without bit or generate indices: one entry per kind of path."""
    return re.sub(r"\[\d+\]", "[*]", name)


def analyze_file(path: str | Path, period_ns: float = 4.0, top: str | None = None) -> Analyzer:
    """Load a yosys JSON netlist and analyze it."""
    return Analyzer(Netlist(json.loads(Path(path).read_text()), top), period_ns)
