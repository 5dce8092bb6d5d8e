"""``plutflow sweep`` on real Dask: the sweep file, a LocalCluster run with a failing
point, the cache (a re-run computes nothing), the report, and a cluster of a real
``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 with one worker
killed mid-sweep: every point finishes exactly once, equal to a serial run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from plutflow.assets import DATA_DIR
from plutflow.cli import main
from plutflow.sweep import SweepError, SweepSpec, run_sweep

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from sweep import cached_results as results


def spec_dict(**extra) -> dict:
    return {
        "model": str(DATA_DIR / "fashion_mnist_demo.onnx"),
        "calib": str(DATA_DIR / "fashion_mnist_test2000.npz") + ":calib_images",
        "data": str(DATA_DIR / "fashion_mnist_test2000.npz"),
        "preprocess": str(DATA_DIR / "fashion_mnist_demo.json"),
        "num_calib": 64,
        "limit": 300,
        "run_images": 2,
        **extra,
    }


def recorded(out: Path) -> list[str]:
    lines = (out / "completed.jsonl").read_text().splitlines()
    return [json.loads(ln)["key"] for ln in lines if json.loads(ln)["kind"] == "points"]


def test_the_sweep_file_expands_and_refuses_mistakes(tmp_path) -> None:
    spec = SweepSpec.from_dict(
        spec_dict(
            grid={"scheme": ["int8", "upot:4:8"], "pe_type": ["int8", "shift", "plut"]},
            points=[{"scheme": "int8", "array": 8}, {"scheme": "int8", "pe_type": "int8"}],
        )
    )
    assert len(spec.points) == 7  # 2 x 3 grid, one new listed point, one duplicate dropped
    assert spec.points[0].options() == {"scheme": "int8", "pe_type": "int8"}
    keys = {p.key(spec.inputs.digest()) for p in spec.points}
    assert len(keys) == 7
    (tmp_path / "s.yaml").write_text(
        "model: m.onnx\ncalib: c.npy\ndata: c.npy\ngrid: {scheme: [int8]}\n"
    )
    (tmp_path / "m.onnx").write_bytes((DATA_DIR / "fashion_mnist_demo.onnx").read_bytes())
    (tmp_path / "c.npy").write_bytes(b"")
    assert SweepSpec.from_file(tmp_path / "s.yaml").inputs.model == str(tmp_path / "m.onnx")
    for bad, message in [
        ({"grid": {"schem": ["int8"]}}, "unknown option 'schem'"),
        ({"grid": {"array": ["8"]}}, "'array' takes an integer"),
        ({"grid": {"all_layers": [1]}}, "'all_layers' takes true/false"),
        ({"limit": -1, "grid": {"scheme": "int8"}}, "'limit' must be"),
        ({"colour": 1}, "unknown keys"),
        ({}, "no points"),
        ({"model": "/nonexistent.onnx", "grid": {"scheme": "int8"}}, "not found"),
    ]:
        with pytest.raises(SweepError, match=message):
            SweepSpec.from_dict({**spec_dict(), **bad})


def test_local_cluster_sweep_caches_reports_and_records_failures(tmp_path, capsys) -> None:
    spec = SweepSpec.from_dict(
        spec_dict(grid={"scheme": ["int8", "uniform:4:8"]}, points=[{"scheme": "int8", "array": 6}])
    )
    run = run_sweep(spec, tmp_path / "dask", log=lambda s: None)  # the default: LocalCluster
    assert run.executor == f"Dask LocalCluster of {os.cpu_count()} worker processes"
    status = {r["label"]: r["result"]["status"] for r in run.rows}
    assert status == {
        "scheme=int8": "ok",
        "scheme=uniform:4:8": "ok",
        "scheme=int8 array=6": "failed",
    }
    failed = next(r for r in run.rows if r["result"]["status"] == "failed")
    assert "array size P must be" in failed["result"]["error"]
    again = run_sweep(spec, tmp_path / "dask", workers=2, log=lambda s: None)
    assert (again.computed, again.cached, again.executor) == (0, 3, "nothing to run")
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        json.dumps(
            spec_dict(
                grid={"scheme": ["int8", "uniform:4:8"]}, points=[{"scheme": "int8", "array": 6}]
            )
        )
    )
    assert main(["sweep", str(sweep_file), "-o", str(tmp_path / "serial"), "--serial"]) == 0
    assert "[3/3] scheme=int8 array=6: FAILED: ValueError" in capsys.readouterr().out
    assert results(tmp_path / "dask") == results(tmp_path / "serial")
    ok = next(r["result"] for r in run.rows if r["result"]["status"] == "ok")
    assert ok["layers_on_overlay"] == ok["layers"] == 9 and ok["cycles_per_image"] > 0
    assert main(["sweep", "--report", str(tmp_path / "dask")]) == 0
    md = (tmp_path / "dask" / "sweep.md").read_text()
    assert "3 points: 2 ok, 1 failed" in md and "param_bytes" in md
    assert (tmp_path / "dask" / "pareto.png").stat().st_size > 10_000
    assert main(["sweep", "--report", str(tmp_path)]) == 2
    assert "holds no sweep" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path) -> None:
    dask = str(Path(sys.executable).with_name("dask"))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        workers = [
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        procs += workers
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        spec = SweepSpec.from_dict(
            spec_dict(
                grid={"scheme": ["int8", "uniform:4:8", "upot:4:8"], "pe_type": ["int8", "shift"]}
            )
        )
        out = tmp_path / "cluster"
        box: dict = {}
        thread = threading.Thread(
            target=lambda: box.update(
                run=run_sweep(spec, out, scheduler=address, log=lambda s: None)
            )
        )
        thread.start()
        deadline = time.monotonic() + 300
        while not (out / "completed.jsonl").exists() or not recorded(out):
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.05)
        with Client(address, timeout=60) as client:  # kill the first worker mid-task
            pids = client.run(os.getpid)
            addr = next(a for a, pid in pids.items() if pid == workers[0].pid)
            while not client.processing().get(addr):
                assert time.monotonic() < deadline and thread.is_alive()
                time.sleep(0.01)
            workers[0].send_signal(signal.SIGKILL)
        thread.join(timeout=600)
        assert not thread.is_alive()
        assert workers[0].wait(timeout=10) == -signal.SIGKILL
        run = box["run"]
        assert all(r["result"]["status"] == "ok" for r in run.rows), run.rows
        keys = recorded(out)
        assert sorted(keys) == sorted(r["key"] for r in run.rows)  # each point once
        serial = run_sweep(spec, tmp_path / "serial", scheduler="serial", log=lambda s: None)
        assert serial.computed == 6
        assert results(out) == results(tmp_path / "serial")
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
