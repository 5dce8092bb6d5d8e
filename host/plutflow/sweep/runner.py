"""Running a sweep on Dask (``dask.distributed``): a ``LocalCluster`` sized to the
machine by default, or a running cluster given by its scheduler address; ``serial``
runs the same tasks in this process (the baseline the benchmark compares against).

The driver submits the float reference once, every point not yet in the cache (its
task key is the point's content hash, so Dask never runs a point twice at once), and
one resource estimate per distinct overlay configuration. Tasks are retried if they
fail (``retries``); a worker that dies mid-task has its work rescheduled by Dask. Each
result is written to the cache by the driver as its future completes, once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plutflow import __version__
from plutflow.errors import PlutflowError
from plutflow.outputs import write_atomic
from plutflow.sweep import tasks
from plutflow.sweep.cache import ResultCache
from plutflow.sweep.spec import SweepSpec

RETRIES = 2


@dataclass
class SweepRun:
    """What a sweep produced: a row per point (options, key, result), the float
    reference's top-1, resources per overlay configuration, and how it ran."""

    rows: list[dict[str, Any]]
    float_top1: float | None
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    computed: int = 0
    cached: int = 0
    failed: int = 0
    wall_s: float = 0.0
    executor: str = ""


def manifest(spec: SweepSpec, digest: str) -> dict[str, Any]:
    """The sweep's description as stored in DIR/sweep.json (what ``--report`` reads)."""
    from dataclasses import asdict

    return {
        "plutflow": __version__,
        "source": spec.source,
        "inputs": asdict(spec.inputs),
        "digest": digest,
        "resources": spec.resources,
        "points": [
            {
                "key": p.key(digest),
                "label": p.label(),
                "options": p.options(),
                "overlay_key": p.overlay_key(),
            }
            for p in spec.points
        ],
    }


def collect(out_dir: Path, man: dict[str, Any]) -> SweepRun:
    """The rows of a sweep from its manifest and cache (missing results are 'missing')."""
    cache = ResultCache(out_dir)
    ref = cache.get("float", man["digest"]) or {}
    run = SweepRun([], ref.get("top1"))
    for p in man["points"]:
        result = cache.get("points", p["key"]) or {"status": "missing"}
        run.rows.append({**p, "result": result})
        run.failed += result.get("status") != "ok"
        if p["overlay_key"] not in run.resources:
            res = cache.get("resources", _res_key(p["overlay_key"]))
            if res is not None:
                run.resources[p["overlay_key"]] = res
    return run


def _res_key(overlay_key: str) -> str:
    import hashlib

    return hashlib.sha256(f"{__version__}:{overlay_key}".encode()).hexdigest()[:20]


def run_sweep(
    spec: SweepSpec,
    out_dir: str | Path,
    scheduler: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    log: Callable[[str], None] = print,
) -> SweepRun:
    """Run every point of ``spec`` not yet cached under ``out_dir``; returns all rows.

    ``scheduler``: ``None`` (a LocalCluster of ``workers`` processes, default one per
    CPU), ``"serial"`` (this process, no Dask) or a scheduler address
    (``tcp://HOST:PORT``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = ResultCache(out)
    digest = spec.inputs.digest()
    man = manifest(spec, digest)
    write_atomic(out / "sweep.json", json.dumps(man, indent=1).encode())
    todo = []
    for p in man["points"]:
        hit = cache.get("points", p["key"])
        if hit is None or (retry_failed and hit.get("status") != "ok"):
            todo.append(p)
    res_todo = {}
    if spec.resources:
        for p in man["points"]:
            k = _res_key(p["overlay_key"])
            hit = cache.get("resources", k)
            if hit is None or (retry_failed and hit.get("status") == "failed"):
                res_todo[k] = json.loads(p["overlay_key"])
    log(
        f"sweep: {len(man['points'])} points, {len(man['points']) - len(todo)} cached, "
        f"{len(todo)} to run" + (f", {len(res_todo)} resource estimates" if res_todo else "")
    )
    t0 = time.perf_counter()
    if todo or res_todo or cache.get("float", digest) is None:
        if scheduler == "serial":
            executor = "serial (this process)"
            _run_serial(spec, cache, digest, todo, res_todo, log)
        else:
            executor = _run_dask(spec, cache, digest, todo, res_todo, scheduler, workers, log)
    else:
        executor = "nothing to run"
    run = collect(out, man)
    run.computed, run.cached = len(todo), len(man["points"]) - len(todo)
    run.wall_s, run.executor = time.perf_counter() - t0, executor
    return run


class _Progress:
    def __init__(self, total: int, log: Callable[[str], None]) -> None:
        self.total, self.done, self.failed, self.log = total, 0, 0, log

    def point(self, p: dict[str, Any], result: dict[str, Any], running: int) -> None:
        self.done += 1
        ok = result.get("status") == "ok"
        self.failed += not ok
        what = (
            f"agreement {result['agreement']:.2f} %, {result['param_bytes']:,} B"
            if ok
            else f"FAILED: {result.get('error', '')[:120]}"
        )
        self.log(
            f"[{self.done}/{self.total}] {p['label']}: {what} "
            f"({running} running, {self.failed} failed)"
        )


def _record_point(cache: ResultCache, p: dict[str, Any], result: dict[str, Any]) -> None:
    cache.put("points", p["key"], {**result, "label": p["label"], "options": p["options"]})


def _run_serial(spec, cache, digest, todo, res_todo, log) -> None:
    ref = cache.get("float", digest)
    if ref is None:
        ref = tasks.float_reference(spec.inputs)
        cache.put("float", digest, ref)
    prog = _Progress(len(todo), log)
    for p in todo:
        result = tasks.agreement(tasks.run_point(spec.inputs, p["options"]), ref)
        _record_point(cache, p, result)
        prog.point(p, result, 0)
    for k, overlay in res_todo.items():
        cache.put("resources", k, _resources_or_error(overlay))


def _resources_or_error(overlay: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"status": "ok", **tasks.overlay_resources(overlay)}
    except Exception as exc:  # recorded; the sweep goes on
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}


def _client(scheduler: str | None, workers: int | None):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise PlutflowError(
            "plutflow sweep runs on Dask: pip install 'plutflow[sweep]' (dask[distributed])"
        ) from None
    if scheduler:
        try:
            return Client(scheduler, timeout=30), f"Dask cluster at {scheduler}"
        except OSError as exc:
            raise PlutflowError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    import dask

    n = workers or os.cpu_count() or 1
    # a worker holds only the task it runs, so 'running' in the progress lines is exact;
    # workers keep glibc's own malloc trimming: Dask's MALLOC_TRIM_THRESHOLD_=65536 turns
    # off its dynamic mmap threshold and makes every large array a fresh mmap (measured:
    # a demo point 0.8 s -> 1.5 s); one BLAS/OpenMP thread per worker process
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != "MALLOC_TRIM_THRESHOLD_"}  # fmt: skip
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0,
                          "distributed.nanny.pre-spawn-environ": environ}):  # fmt: skip
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = Client(cluster)
    client.wait_for_workers(n)
    return client, f"Dask LocalCluster of {n} worker processes"


def _run_dask(spec, cache, digest, todo, res_todo, scheduler, workers, log) -> str:
    from distributed import as_completed

    t0 = time.perf_counter()
    client, executor = _client(scheduler, workers)
    log(f"sweep: running on the {executor} (ready in {time.perf_counter() - t0:.1f} s)")
    try:
        ref = cache.get("float", digest)
        futures: dict[Any, tuple[str, Any]] = {}
        if ref is None:  # the points do not wait for it: the driver compares at the end
            f = client.submit(tasks.float_reference, spec.inputs, key=f"float-{digest[:20]}",
                              retries=RETRIES)  # fmt: skip
            futures[f] = ("float", digest)
        for p in todo:
            f = client.submit(tasks.run_point, spec.inputs, p["options"],
                              key=f"point-{p['key']}", retries=RETRIES)  # fmt: skip
            futures[f] = ("points", p)
        for k, overlay in res_todo.items():
            f = client.submit(_resources_or_error, overlay, key=f"resources-{k}",
                              retries=RETRIES)  # fmt: skip
            futures[f] = ("resources", k)
        mine = {f.key for f in futures}
        prog = _Progress(len(todo), log)
        waiting: list[tuple[dict, dict]] = []  # points done before the float reference

        def record(p: dict, result: dict) -> None:
            result = tasks.agreement(result, ref)
            _record_point(cache, p, result)
            running = sum(k in mine for keys in client.processing().values() for k in keys)
            prog.point(p, result, running)

        for f in as_completed(list(futures)):
            kind, what = futures[f]
            if f.status == "error":
                exc = f.exception()
                result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}
            else:
                result = f.result()
            if kind == "float":
                if result.get("status") == "failed":
                    raise PlutflowError(f"the float reference failed: {result['error']}")
                cache.put("float", what, result)
                ref = result
                for p, r in waiting:
                    record(p, r)
                waiting.clear()
            elif kind == "points":
                if ref is None:
                    waiting.append((what, result))
                else:
                    record(what, result)
            else:
                cache.put("resources", what, result)
            f.release()
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and scheduler is None:
            cluster.close()
    return executor
