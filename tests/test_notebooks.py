"""The KV260 notebooks execute unchanged against the simulated overlay
(PLUTFLOW_BACKEND=sim), as they do on a board with the pynq backend."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "boards" / "kv260" / "notebooks"


@pytest.mark.parametrize("name", sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs_on_the_simulator(name: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLUTFLOW_BACKEND", "sim")
    monkeypatch.setenv("PLUTFLOW_BENCH_IMAGES", "32")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "backend: sim" in outputs
    # progress is tqdm's notebook widget, with no IProgress (missing ipywidgets) warning
    stderr = "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.get("name") == "stderr"
    )
    assert "Warning" not in stderr, stderr
    widgets = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widgets, "no progress widget"
    if name != "benchmark":
        assert "bit-exact" in outputs
    assert os.environ["PLUTFLOW_BACKEND"] == "sim"


def test_notebooks_exist() -> None:
    assert {p.stem for p in NOTEBOOKS.glob("*.ipynb")} == {
        "quickstart",
        "benchmark",
        "bring_your_own_model",
    }
