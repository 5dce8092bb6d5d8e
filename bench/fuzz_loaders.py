"""Seeded mutation fuzzing of every loader: ``.pfq``, ``.pfa``, ONNX, ``.npy``, ``.npz``,
idx(.gz) and preprocessing configs (YAML and JSON).

Each input is a valid seed file with 1-4 byte mutations (flips, truncations, insertions,
overwrites with 0x00/0xff, copies of another region). A loader may accept it or raise
:class:`~plutflow.errors.PlutflowError`; anything else is a *foreign* exception and is
counted with its (type, innermost plutflow line) signature. Every input runs under a
time limit (a hang) and the process under an address-space cap (memory).

``tests/test_fuzz_loaders.py`` runs it bounded in ``make test``; ``bench/hardening.py``
(``make bench``) runs 100,000 inputs per loader into bench/results/hardening.{json,md}.
"""

from __future__ import annotations

import gzip
import io
import json
import resource
import signal
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from plutflow.errors import PlutflowError

RESULTS = Path(__file__).parent / "results"
MEMORY_CAP = 4 << 30  # bytes of address space for the whole process
PER_INPUT_S = 20.0


def seeds(tmp: Path) -> dict[str, tuple[bytes, str]]:
    """Valid seed bytes and the file suffix of each loader."""
    from plutflow.api import quantize_model
    from plutflow.assets import DemoAssets
    from plutflow.board.selftest import bundled_artifact

    demo = DemoAssets()
    model = quantize_model(demo.model, demo.calib_set()[:16], progress=False)
    art = tmp / "a.pfa"
    bundled_artifact().save(art)
    npy, npz = io.BytesIO(), io.BytesIO()
    np.save(npy, np.arange(4 * 28 * 28, dtype=np.uint8).reshape(4, 28, 28))
    np.savez(npz, images=np.zeros((4, 28, 28), np.uint8), labels=np.arange(4))
    idx = bytes([0, 0, 8, 3]) + (4).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    idx += bytes(range(256)) * (4 * 28 * 28 // 256) + bytes(4 * 28 * 28 % 256)
    cfg = {"size": [28, 28], "channels": 1, "scale": 0.00392, "mean": [0.5], "std": [0.25]}
    return {
        "pfq": (model.to_bytes(), ".pfq"),
        "pfa": (art.read_bytes(), ".pfa"),
        "onnx": (demo.model.read_bytes(), ".onnx"),
        "npy": (npy.getvalue(), ".npy"),
        "npz": (npz.getvalue(), ".npz"),
        "idx.gz": (gzip.compress(idx), "-idx3-ubyte.gz"),
        "config.yaml": (
            b"size: [28, 28]\nchannels: 1\nscale: 0.00392\nmean: [0.5]\nstd: [0.25]\n",
            ".yaml",
        ),
        "config.json": (json.dumps(cfg).encode(), ".json"),
    }


def loaders() -> dict[str, Callable[[Path], object]]:
    from plutflow.calib.preprocess import Preprocess
    from plutflow.calib.sources import read_array, read_idx
    from plutflow.intmodel import IntModel
    from plutflow.ir import import_onnx
    from plutflow.runtime import Artifact

    return {
        "pfq": IntModel.load,
        "pfa": Artifact.load,
        "onnx": import_onnx,
        "npy": read_array,
        "npz": read_array,
        "idx.gz": read_idx,
        "config.yaml": Preprocess.from_file,
        "config.json": Preprocess.from_file,
    }


def mutate(seed: bytes, rng: np.random.Generator) -> bytes:
    blob = bytearray(seed)
    for _ in range(int(rng.integers(1, 5))):
        if not blob:
            break
        where = int(rng.integers(0, len(blob)))
        how = int(rng.integers(0, 6))
        if how == 0:
            blob[where] ^= 1 << int(rng.integers(0, 8))
        elif how == 1:
            del blob[where:]
        elif how == 2:
            blob[where:where] = rng.bytes(int(rng.integers(1, 17)))
        elif how in (3, 4):
            n = int(rng.integers(1, 9))
            blob[where : where + n] = (b"\0" if how == 3 else b"\xff") * n
        else:  # copy another region here (duplicated headers, lengths)
            src = int(rng.integers(0, len(blob)))
            n = int(rng.integers(1, 65))
            blob[where : where + n] = blob[src : src + n]
    return bytes(blob)


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def signature(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "plutflow" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def fuzz(name: str, count: int, seed: int = 0, tmp: Path | None = None,
         seed_files: dict | None = None) -> dict:  # fmt: skip
    """Run ``count`` mutated inputs through loader ``name``; the tally."""
    tmp = tmp or Path(tempfile.mkdtemp())
    data, suffix = (seed_files or seeds(tmp))[name]
    load = loaders()[name]
    rng = np.random.default_rng(seed)
    path = tmp / f"fuzz{suffix}"
    foreign: Counter = Counter()
    accepted = refused = hangs = 0
    examples: dict[str, str] = {}
    old = signal.signal(signal.SIGALRM, _alarm)
    t0 = time.perf_counter()
    try:
        for i in range(count):
            path.write_bytes(mutate(data, rng) if i else data)  # input 0: the seed itself
            signal.setitimer(signal.ITIMER_REAL, PER_INPUT_S)
            try:
                load(path)
                accepted += 1
            except PlutflowError:
                refused += 1
            except _Hang:
                hangs += 1
            except Exception as exc:  # a foreign exception: the finding
                sig = signature(exc)
                foreign[sig] += 1
                examples.setdefault(sig, str(exc)[:200])
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old)
    return {
        "loader": name, "inputs": count, "accepted": accepted, "refused": refused,
        "foreign": sum(foreign.values()), "signatures": dict(foreign), "examples": examples,
        "hangs": hangs, "seconds": time.perf_counter() - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


def cap_memory(limit: int = MEMORY_CAP) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
