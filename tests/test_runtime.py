"""The runtime: artifacts, placement, whole networks on the emulated and simulated overlay
(every tensor bit-exact with golden, every overlay type), the driver's error reports
(refused descriptors, timeouts, mismatched overlays, memory windows) and the simulator
build."""

from __future__ import annotations

import json
import zipfile
from functools import cache

import numpy as np
import pytest

from plutflow.api import quantize_model
from plutflow.assets import DemoAssets
from plutflow.errors import ArtifactError, PlutflowError
from plutflow.golden.executor import GoldenExecutor
from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.contract import CONTRACT
from plutflow.overlay.ports import EmulatorPort, SimPort
from plutflow.quant.builder import QuantConfig
from plutflow.quant.scheme import LayerScheme, SchemeConfig
from plutflow.runtime import Accelerator, Artifact, OverlayMismatch, OverlayRunError

# overlay per weight format; P = 8 keeps the simulated demo fast
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
    cfg = QuantConfig(schemes=schemes) if scheme != "int8" else QuantConfig()
    return quantize_model(str(a.model), a.calib_set()[:64], cfg, preprocess=a.preprocess(),
                          progress=False)  # fmt: skip


@cache
def demo_images() -> np.ndarray:
    return DemoAssets().test_set()[0]


@cache
def int8_artifact() -> Artifact:
    return Artifact.compile(demo_model("int8"), FORMATS["int8"][1])


def _golden(model, x: np.ndarray) -> dict[str, np.ndarray]:
    return GoldenExecutor(model).run(model.tensors[model.inputs[0]].quantize(x), keep=True)


# ---------------------------------------------------------------- artifact
def test_artifact_round_trip(tmp_path) -> None:
    art = int8_artifact()
    path = art.save(tmp_path / "m.pfa")
    back = Artifact.load(path)
    assert back.overlay == art.overlay
    assert back.placement == art.placement
    assert back.compiled.params == art.compiled.params
    assert back.compiled.program(3).bytes() == art.compiled.program(3).bytes()
    with zipfile.ZipFile(path) as zf:
        man = json.loads(zf.read("manifest.json"))
    assert man["registers"] == art.overlay.registers()
    assert man["program_batch1"]["descriptors"] == len(art.compiled.program(1).descriptors)


def test_artifact_corruption_is_refused(tmp_path) -> None:
    path = int8_artifact().save(tmp_path / "m.pfa")
    raw = path.read_bytes()
    (tmp_path / "trunc.pfa").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        Artifact.load(tmp_path / "trunc.pfa")
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}

    def write(name: str, changed: dict[str, bytes]) -> str:
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            for n, v in {**members, **changed}.items():
                zf.writestr(n, v)
        return str(tmp_path / name)

    flipped = bytearray(members["params.bin"])
    flipped[7] ^= 1
    with pytest.raises(ArtifactError, match=r"checksum mismatch in params\.bin"):
        Artifact.load(write("flip.pfa", {"params.bin": bytes(flipped)}))
    man = json.loads(members["manifest.json"])
    man["version"] = 99
    with pytest.raises(ArtifactError, match="version 99"):
        Artifact.load(write("new.pfa", {"manifest.json": json.dumps(man).encode()}))
    man = json.loads(members["manifest.json"])
    man["overlay"]["p"] = 5
    with pytest.raises(ArtifactError, match="bad overlay configuration"):
        Artifact.load(write("badp.pfa", {"manifest.json": json.dumps(man).encode()}))
    with pytest.raises(ArtifactError, match="not found"):
        Artifact.load(tmp_path / "missing.pfa")


def test_placement_puts_the_whole_demo_on_the_overlay() -> None:
    rows = int8_artifact().placement
    assert all(r["target"] == "overlay" and not r["reason"] for r in rows), rows
    kinds = {r["op"]: r.get("kind") for r in rows}
    assert kinds["add"] == "ADD" and kinds["global_avgpool"] == "SUMPOOL"
    assert kinds["gemm"] == "CONV" and kinds["flatten"] == "view"


def test_placement_names_the_reason_for_the_host() -> None:
    """Without the int8 path, a P-LUT overlay cannot run int8 layers: they go to the
    host, and the placement says why."""
    cfg = OverlayConfig.for_pe("plut", p=8, int8_path=0)
    rows = Artifact.compile(demo_model("int8"), cfg).placement
    convs = [r for r in rows if r["op"] in ("conv", "gemm")]
    assert convs and all(r["target"] == "host" for r in convs)
    assert all("int8" in r["reason"] for r in convs), convs


# ---------------------------------------------------------------- whole networks
@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("backend", ["emu", "sim"])
def test_demo_network_is_bit_exact(fmt: str, backend: str) -> None:
    scheme, overlay = FORMATS[fmt]
    model = demo_model(scheme)
    art = Artifact.compile(model, overlay)
    x = demo_images()[:3]
    with Accelerator(art, backend) as acc:
        result = acc.run(x, keep=True)
    golden = _golden(model, x)
    for lay in model.layers:
        name = lay.outputs[0]
        assert np.array_equal(result.tensors[name], golden[name]), f"{fmt}: layer {lay.name}"
    assert result.stats.descriptors == len(art.compiled.program(3).descriptors)
    if backend == "sim":
        assert result.stats.cycles > 0 and result.stats.read_bytes > 0


def test_batches_larger_than_the_program_are_split() -> None:
    model = demo_model("int8")
    x = demo_images()[:5]
    with Accelerator(int8_artifact(), "emu", max_batch=2) as acc:
        out = acc.run(x).outputs
    gold = _golden(model, x)
    assert all(np.array_equal(out[k], gold[k]) for k in out)


# ---------------------------------------------------------------- errors
def test_a_refused_descriptor_names_the_layer_and_the_check() -> None:
    """A descriptor the overlay refuses (here: an unknown kind written over one in device
    memory) ends the run with the layer and tile, the error and what moved."""
    art = int8_artifact()
    with Accelerator(art, "sim", max_batch=1) as acc:
        acc.run(demo_images()[:1])  # loads the program for batch 1
        prog = acc.executor.program(1)
        k = 2
        f = CONTRACT.fields["KIND"]
        at = prog.prog_offset + 128 * k + 4 * f.word
        word = int(acc.port.mem_read(at, 4).view("<u4")[0])
        bad = (word & ~(((1 << f.width) - 1) << f.lo)) | (((1 << f.width) - 1) << f.lo)
        acc.port.mem_write(at, np.array([bad], "<u4"))
        with pytest.raises(OverlayRunError) as info:
            acc.run(demo_images()[:1])
    msg = str(info.value)
    assert prog.descriptors[k].note in msg
    assert "kind" in msg.lower() and "descriptors done" in msg and "bytes read" in msg


def test_a_descriptor_pointing_outside_the_window_is_refused() -> None:
    """An operand address beyond the memory window ends the run with ADDR, naming the
    layer and tile, the address and what moved; the next run is exact again."""
    art = int8_artifact()
    with Accelerator(art, "sim", max_batch=1) as acc:
        acc.run(demo_images()[:1])
        prog = acc.executor.program(1)
        k = 3
        f = CONTRACT.fields["O_ADDR"]
        at = prog.prog_offset + 128 * k + 4 * f.word
        good = acc.port.mem_read(at, 4).copy()
        acc.port.mem_write(at, np.array([acc.port.mem_size + 4096], "<u4"))
        with pytest.raises(OverlayRunError) as info:
            acc.run(demo_images()[:1])
        msg = str(info.value)
        assert prog.descriptors[k].note in msg and "outside the memory window" in msg
        assert f"0x{acc.port.mem_size + 4096:x}" in msg and "bytes read" in msg
        acc.port.mem_write(at, good)
        out = acc.run(demo_images()[:1]).outputs
    gold = _golden(demo_model("int8"), demo_images()[:1])
    assert all(np.array_equal(out[k], gold[k]) for k in out)


def test_a_timeout_reports_where_the_run_stood_and_resets() -> None:
    art = int8_artifact()
    with Accelerator(art, "sim", max_batch=1, timeout_s=0.05) as acc:
        acc.port.set_memory_model(latency=200_000, gap=0)
        with pytest.raises(OverlayRunError, match="did not finish within") as info:
            acc.run(demo_images()[:1])
        assert "descriptors done" in str(info.value) and "reset it" in str(info.value)
        acc.port.set_memory_model(latency=40, gap=0)
        acc.executor.timeout_s = 60.0
        out = acc.run(demo_images()[:2]).outputs  # the reset overlay works again
    gold = _golden(demo_model("int8"), demo_images()[:2])
    assert all(np.array_equal(out[k], gold[k]) for k in out)


def test_mismatched_overlay_is_refused_with_a_diff() -> None:
    art = Artifact.compile(demo_model("int8"), OverlayConfig.for_pe("int8", p=4))
    need = art.compiled.program(1).mem_size
    port = SimPort(FORMATS["int8"][1], need)  # a P = 8 overlay
    with Accelerator(art, "sim", port=port) as acc, pytest.raises(OverlayMismatch) as info:
        acc.run(demo_images()[:1])
    assert "p: artifact 4, overlay 8" in str(info.value)


def test_a_memory_window_too_small_is_refused() -> None:
    art = int8_artifact()
    port = EmulatorPort(art.overlay, 4096)
    with Accelerator(art, "emu", port=port) as acc, pytest.raises(PlutflowError,
                                                                  match="memory"):  # fmt: skip
        acc.run(demo_images()[:1])


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(PlutflowError, match="unknown backend"):
        Accelerator(int8_artifact(), "fpga")


def test_sim_build_error_is_reported(monkeypatch, tmp_path) -> None:
    import shutil

    from plutflow.overlay.simbuild import repo_root

    root = repo_root()
    fake = tmp_path / "tree"
    shutil.copytree(root / "sim", fake / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "overlay_src" / "rtl", fake / "overlay_src" / "rtl")
    broken = fake / "overlay_src" / "rtl" / "pf_engine.v"
    broken.write_text(broken.read_text().replace("endmodule", "endmodul"))
    monkeypatch.setenv("PLUTFLOW_ROOT", str(fake))
    with pytest.raises(PlutflowError, match=r"pf_engine\.v"):
        SimPort(OverlayConfig.named("small"), 1 << 16)
