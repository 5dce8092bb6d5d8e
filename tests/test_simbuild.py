"""The simulator library's profile-guided build (issue 11): the runtime's library is
trained and stamped so, and a training run that fails still leaves a working plain build."""

from __future__ import annotations

import json

import numpy as np

from plutflow.overlay import simbuild
from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.driver import OverlayControl
from plutflow.overlay.ports import SimPort


def _runs_bit_exact(cfg: OverlayConfig, lib) -> bool:
    import sys

    sys.path.insert(0, str(simbuild.repo_root() / "sim" / "cocotb"))
    from progen import random_case

    port = SimPort(cfg, 1 << 20, latency=40, gap=100, lib=lib)
    try:
        rng = np.random.default_rng(7)
        ctl = OverlayControl(port, cfg)
        for _ in range(4):
            case = random_case(cfg, rng, tiles=3)
            port.mem_write(0, case.mem)
            ctl.run(case.prog_addr, case.count, 120.0)
            if case.mismatch(port.mem_read(0, case.mem.size)) is not None:
                return False
        return True
    finally:
        port.close()


def test_the_runtime_simulator_is_profile_guided() -> None:
    cfg = OverlayConfig.named("small")
    lib = simbuild.build_library(cfg)
    stamp = json.loads((lib.parent / "ok.json").read_text())
    assert stamp["pgo"] is True and stamp["trained"] is True
    assert _runs_bit_exact(cfg, lib)


def test_a_failed_training_run_leaves_a_plain_build(tmp_path, monkeypatch) -> None:
    h = simbuild._harness()
    failing = tmp_path / "train.py"
    failing.write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(h, "BUILD", tmp_path / "cache")
    monkeypatch.setattr(h, "PGO_TRAIN", failing)
    cfg = OverlayConfig.named("small")
    log = tmp_path / "build.log"
    lib = h.build_sim_lib(cfg.rtl_parameters(), log=log, train=cfg.to_json())
    stamp = json.loads((lib.parent / "ok.json").read_text())
    assert stamp["pgo"] is True and stamp["trained"] is False
    assert not list(lib.parent.rglob("*.gcda"))  # scratch (and its profiles) removed
    assert h._sim_lib_state(lib.parent)[0] == "current"
    assert _runs_bit_exact(cfg, lib)
