"""Training run for the simulator's profile-guided build (``harness.build_sim_lib``):
random programs of every descriptor kind (``cocotb/progen.py``) on an instrumented
simulator library, whose profile the compiler reads when the process exits.

Usage: ``python sim/pgo_train.py LIB CONFIG_JSON CASES``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "cocotb"))


def main(argv: list[str]) -> int:
    import numpy as np
    from progen import random_case

    from plutflow.overlay.config import OverlayConfig
    from plutflow.overlay.driver import OverlayControl
    from plutflow.overlay.ports import SimPort

    lib, config, cases = Path(argv[0]), json.loads(argv[1]), int(argv[2])
    cfg = OverlayConfig(**config)
    port = SimPort(cfg, 1 << 20, latency=40, gap=100, lib=lib)
    try:
        ctl = OverlayControl(port, cfg)
        rng = np.random.default_rng(0)
        for _ in range(cases):
            case = random_case(cfg, rng, tiles=int(rng.integers(1, 7)))
            port.mem_write(0, case.mem)
            ctl.run(case.prog_addr, case.count, 120.0)
    finally:
        port.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
