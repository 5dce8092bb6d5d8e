"""Markdown tables and benchmark result files (JSON beside a markdown rendering)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """The lines of a markdown table; cells are converted with ``str``."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def write_results(directory: Path, name: str, result: Any, lines: list[str]) -> None:
    """Write ``name.json`` and ``name.md`` under ``directory`` and print the markdown."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (directory / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
