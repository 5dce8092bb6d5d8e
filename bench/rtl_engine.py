"""Layer-engine benchmark (``make bench``): the full random-layer sweep bit-exact against
golden in every PE format, cycle efficiency on layers that fill the array, the cycle
model's error and the simulation speed. Writes bench/results/rtl_engine.{json,md}.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sim"))

from harness import ACCEL_TEST_CONFIGS, build_speed_tb, run_accel  # noqa: E402

from plutflow.report.markdown import markdown_table, write_results  # noqa: E402

RESULTS = Path(__file__).parent / "results"
CASES = 50
# board-sized overlays (256 MACs/cycle, 128-bit stream) for efficiency and speed
BOARD = {
    "int8": {"PE_TYPE": 0, "P": 16, "WBITS": 8, "DATA_W": 128},
    "shift": {"PE_TYPE": 1, "P": 16, "WBITS": 7, "B2": 3, "DATA_W": 128},
    "plut": {"PE_TYPE": 2, "P": 16, "WBITS": 5, "DATA_W": 128},
    "plut-lutram": {"PE_TYPE": 3, "P": 16, "WBITS": 4, "ABITS": 4, "DATA_W": 128},
}
FILLED = {"c": 32, "m": 32, "h": 14, "k": 3, "stride": 1, "pad": 1, "batch": 4}


def _report(pe: str, params: dict, testcase: str, **env: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        run_accel(pe, params, testcase=testcase, report=str(out), **env)
        return json.loads(out.read_text())


def sweep() -> dict:
    rows = {}
    for name, (pe, params) in sorted(ACCEL_TEST_CONFIGS.items()):
        rep = _report(pe, params, "random_layers", cases=str(CASES), seed="77")
        still = [lay for lay in rep["layers"] if lay["gaps"] == [0, 0]]
        errs = [abs(lay["model_total"] - lay["cycles"]) / lay["cycles"] for lay in still]
        rows[name] = {
            "layers": rep["cases"],
            "bit_exact": len(rep["layers"]),
            "failures": rep["failures"],
            "with_backpressure": len(rep["layers"]) - len(still),
            "model_max_error": max(errs) if errs else None,
            "model_mean_error": sum(errs) / len(errs) if errs else None,
        }
        print(name, rows[name], flush=True)
    return rows


def filled_layers() -> dict:
    rows = {}
    configs = [(pe, pe, params) for pe, params in BOARD.items()]
    configs.append(("int8 P=8 (64 MACs)", "int8", dict(BOARD["int8"], P=8, DATA_W=64)))
    for label, pe, params in configs:
        rep = _report(pe, params, "simulation_speed", speed=json.dumps(FILLED))
        ideal = rep["model"]["ideal"]
        rows[label] = {
            "macs": rep["macs"],
            "cycles": rep["cycles"],
            "compute_cycles": rep["compute"],
            "ideal_cycles": ideal,
            "compute_efficiency": ideal / rep["compute"],
            "total_efficiency": ideal / rep["cycles"],
            "model_cycles": rep["model"]["total"],
            "model_error": (rep["model"]["total"] - rep["cycles"]) / rep["cycles"],
            "sim_cycles_per_s": rep["sim_cycles_per_s"],
            "cycles_per_s_incl_load": rep["cycles_per_s"],
        }
        print(label, rows[label], flush=True)
    return rows


def raw_verilator(pe: str, params: dict) -> dict:
    """The same large layer on a pure Verilator C++ testbench (sim/cpp/speed_tb.cpp)."""
    import subprocess

    import numpy as np

    sys.path.insert(0, str(ROOT / "sim" / "cocotb"))
    from layergen import random_layer

    from plutflow.formats.accel import OverlayConfig, layer_packet

    cfg = OverlayConfig.for_pe(
        pe, **{"p": params["P"], "data_w": params.get("DATA_W", 64), "wbits": params["WBITS"]}
    )
    exe = build_speed_tb(params)
    case = random_layer(np.random.default_rng(0), cfg, 0, batch=FILLED["batch"], fixed=FILLED)
    words, _ = layer_packet(case.layer, case.x, case.in_spec, case.out_spec, cfg)
    w = words.reshape(-1, cfg.data_w // 64)
    if cfg.data_w == 128:
        text = "\n".join(f"{hi:016x}{lo:016x}" for lo, hi in w.tolist())
    else:
        text = "\n".join(f"{v:016x}" for v in w[:, 0].tolist())
    (exe.parent / "pf_in_mem.hex").write_text(text + "\n")
    out = subprocess.run(
        [str(exe), str(len(w)), "100000000"],
        cwd=exe.parent,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def main() -> None:
    """``rtl_engine.py [--speed-only]``: the full benchmark, or only the speed rows (the
    sweep and the efficiency table are kept from the last full run)."""
    if "--speed-only" in sys.argv:
        result = json.loads((RESULTS / "rtl_engine.json").read_text())
    else:
        result = {"sweep": sweep(), "filled_layer": FILLED, "efficiency": filled_layers()}
    raw = {}
    for label, pe, params in (
        ("int8", "int8", BOARD["int8"]),
        ("int8 P=8 (64 MACs)", "int8", dict(BOARD["int8"], P=8, DATA_W=64)),
    ):
        r = raw_verilator(pe, params)
        cocotb = max(  # the cocotb harness on the same layer, same run, best of three
            _report(pe, params, "simulation_speed", speed=json.dumps(FILLED))["sim_cycles_per_s"]
            for _ in range(3)
        )
        raw[label] = {
            **r,
            "cocotb_cycles_per_s": cocotb,
            "cocotb_over_raw": cocotb / r["cycles_per_s"],
        }
        print(label, raw[label], flush=True)
    result["raw_verilator"] = raw
    write_results(RESULTS, "rtl_engine", result, render(result))


def render(result: dict) -> list[str]:
    sw = result["sweep"]
    total = sum(r["layers"] for r in sw.values())
    exact = sum(r["bit_exact"] for r in sw.values())
    md = [
        "# Layer engine: bit-exactness, cycles, simulation speed",
        "",
        f"**{exact} of {total} random layer configurations bit-exact with the golden "
        "executor** (conv k x k with stride and asymmetric padding, 1x1, depthwise, FC; "
        "int8/uniform, PoT/UPoT, P-LUT weights of 2-8 bits; 2-8-bit signed/unsigned "
        "activations; activation tables; two thirds of them under random tvalid gaps and "
        "tready stalls). `make bench` -> `bench/rtl_engine.py`.",
        "",
    ]
    md += markdown_table(
        [
            "overlay",
            "layers",
            "bit-exact",
            "with backpressure",
            "cycle model max error (no backpressure)",
            "mean error",
        ],
        (
            [
                k,
                r["layers"],
                r["bit_exact"],
                r["with_backpressure"],
                f"{100 * r['model_max_error']:.1f} %",
                f"{100 * r['model_mean_error']:.2f} %",
            ]
            for k, r in sw.items()
        ),
    )
    f = result["filled_layer"]
    md += [
        "",
        f"## A layer that fills the array: {f['c']} -> {f['m']} channels, {f['h']}x{f['h']}, "
        f"{f['k']}x{f['k']}, batch {f['batch']}",
        "",
        "Ideal = MACs / (P x P). Compute efficiency counts the compute phase (COMPUTE "
        "register); total counts the whole run including loading weights and the first "
        "image. Simulation speed: simulated cycles per wall-clock second while the "
        "simulator runs the layer (Verilator through cocotb, GPI clock).",
        "",
    ]
    md += markdown_table(
        [
            "overlay (P=16, 128-bit unless noted)",
            "cycles",
            "ideal",
            "compute eff.",
            "total eff.",
            "model error",
            "sim cycles/s",
        ],
        (
            [
                k,
                f"{r['cycles']:,}",
                f"{r['ideal_cycles']:,}",
                f"{100 * r['compute_efficiency']:.1f} %",
                f"{100 * r['total_efficiency']:.1f} %",
                f"{100 * r['model_error']:+.2f} %",
                f"{r['sim_cycles_per_s']:,.0f}",
            ]
            for k, r in result["efficiency"].items()
        ),
    )
    if "raw_verilator" in result:
        md += [
            "",
            "## Raw Verilator speed (the peer of the cocotb harness)",
            "",
            "The same layer on a pure Verilator C++ testbench (`sim/cpp/speed_tb.cpp`: "
            "clock, AXI4-Lite and the wrapper's bulk packet load in C++, no cocotb), built "
            "from the same RTL with the same parameters, against the cocotb harness; both "
            "measured in the same run, best of five and of three runs.",
            "",
        ]
        md += markdown_table(
            ["overlay", "cycles", "raw C++ cycles/s", "cocotb cycles/s", "cocotb / raw"],
            (
                [
                    k,
                    f"{r['cycles']:,}",
                    f"{r['cycles_per_s']:,.0f}",
                    f"{r['cocotb_cycles_per_s']:,.0f}",
                    f"{r['cocotb_over_raw']:.2f}",
                ]
                for k, r in result["raw_verilator"].items()
            ),
        )
    return md


if __name__ == "__main__":
    main()
