"""Progress reads well everywhere: a bar on a terminal, whole lines in a log, the widget in
a notebook, nothing with -q; the simulator build announces itself."""

from __future__ import annotations

import io
import sys
import time
import types

import pytest
from tqdm import tqdm
from tqdm.notebook import tqdm as notebook_tqdm

from plutflow import notes
from plutflow.notes import LogProgress, progress_bar, progress_class


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _loop(n: int, pause: float, **kwargs) -> None:
    for _ in progress_bar(range(n), desc="calibrating", unit="img", **kwargs):
        time.sleep(pause)


def test_a_log_gets_whole_lines_and_a_last_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PLUTFLOW_PROGRESS_INTERVAL", "0.05")
    _loop(12, 0.02)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert 2 <= len(lines) <= 12, lines
    assert all(line.startswith("plutflow: calibrating: ") for line in lines)
    assert lines[-1].startswith("plutflow: calibrating: 12/12 img (100 %), ")
    assert len(set(lines)) == len(lines)  # no line twice
    assert any("left" in line for line in lines[:-1])


def test_a_short_task_prints_nothing_in_a_log(capsys) -> None:
    _loop(5, 0.0)  # default interval: 10 s
    assert capsys.readouterr().err == ""


def test_quiet_prints_nothing(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PLUTFLOW_PROGRESS_INTERVAL", "0")
    _loop(5, 0.01, progress=False)
    bar = progress_bar(total=3, progress=False)
    bar.update(3)
    bar.close()
    assert capsys.readouterr().err == ""


def test_hand_updated_bar_in_a_log(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PLUTFLOW_PROGRESS_INTERVAL", "0")
    bar = progress_bar(total=4, desc="run on sim", unit="batch")
    assert isinstance(bar, LogProgress)
    for _ in range(4):
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith("plutflow: run on sim: 4/4 batch (100 %)")


@pytest.mark.parametrize("text", ["abc", "-1", ""])
def test_bad_interval_falls_back(monkeypatch, text) -> None:
    monkeypatch.setenv("PLUTFLOW_PROGRESS_INTERVAL", text)
    assert notes.log_interval() == notes.LOG_INTERVAL_S


def test_the_form_follows_stderr(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert progress_class() is tqdm
    assert progress_class(progress=False) is None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_class() is LogProgress


def test_a_notebook_gets_the_widget(monkeypatch) -> None:
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert progress_class() is notebook_tqdm
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed: lines, no warning
    assert progress_class() is LogProgress


def test_the_simulator_build_announces_itself(monkeypatch, capsys) -> None:
    from plutflow.overlay import simbuild
    from plutflow.overlay.config import OverlayConfig

    def slow_build(params, train=None):
        time.sleep(1.3)
        return "lib.so"

    monkeypatch.setattr(simbuild, "_harness", lambda: types.SimpleNamespace(
        build_sim_lib=slow_build))  # fmt: skip
    assert simbuild.build_library(OverlayConfig.named("board"), progress=True) == "lib.so"
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("plutflow: note: building the simulator for int8 P=16 (first")
    assert err[-1] == "plutflow: note: built the simulator for int8 P=16 in 1 s"

    monkeypatch.setattr(simbuild, "_harness", lambda: types.SimpleNamespace(
        build_sim_lib=lambda params, train=None: "lib.so"))  # fmt: skip
    simbuild.build_library(OverlayConfig.named("board"), progress=True)
    assert capsys.readouterr().err == ""  # cached: silent
