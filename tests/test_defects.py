"""Every defect of the hardening review (issue 13), reproduced end to end
(bench/defects.py): the exit code, the one line the user sees, nothing left behind, and
what else was measured (source intact, board copy intact, memory). ``make bench`` prints
the same rows as the table in bench/results/hardening.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
import defects


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    s = defects.Shared(tmp_path_factory.mktemp("shared"))
    yield s
    s.close()


@pytest.mark.parametrize("key", list(defects.DEFECTS))
def test_defect_is_fixed(key, shared, tmp_path) -> None:
    from sshd_loopback import SshdUnavailable

    try:
        out = defects.run(key, tmp_path, shared)
    except SshdUnavailable as exc:  # a non-root user without sshd; CI (root) installs it
        pytest.skip(str(exc))
    assert defects.DEFECTS[key].check(out) == [], out
