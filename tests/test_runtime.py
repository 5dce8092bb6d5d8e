"""The runtime: artifacts, placement, the sim backend end to end (bit-exact with golden in
every format), simulator failures, and the pynq transport against a mock PYNQ device."""

from __future__ import annotations

import os
import signal
import zipfile
from functools import cache

import numpy as np
import pytest

from plutflow.errors import ArtifactError
from plutflow.formats.accel import OverlayConfig
from plutflow.golden.executor import GoldenExecutor
from plutflow.pipeline import DemoAssets, quantize_model
from plutflow.quant.builder import QuantConfig
from plutflow.quant.scheme import LayerScheme, SchemeConfig
from plutflow.runtime import (
    Accelerator,
    AcceleratorError,
    Artifact,
    OverlayMismatch,
    TransportError,
)
from plutflow.runtime.sim_transport import SimTransport

# overlay per format: P = 8 keeps the simulated demo fast
FORMATS = {
    "int8": ("int8", OverlayConfig.for_pe("int8", p=8)),
    "shift": ("upot:4:8", OverlayConfig.for_pe("shift", p=8)),
    "plut": ("plut:4:4", OverlayConfig.for_pe("plut", p=8)),
    "plut-lutram": ("plut:4:4", OverlayConfig.for_pe("plut-lutram", p=8)),
}


@cache
def demo_model(scheme: str):
    a = DemoAssets()
    schemes = SchemeConfig(default=LayerScheme.parse(scheme), ends_at_8bit=False)
    return quantize_model(
        str(a.model), a.calib_set()[:64], QuantConfig(schemes=schemes), progress=False
    )


@cache
def demo_images() -> np.ndarray:
    return DemoAssets().test_set()[0]


# ---------------------------------------------------------------- artifact
def test_artifact_round_trip(tmp_path) -> None:
    art = Artifact.compile(demo_model("int8"), FORMATS["int8"][1])
    path = art.save(tmp_path / "m.pfa")
    back = Artifact.load(path)
    assert back.overlay == art.overlay
    assert [p.target for p in back.plan] == [p.target for p in art.plan]
    for name, words in art.streams.items():
        assert np.array_equal(back.streams[name], words)
    x = demo_images()[:4]
    g1 = Accelerator(art, "golden").run(x).outputs
    g2 = Accelerator(back, "golden").run(x).outputs
    assert all(np.array_equal(g1[k], g2[k]) for k in g1)


def test_artifact_corruption_is_refused(tmp_path) -> None:
    art = Artifact.compile(demo_model("int8"), FORMATS["int8"][1])
    path = art.save(tmp_path / "m.pfa")
    raw = path.read_bytes()
    (tmp_path / "trunc.pfa").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        Artifact.load(tmp_path / "trunc.pfa")
    # a flipped stream: rewrite one member, keep the manifest
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    stream = next(n for n in members if n.startswith("streams/"))
    members[stream] = members[stream][:-1] + bytes([members[stream][-1] ^ 1])
    with zipfile.ZipFile(tmp_path / "flip.pfa", "w") as zf:
        for n, v in members.items():
            zf.writestr(n, v)
    with pytest.raises(ArtifactError, match=f"checksum mismatch in {stream}"):
        Artifact.load(tmp_path / "flip.pfa")
    # a newer format version
    import json

    man = json.loads(members["manifest.json"])
    man["version"] = 99
    members["manifest.json"] = json.dumps(man).encode()
    with zipfile.ZipFile(tmp_path / "new.pfa", "w") as zf:
        for n, v in members.items():
            zf.writestr(n, v)
    with pytest.raises(ArtifactError, match="version 99"):
        Artifact.load(tmp_path / "new.pfa")
    with pytest.raises(ArtifactError, match="not found"):
        Artifact.load(tmp_path / "missing.pfa")


def test_placement_names_the_reason() -> None:
    art = Artifact.compile(demo_model("int8"), FORMATS["plut"][1])
    convs = [p for p in art.plan if p.op in ("conv", "gemm")]
    assert convs and all(p.target == "host" for p in convs)
    assert "int8 weights on a plut overlay" in convs[0].reason
    art = Artifact.compile(demo_model("int8"), FORMATS["int8"][1])
    assert all(p.target == "overlay" for p in art.plan if p.op in ("conv", "gemm"))
    assert all(p.target == "host" for p in art.plan if p.op not in ("conv", "gemm"))


# ---------------------------------------------------------------- sim backend
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_demo_network_on_sim_is_bit_exact(fmt: str) -> None:
    scheme, overlay = FORMATS[fmt]
    model = demo_model(scheme)
    art = Artifact.compile(model, overlay)
    on_overlay = [p.layer for p in art.plan if p.target == "overlay"]
    assert len(on_overlay) >= 4, art.plan
    x = demo_images()[:3]
    with Accelerator(art, "sim") as acc:
        result = acc.run(x, keep=True)
    golden = GoldenExecutor(model).run(model.tensors[model.inputs[0]].quantize(x), keep=True)
    for lay in model.layers:
        name = lay.outputs[0]
        assert np.array_equal(result.tensors[name], golden[name]), f"{fmt}: layer {lay.name}"
    timed = {t.name: t for t in result.layers}
    assert all(timed[n].cycles > 0 and timed[n].target == "overlay" for n in on_overlay)


def _alive(pgid: int, wait_s: float = 5.0) -> bool:
    """Whether any live (non-zombie) process is left in the process group."""
    import time
    from pathlib import Path

    deadline = time.monotonic() + wait_s
    while True:
        live = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                live.append(stat.parent.name)
        if not live or time.monotonic() > deadline:
            return bool(live)
        time.sleep(0.1)


def test_sim_server_crash_is_reported_and_cleaned_up() -> None:
    t = SimTransport(FORMATS["int8"][1])
    pgid = t.proc.pid
    assert t.read(0x10) == 0x504C5546
    os.killpg(pgid, signal.SIGKILL)
    t.proc.wait()
    with pytest.raises(TransportError, match="connection broke"):
        t.read(0x10)
    assert not _alive(pgid)


def test_sim_server_timeout_is_reported_and_cleaned_up() -> None:
    t = SimTransport(FORMATS["int8"][1], timeout_s=0.05)
    pgid = t.proc.pid
    # a packet that keeps the simulator busy longer than the timeout
    words = np.zeros(20000, dtype=np.uint64)
    with pytest.raises(TransportError, match="did not answer within"):
        t.transfer(words, 4, timeout_s=0.05)
    assert t.proc.poll() is not None
    assert not _alive(pgid)


def test_sim_build_error_is_reported(monkeypatch, tmp_path) -> None:
    import shutil

    from plutflow.runtime.sim_transport import repo_root

    root = repo_root()
    fake = tmp_path / "tree"
    shutil.copytree(root / "sim", fake / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "overlay_src" / "rtl", fake / "overlay_src" / "rtl")
    broken = fake / "overlay_src" / "rtl" / "pf_engine.v"
    broken.write_text(broken.read_text().replace("endmodule", "endmodul"))
    monkeypatch.setenv("PLUTFLOW_ROOT", str(fake))
    with pytest.raises(TransportError, match="exited before it connected"):
        SimTransport(FORMATS["int8"][1])


def test_accelerator_error_status_is_raised() -> None:
    """A packet the overlay refuses (here: a truncated parameter stream, so TLAST comes
    early) ends with a clear error naming the layer, the status and the bytes moved."""
    model = demo_model("int8")
    art = Artifact.compile(model, FORMATS["int8"][1])
    first = next(p for p in art.plan if p.target == "overlay")
    art.streams[first.layer] = art.streams[first.layer][:-3]  # a short packet
    with (
        Accelerator(art, "sim", timeout_cycles=200_000) as acc,
        pytest.raises(AcceleratorError, match="short stream") as info,
    ):
        acc.run(demo_images()[:1])
    assert first.layer in str(info.value) and "bytes sent" in str(info.value)


def test_overlay_mismatch_is_refused_with_a_diff() -> None:
    art = Artifact.compile(demo_model("int8"), OverlayConfig.for_pe("int8", p=4))
    t = SimTransport(FORMATS["int8"][1])  # a P = 8 overlay
    with Accelerator(art, "sim", transport=t) as acc, pytest.raises(OverlayMismatch) as info:
        acc.run(demo_images()[:1])
    assert "p: artifact 4, overlay 8" in str(info.value)
