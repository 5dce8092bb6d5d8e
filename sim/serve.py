"""Start the simulator server: build (cached) and run the accelerator simulation with the
``sim_server`` cocotb test connected to a driver's Unix socket.

    python sim/serve.py --socket PATH --params '{"PE_TYPE": 0, "P": 8, ...}'

Started by ``plutflow.runtime.sim_transport.SimTransport``; not meant to be run by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ACCEL_CONTROL, ACCEL_SOURCES, run_cocotb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--params", required=True, help="RTL parameters of pf_sim_top (JSON)")
    ap.add_argument("--work", required=True, help="directory for this run's results")
    args = ap.parse_args()
    run_cocotb(
        "pf_sim_top",
        ACCEL_SOURCES,
        "sim_server",
        parameters=json.loads(args.params),
        control_file=ACCEL_CONTROL,
        extra_env={"PLUTFLOW_SIM_SOCKET": args.socket},
        test_dir=Path(args.work),
    )


if __name__ == "__main__":
    main()
