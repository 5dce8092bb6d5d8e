"""The KV260 board package: the install script parses, installs the board extra into
PYNQ's venv and copies notebooks and overlay; the README has the board steps."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "boards" / "kv260" / "install.sh"


def test_install_script_is_valid_sh() -> None:
    subprocess.run(["sh", "-n", str(INSTALL)], check=True)
    text = INSTALL.read_text()
    assert "/usr/local/share/pynq-venv" in text and "[board]" in text
    assert "notebooks/*.ipynb" in text and "plutflow.hwh" in text


def test_install_script_refuses_a_machine_without_pynq(tmp_path) -> None:
    proc = subprocess.run(
        ["sh", str(INSTALL)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYNQ_VENV": str(tmp_path / "none")},
    )
    assert proc.returncode == 1
    assert "PYNQ's venv not found" in proc.stderr


def test_install_copies_the_overlay_and_its_variants(tmp_path) -> None:
    board = tmp_path / "repo" / "boards" / "kv260"
    (board / "notebooks").mkdir(parents=True)
    (board / "notebooks" / "quickstart.ipynb").write_text("{}")
    (board / "install.sh").write_bytes(INSTALL.read_bytes())
    overlay = board / "overlay"
    overlay.mkdir()
    for name in ("plutflow.bit", "plutflow.hwh", "plutflow_shift.bit", "plutflow_shift.hwh",
                 "plutflow_plut.bit"):  # fmt: skip
        (overlay / name).write_text(name)
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "pip").write_text("#!/bin/sh\nexit 0\n")
    (venv / "python").write_text("#!/bin/sh\necho plutflow 0.0\n")
    for f in venv.iterdir():
        f.chmod(0o755)
    notebooks = tmp_path / "jupyter"
    env = {"PATH": "/usr/bin:/bin", "PYNQ_VENV": str(tmp_path / "venv")}
    env["PYNQ_JUPYTER_NOTEBOOKS"] = str(notebooks)
    proc = subprocess.run(
        ["sh", str(board / "install.sh")], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    installed = sorted(p.name for p in (notebooks / "plutflow" / "overlay").iterdir())
    assert installed == ["plutflow.bit", "plutflow.hwh", "plutflow_shift.bit",
                         "plutflow_shift.hwh"]  # fmt: skip
    assert "plutflow_plut.bit has no plutflow_plut.hwh" in proc.stderr


def test_board_extra_and_readme_steps() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'board = ["pynq>=' in pyproject
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Run on a KV260") :]
    for step in (
        "install.sh",
        "make -C overlay_src bitstream",
        "plutflow selftest",
        "plutflow deploy",
        "quickstart.ipynb",
    ):
        assert step in section, step
