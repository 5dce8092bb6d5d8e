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
