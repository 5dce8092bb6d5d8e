"""The sweep report: a table of every point and Pareto plots of agreement with float
(or top-1) against parameter bytes, modelled images/s and LUTs, frontier marked;
written as ``sweep.md``, ``sweep.html``, ``results.json`` and ``pareto.png``."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from plutflow.outputs import write_atomic
from plutflow.report.markdown import markdown_table
from plutflow.runtime.accelerator import CLOCK_MHZ
from plutflow.runtime.evaluate import modelled_images_per_s
from plutflow.sweep.runner import SweepRun

#: (column, label, True when more is better)
AXES = [
    ("param_bytes", "packed parameter bytes", False),
    ("images_per_s", f"modelled images/s at {CLOCK_MHZ:.0f} MHz (host layers included)", True),
    ("lut", "LUTs (yosys xcup, whole accelerator)", False),
]


def table_rows(run: SweepRun) -> list[dict[str, Any]]:
    """One flat record per point with the derived columns."""
    rows = []
    for r in run.rows:
        res = r["result"]
        row = {
            "key": r["key"],
            "label": r["label"],
            "options": r["options"],
            "status": res.get("status"),
            "error": res.get("error", ""),
        }
        if res.get("status") == "ok":
            row.update(
                {
                    k: res[k]
                    for k in (
                        "top1",
                        "agreement",
                        "param_bytes",
                        "schemes",
                        "layers",
                        "layers_on_overlay",
                        "mac_share_on_overlay",
                        "cycles_per_image",
                        "host_seconds_per_image",
                        "seconds",
                    )
                }
            )
            rate = modelled_images_per_s(res["cycles_per_image"], res["host_seconds_per_image"])
            row["images_per_s"] = None if rate == float("inf") else rate
            est = run.resources.get(r["overlay_key"], {})
            if est.get("status") == "ok":
                row["lut"] = est["resources"]["LUT"]
                row["lut_share"] = est["k26_share"]["LUT"]
        rows.append(row)
    return rows


def pareto(rows: list[dict[str, Any]], quality: str, cost: str, more_is_better: bool) -> set[int]:
    """Indices of the rows no other row beats on both ``quality`` (higher is better) and
    ``cost`` (lower is better, or higher with ``more_is_better``)."""
    pts = [
        (i, r[quality], r[cost] if not more_is_better else -r[cost])
        for i, r in enumerate(rows)
        if r.get(quality) is not None and r.get(cost) is not None
    ]
    front = set()
    for i, q, c in pts:
        if not any((q2 >= q and c2 <= c) and (q2 > q or c2 < c) for _, q2, c2 in pts):
            front.add(i)
    return front


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> list[str]:
    """The Pareto plots (one panel per cost axis with data); returns the axes drawn."""
    from plutflow.report.plots import pyplot

    plt = pyplot()

    axes = [a for a in AXES if any(r.get(a[0]) is not None for r in rows)]
    quality = "agreement"
    fig, panels = plt.subplots(1, len(axes), figsize=(6 * len(axes), 4.8), squeeze=False)
    for ax, (col, label, more) in zip(panels[0], axes, strict=True):
        front = pareto(rows, quality, col, more)
        for i, r in enumerate(rows):
            if r.get(col) is None or r.get(quality) is None:
                continue
            on = i in front
            ax.scatter(
                r[col],
                r[quality],
                s=40 if on else 18,
                c="C3" if on else "C0",
                zorder=3 if on else 2,
            )
        fr = sorted((rows[i][col], rows[i][quality]) for i in front)
        if fr:
            ax.step(
                [x for x, _ in fr],
                [y for _, y in fr],
                where="pre" if more else "post",
                c="C3",
                lw=1,
                label="Pareto frontier",
            )
            spots: dict[tuple[float, float], list[str]] = {}
            for i in sorted(front):
                spots.setdefault((rows[i][col], rows[i][quality]), []).append(rows[i]["label"])
            xs = [r[col] for r in rows if r.get(col) is not None]
            mid = (min(xs) * max(xs)) ** 0.5 if col == "param_bytes" else (min(xs) + max(xs)) / 2
            for (x, y), labels in spots.items():
                text = labels[0] + (f" (+{len(labels) - 1})" if len(labels) > 1 else "")
                right = x > mid  # labels of the right half grow leftwards, inside the axes
                ax.annotate(
                    text,
                    (x, y),
                    fontsize=6,
                    xytext=(-4 if right else 4, -8),
                    textcoords="offset points",
                    ha="right" if right else "left",
                )
        ax.set_xlabel(label)
        ax.set_ylabel("agreement with float (%)")
        if col == "param_bytes":
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [a[0] for a in axes]


def _fmt(v: Any, spec: str = "") -> str:
    if v is None or v == "":
        return ""
    return format(v, spec) if spec else str(v)


def write_report(run: SweepRun, out_dir: str | Path, title: str = "plutflow sweep") -> Path:
    """Write the report files under ``out_dir``; returns the markdown's path."""
    out = Path(out_dir)
    rows = table_rows(run)
    ok = [r for r in rows if r["status"] == "ok"]
    drawn = plot(ok, out / "pareto.png", title) if ok else []
    fronts = {
        col: {ok[i]["key"] for i in pareto(ok, "agreement", col, more)}
        for col, _l, more in AXES
        if col in drawn
    }
    head = [
        "point",
        "status",
        "top-1 %",
        "agreement %",
        "param bytes",
        "overlay layers",
        "MACs on overlay",
        "modelled images/s",
        "LUTs (K26 %)",
        "frontier",
        "s",
    ]
    body = []
    for r in rows:
        on = [c for c, keys in fronts.items() if r["key"] in keys]
        if r["status"] != "ok":
            body.append([r["label"], f"{r['status']}: {r['error'][:100]}"] + [""] * 9)
            continue
        lut = f"{r['lut']:,} ({r['lut_share'] * 100:.1f})" if "lut" in r else ""
        body.append(
            [
                r["label"],
                "ok",
                _fmt(r["top1"], ".2f"),
                f"{r['agreement']:.2f}",
                f"{r['param_bytes']:,}",
                f"{r['layers_on_overlay']}/{r['layers']}",
                f"{r['mac_share_on_overlay'] * 100:.0f} %",
                _fmt(r["images_per_s"], ",.0f"),
                lut,
                ", ".join(on),
                f"{r['seconds']:.1f}",
            ]
        )
    summary = (
        f"{len(rows)} points: {len(ok)} ok, {len(rows) - len(ok)} failed or missing; "
        f"float top-1 {_fmt(run.float_top1, '.2f')} %; ran on {run.executor or 'cache'}"
        f" in {run.wall_s:.0f} s ({run.computed} computed, {run.cached} cached)."
    )
    md = [
        f"# {title}",
        "",
        summary,
        "",
        "'frontier' names the Pareto plots where the point is on the frontier (agreement "
        "with float against parameter bytes, modelled images/s, LUTs). Modelled images/s: "
        f"the overlay's modelled cycles (cycle model, KV260 memory model) at {CLOCK_MHZ:.0f} "
        "MHz plus the host layers' measured time (on the worker that ran the point).",
        "",
    ]
    md += markdown_table(head, ([c.replace("|", "\\|") for c in row] for row in body))
    if drawn:
        md += ["", "![Pareto plots](pareto.png)"]
    write_atomic(out / "sweep.md", ("\n".join(md) + "\n").encode())
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
        "collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(summary)}</p>"
        + ("<img src='pareto.png' style='max-width:100%'>" if drawn else "")
        + f"<table><tr>{cells}</tr>{trs}</table></body></html>"
    )
    write_atomic(out / "sweep.html", page.encode())
    data = {
        "summary": summary,
        "float_top1": run.float_top1,
        "wall_s": run.wall_s,
        "executor": run.executor,
        "computed": run.computed,
        "cached": run.cached,
        "frontiers": {k: sorted(v) for k, v in fronts.items()},
        "points": rows,
    }
    write_atomic(out / "results.json", json.dumps(data, indent=1, default=str).encode())
    return out / "sweep.md"
