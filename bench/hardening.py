"""``make bench``: bench/results/hardening.{json,md}: every defect of the hardening review
reproduced end to end (bench/defects.py; each row is a test in tests/test_defects.py)
and the loader fuzzing (bench/fuzz_loaders.py, 100,000 inputs per loader)."""

from __future__ import annotations

import os
import resource
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import defects
import fuzz_loaders

from plutflow.report.markdown import markdown_table, write_results


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def defect_rows(work: Path) -> list[dict]:
    shared = defects.Shared(work)
    rows = []
    try:
        for key, d in defects.DEFECTS.items():
            out = defects.run(key, work, shared)
            rows.append(
                {
                    "key": key,
                    "area": d.area,
                    "input": d.input,
                    "old": d.old,
                    "outcome": asdict(out),
                    "problems": d.check(out),
                    "test": f"tests/test_defects.py::test_defect_is_fixed[{key}]",
                }
            )
            print(
                f"{key}: {'ok' if not rows[-1]['problems'] else rows[-1]['problems']}",
                file=sys.stderr,
            )
    finally:
        shared.close()
    return rows


def main() -> int:
    count = int(os.environ.get("PLUTFLOW_FUZZ_INPUTS", "100000"))
    work = Path(tempfile.mkdtemp(prefix="plutflow-hardening-"))
    limit = resource.getrlimit(resource.RLIMIT_AS)
    fuzz_loaders.cap_memory()
    files = fuzz_loaders.seeds(work)
    # the fuzzing first: its peak RSS is then the loaders', not the reproducers'
    fuzz = [
        fuzz_loaders.fuzz(name, count, seed=i, tmp=work, seed_files=files)
        for i, name in enumerate(fuzz_loaders.loaders())
    ]
    resource.setrlimit(resource.RLIMIT_AS, limit)  # the reproducers run uncapped
    rows = defect_rows(work)
    fixed = sum(not r["problems"] for r in rows)
    md = [
        "# Hardening",
        "",
        f"## Every defect of the review ({fixed} of {len(rows)} fixed)",
        "",
        "Each row is a reproducer run end to end by `bench/defects.py` (the `plutflow` "
        "command, a subprocess where a signal or a file-size limit is part of the input, "
        "the library call for the board transport) and a test "
        "(`tests/test_defects.py::test_defect_is_fixed[KEY]`, in `make test`). 'Exit' is "
        "the exit code (- for a library call); 'left behind' lists new files in the "
        "case's directory; 'measured' is what else was checked.",
        "",
    ]
    md += markdown_table(
        [
            "key",
            "area",
            "input",
            "old behaviour",
            "now (the line the user sees)",
            "exit",
            "left behind",
            "measured",
            "status",
        ],
        [
            [
                r["key"],
                r["area"],
                cell(r["input"]),
                cell(r["old"]),
                cell(r["outcome"]["said"][:160]),
                "-" if r["outcome"]["code"] is None else r["outcome"]["code"],
                ", ".join(r["outcome"]["left"]) or "nothing",
                cell(r["outcome"]["note"]) or "",
                "fixed" if not r["problems"] else "; ".join(r["problems"]),
            ]
            for r in rows
        ],
    )
    md += [
        "",
        "## Loader fuzzing",
        "",
        f"Seeded byte mutations of a valid file per loader (`bench/fuzz_loaders.py`), "
        f"{count:,} inputs each, under a {fuzz_loaders.MEMORY_CAP >> 30} GiB address-space "
        f"cap and a {fuzz_loaders.PER_INPUT_S:.0f} s limit per input. 'Foreign' counts "
        "exceptions other than plutflow's error class (each a defect).",
        "",
    ]
    md += markdown_table(
        [
            "loader",
            "inputs",
            "accepted",
            "refused (one error line)",
            "foreign",
            "hangs",
            "peak RSS MB",
            "seconds",
        ],
        [
            [
                r["loader"],
                f"{r['inputs']:,}",
                r["accepted"],
                r["refused"],
                r["foreign"],
                r["hangs"],
                f"{r['peak_rss_mb']:.0f}",
                f"{r['seconds']:.0f}",
            ]
            for r in fuzz
        ],
    )
    for r in fuzz:
        for sig, n in r["signatures"].items():
            md.append(f"- {r['loader']}: {n} x {sig}: {r['examples'][sig]}")
    md += ["", "Produced by `make bench` (`bench/hardening.py`)."]
    write_results(
        fuzz_loaders.RESULTS,
        "hardening",
        {"defects": rows, "inputs_per_loader": count, "loaders": fuzz},
        md,
    )
    ok = all(not r["problems"] for r in rows)
    return 0 if ok and all(r["foreign"] == 0 and r["hangs"] == 0 for r in fuzz) else 1


if __name__ == "__main__":
    sys.exit(main())
