"""The run report of ``plutflow report``: markdown or HTML with PNG plots of accuracy per
stage, memory, per-layer cycles (the cycle model, checked against the run's measured
total) and utilisation, and the resource estimate."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plutflow.overlay.contract import CONTRACT
from plutflow.report.markdown import markdown_table
from plutflow.runtime.evaluate import Evaluation

CLOCK_MHZ = CONTRACT.clock_mhz


def short_labels(names: list[str], width: int = 22) -> list[str]:
    """Unique, readable labels for layer paths (``/features/features.3/conv/Conv``): a part
    that only extends the one before it replaces it (``features/features.3`` ->
    ``features.3``), then the fewest trailing parts that tell the layers apart, cut from
    the left to ``width`` characters (a leading '…' says so); still-equal labels get
    ``#k``."""

    def collapse(path: str) -> list[str]:  # features/features.3 -> features.3
        kept: list[str] = []
        for part in path.strip("/").split("/"):
            if kept and part.startswith(kept[-1] + "."):
                kept[-1] = part
            else:
                kept.append(part)
        return kept or [path]

    parts = [collapse(n) for n in names]
    depth = 1
    while depth < max(len(p) for p in parts):
        tails = ["/".join(p[-depth:]) for p in parts]
        if len(set(tails)) == len(tails):
            break
        depth += 1
    tails = ["/".join(p[-depth:]) for p in parts]
    cut = [t if len(t) <= width else "…" + t[-(width - 1) :] for t in tails]
    seen: dict[str, int] = {}
    out = []
    for c in cut:
        seen[c] = seen.get(c, 0) + 1
        out.append(c if cut.count(c) == 1 else f"{c}#{seen[c]}")
    return out


@dataclass
class ReportData:
    title: str
    overlay: dict[str, Any]
    accuracy: dict[str, float]  # stage -> top-1 %
    memory: dict[str, int]  # label -> bytes
    evaluation: Evaluation | None
    resources: list[dict[str, Any]] = field(default_factory=list)
    bit_exact: bool | None = None
    placement: list[dict[str, Any]] = field(default_factory=list)
    layer_cycles: dict[str, float] = field(default_factory=dict)  # modelled, per image
    model_cycles: float = 0.0  # the cycle model's total per image
    notes: list[str] = field(default_factory=list)
    schemes: dict[str, tuple[str, str]] = field(default_factory=dict)  # layer -> scheme, SQNR


@dataclass
class LayerRow:
    name: str
    target: str
    cycles: float  # modelled per image (0: host)
    macs: int  # per image
    host_ms: float  # measured per image (host layers)


def layer_rows(data: ReportData) -> list[LayerRow]:
    """One row per layer: where it ran, modelled overlay cycles, measured host time."""
    ev = data.evaluation
    n = max(ev.images, 1) if ev is not None else 1
    rows = []
    for r in data.placement:
        host_s = ev.host_layers.get(r["layer"], 0.0) if ev is not None else 0.0
        rows.append(LayerRow(r["layer"], r["target"], data.layer_cycles.get(r["layer"], 0.0),
                             int(r.get("macs", 0)), 1e3 * host_s / n))  # fmt: skip
    return rows


def _layer_table(data: ReportData) -> list[list[Any]]:
    mpc = data.overlay["p"] ** 2
    out = []
    for t in layer_rows(data):
        util = t.macs / (t.cycles * mpc) if t.cycles else 0.0
        scheme, sqnr = data.schemes.get(t.name, ("", ""))
        out.append([
            t.name, t.target, scheme or "-", sqnr or "-",
            f"{t.cycles:,.0f}" if t.cycles else "-",
            f"{100 * util:.1f}" if t.cycles and t.macs else "-",
            f"{t.host_ms:.2f}" if t.target == "host" else "-",
        ])  # fmt: skip
    return out


def _plots(data: ReportData, out: Path) -> list[tuple[str, str]]:
    from plutflow.report.plots import pyplot

    plt = pyplot()

    made = []

    def save(fig, name: str, caption: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        made.append((name, caption))

    if data.accuracy:
        fig, ax = plt.subplots(figsize=(6, 3))
        stages = list(data.accuracy)
        vals = [data.accuracy[s] for s in stages]
        ax.bar(stages, vals, color="#4c72b0")
        ax.set_ylim(0, 105)  # from 0: a cut axis makes a point look like a collapse
        images = data.evaluation.images if data.evaluation is not None else None
        ax.set_ylabel("top-1 %" + (f" ({images:,} images)" if images else ""))
        ax.tick_params(axis="x", labelsize=7)
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
        save(fig, "accuracy.png", "Top-1 accuracy at each stage")
    if data.memory:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh(list(data.memory), [v / 1024 for v in data.memory.values()], color="#55a868")
        ax.set_xlabel("KiB")
        save(fig, "memory.png", "Parameter memory")
    layers = [t for t in layer_rows(data) if t.cycles]
    if layers:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        names = short_labels([t.name for t in layers])
        ax.bar(names, [t.cycles for t in layers], color="#c44e52")
        ax.set_ylabel("cycles per image (model)")
        ax.tick_params(axis="x", rotation=30, labelsize=7)
        ax2 = ax.twinx()
        p = data.overlay["p"]
        # utilisation where the array multiplies (no marker for pooling, add, copies)
        util = [100 * t.macs / (t.cycles * p * p) if t.macs else float("nan") for t in layers]
        ax2.plot(names, util, "ko", linestyle="none")
        ax2.set_ylabel("utilisation %")
        ax2.set_ylim(0, 105)
        save(fig, "layers.png", "Overlay cycles (cycle model) and array utilisation per layer")
    if data.resources:
        fig, ax = plt.subplots(figsize=(7, 2.6))
        kinds = ["LUT", "FF", "DSP", "BRAM36", "URAM"]
        row = data.resources[0]  # the compiled configuration's
        shares = [100 * row.get(k, 0) / CONTRACT.device[k] for k in kinds]
        ax.barh(kinds, shares, color="#8172b2")
        for i, v in enumerate(shares):
            ax.text(v, i, f" {v:.1f} %", va="center", fontsize=8)
        ax.set_xlim(0, 100)
        ax.invert_yaxis()
        ax.set_xlabel(f"% of the {CONTRACT.device_part}")
        save(fig, "resources.png", f"Resource estimate of the {row['config']} configuration "
             "(yosys synth_xilinx -family xcup)")  # fmt: skip
    return made


def _sections(data: ReportData) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(heading, table header, rows) of each table of the report."""
    out = []
    if data.accuracy:
        out.append(
            ("Accuracy", ["stage", "top-1 %"], [[k, f"{v:.2f}"] for k, v in data.accuracy.items()])
        )
    if data.memory:
        out.append(("Memory", ["item", "bytes"], [[k, f"{v:,}"] for k, v in data.memory.items()]))
    ev = data.evaluation
    if ev is not None:
        cyc = ev.cycles_per_image
        host = ev.host_seconds_per_image()
        rows = [
            ["backend", ev.backend],
            ["images", ev.images],
            ["overlay cycles per image", f"{cyc:,.0f}"],
            [
                f"latency at {CLOCK_MHZ:.0f} MHz (overlay layers)",
                f"{1e3 * cyc / (CLOCK_MHZ * 1e6):.3f} ms",
            ],
            [f"images/s at {CLOCK_MHZ:.0f} MHz", f"{ev.modelled_images_per_s():,.0f}"],
            ["host layers per image", f"{1e3 * host:.2f} ms"],
            [
                "host pack / unpack per image",
                f"{1e3 * ev.pack_s / max(ev.images, 1):.2f} / "
                f"{1e3 * ev.unpack_s / max(ev.images, 1):.2f} ms",
            ],
        ]
        if data.model_cycles and cyc:
            rows.append(["cycle model / measured", f"{data.model_cycles / cyc:.3f}"])
        out.append(("Run", ["quantity", "value"], rows))
    if data.placement:
        out.append(
            (
                "Layers",
                [
                    "layer",
                    "runs on",
                    "scheme",
                    "weight SQNR dB",
                    "cycles/image (model)",
                    "utilisation %",
                    "host ms/image",
                ],
                _layer_table(data),
            )
        )
    if data.resources:
        out.append(
            (
                f"Resources of this configuration (yosys estimate, share of the "
                f"{CONTRACT.device_part})",
                ["config", "LUT", "FF", "DSP", "BRAM36", "URAM"],
                [
                    [r["config"]]
                    + [
                        f"{r[k]:,.0f} ({100 * r[k] / CONTRACT.device[k]:.1f} %)" if k in r else "-"
                        for k in ("LUT", "FF", "DSP", "BRAM36", "URAM")
                    ]
                    for r in data.resources
                ],
            )
        )
    return out


def write_report(data: ReportData, out_dir: str | Path, fmt: str = "md") -> Path:
    """Write ``report.md`` or ``report.html`` with its PNGs into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(data, out)
    ov = data.overlay
    overlay_line = f"overlay: {ov['pe_type']} PEs, {ov['p']} x {ov['p']} array"
    exact = (
        ""
        if data.bit_exact is None
        else ("bit-exact with golden" if data.bit_exact else "NOT bit-exact with golden")
    )
    (out / "report.json").write_text(
        json.dumps(
            {
                "title": data.title,
                "overlay": ov,
                "accuracy": data.accuracy,
                "memory": data.memory,
                "bit_exact": data.bit_exact,
                "cycles_per_image": data.evaluation.cycles_per_image if data.evaluation else None,
            },
            indent=1,
        )
    )
    if fmt == "html":
        parts = [
            f"<html><head><meta charset='utf-8'><title>{html.escape(data.title)}</title>"
            "<style>body{font-family:sans-serif;max-width:60em}table{border-collapse:"
            "collapse}td,th{border:1px solid #999;padding:2px 6px}</style></head><body>",
            f"<h1>{html.escape(data.title)}</h1><p>{html.escape(overlay_line)}</p>",
        ]
        if exact:
            parts.append(f"<p><b>{exact}</b></p>")
        for note in data.notes:
            parts.append(f"<p>{html.escape(note)}</p>")
        for heading, head, rows in _sections(data):
            parts.append(
                f"<h2>{html.escape(heading)}</h2><table><tr>"
                + "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
                + "</tr>"
            )
            for r in rows:
                parts.append(
                    "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                )
            parts.append("</table>")
        for name, caption in plots:
            parts.append(
                f"<figure><img src='{name}'><figcaption>{html.escape(caption)}"
                "</figcaption></figure>"
            )
        parts.append("</body></html>")
        path = out / "report.html"
        path.write_text("\n".join(parts))
        return path
    md = [f"# {data.title}", "", overlay_line, ""]
    if exact:
        md += [f"**{exact}**", ""]
    md += [*data.notes, ""] if data.notes else []
    for heading, head, rows in _sections(data):
        md += [f"## {heading}", "", *markdown_table(head, rows), ""]
    for name, caption in plots:
        md += [f"![{caption}]({name})", ""]
    path = out / "report.md"
    path.write_text("\n".join(md))
    return path
