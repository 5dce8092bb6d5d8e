"""The cycle model (plutflow.overlay.cycles) against the simulated RTL: random programs
and the demo network, every output bit-exact with the emulator, every cycle count within
the model's stated accuracy."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.cycles import MemoryModel, descriptor_cost, estimate, program_estimate
from plutflow.overlay.driver import OverlayControl
from plutflow.overlay.ports import SimPort

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim" / "cocotb"))
from progen import random_case

MODEL_TOLERANCE = 0.12  # random tiles: mostly fixed costs, the hardest case for the model


@pytest.mark.parametrize(("latency", "gap"), [(40, 0), (90, 150)])
def test_random_programs_match_the_model(latency: int, gap: int) -> None:
    cfg = OverlayConfig.named("small")
    rng = np.random.default_rng(latency + gap)
    port = SimPort(cfg, 1 << 20, latency=latency, gap=gap)
    ctl = OverlayControl(port, cfg)
    ratios = []
    for _ in range(12):
        case = random_case(cfg, rng, tiles=int(rng.integers(1, 7)))
        port.mem_write(0, case.mem)
        stats = ctl.run(case.prog_addr, case.count, 60.0)
        assert case.mismatch(port.mem_read(0, case.mem.size)) is None
        est = estimate(case.descs, cfg, MemoryModel.of_sim(latency, gap))
        ratios.append(est.cycles / stats.cycles)
        assert sum(est.per_descriptor) <= est.cycles
    assert all(abs(r - 1) < MODEL_TOLERANCE for r in ratios), ratios
    assert abs(np.mean(ratios) - 1) < 0.05, ratios


def test_whole_network_matches_the_model() -> None:
    from plutflow.api import quantize_model
    from plutflow.assets import DemoAssets
    from plutflow.overlay.compiler import compile_model
    from plutflow.overlay.executor import OverlayExecutor

    a = DemoAssets()
    model = quantize_model(str(a.model), a.calib_set()[:32], preprocess=a.preprocess(),
                           progress=False)  # fmt: skip
    cfg = OverlayConfig.for_pe("int8", p=8)
    comp = compile_model(model, cfg)
    prog = comp.program(2)
    port = SimPort(cfg, prog.mem_size, latency=40, gap=0)
    ex = OverlayExecutor(comp, port)
    run = ex.run({model.inputs[0]: model.tensors[model.inputs[0]].quantize(a.test_set()[0][:2])})
    est = program_estimate(prog, cfg, MemoryModel(40, 1.0))
    assert abs(est.cycles / run.stats.cycles - 1) < 0.03, (est.cycles, run.stats.cycles)
    assert set(est.per_layer) == {d.layer for d in prog.descriptors}


def test_descriptor_cost_counts_steps_and_beats() -> None:
    from plutflow.overlay.program import Descriptor

    d = Descriptor("CONV", {"LOAD_A", "LOAD_W", "PSUM_FIRST", "PSUM_LAST"}, {
        "IH": 6, "IW": 6, "ICG": 2, "OMG": 3, "OH": 4, "OW": 4, "KH": 3, "KW": 3,
        "A_ROWS": 4, "A_COLS": 4, "PAD_T": 1, "PAD_L": 1, "A_PS": 32, "A_RS": 128,
        "RQ_GROUPS": 3, "NTILES": 54, "TILE_BEATS": 16, "W_ADDR": 0, "A_ADDR": 4096,
    })  # fmt: skip
    c = descriptor_cost(d, OverlayConfig.for_pe("int8", p=16))
    assert c.steps == 4 * 4 * 3 * 9 * 2
    assert c.read_beats == 3 * 8 + 54 * 16 + 4 * 4 * 2
    assert c.pad_words == (36 - 16) * 2
    assert c.out_beats == 4 * 4 * 3
    assert c.macs == c.steps * 16 * 16
