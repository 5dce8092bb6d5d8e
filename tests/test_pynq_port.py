"""The board code path (``plutflow.overlay.pynq_port``) against a PYNQ stand-in over the
simulated RTL: binding by VLNV, the exact register sequence of a run, interrupt and
polling waits, cache maintenance, timeouts with a reset, refused designs."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from plutflow.api import quantize_model
from plutflow.assets import DemoAssets
from plutflow.errors import PlutflowError
from plutflow.golden.executor import GoldenExecutor
from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.pynq_port import PynqPort, open_board
from plutflow.overlay.pynq_sim import make_pynq
from plutflow.runtime import Accelerator, Artifact, OverlayMismatch, OverlayRunError

OVERLAY = OverlayConfig.for_pe("int8", p=8)


@cache
def artifact() -> Artifact:
    a = DemoAssets()
    model = quantize_model(str(a.model), a.calib_set()[:32], preprocess=a.preprocess(),
                           progress=False)  # fmt: skip
    return Artifact.compile(model, OVERLAY)


def _accelerator(pynq, **kw) -> Accelerator:
    art = artifact()
    need = art.compiled.program(2).mem_size
    port = open_board("plutflow.bit", need, art.overlay, pynq_module=pynq)
    return Accelerator(art, "pynq", port=port, max_batch=2, **kw)


def _images(n: int) -> np.ndarray:
    return DemoAssets().test_set()[0][:n]


def _golden(x: np.ndarray) -> dict[str, np.ndarray]:
    model = artifact().model
    return GoldenExecutor(model).run(model.tensors[model.inputs[0]].quantize(x))


def test_driver_is_bound_by_vlnv_and_runs_bit_exact() -> None:
    pynq = make_pynq(OVERLAY, 8 << 20)
    with _accelerator(pynq) as acc:
        assert type(acc.port).__name__ == "PynqPort"
        assert type(acc.port.ip).__name__ == "PlutflowOverlay"
        out = acc.run(_images(2)).outputs
    gold = _golden(_images(2))
    assert all(np.array_equal(out[k], gold[k]) for k in out)
    assert pynq.state["log"][0] == ("download", "plutflow.bit")


def test_exact_register_sequence_of_a_run() -> None:
    pynq = make_pynq(OVERLAY, 8 << 20)
    with _accelerator(pynq) as acc:
        acc.run(_images(2))
        base, size = acc.port.mem_base, acc.port.mem_size
        prog = acc.executor.program(2)
    log = [e for e in pynq.state["log"] if e[0] != "download"]
    assert log[:5] == [("read", n) for n in ("ID", "VERSION", "PE_CONFIG", "BUF_CONFIG",
                                             "BUF_CONFIG2")]  # fmt: skip
    assert log[5:10] == [
        ("write", "MEM_BASE_LO", base & 0xFFFFFFFF),
        ("write", "MEM_BASE_HI", base >> 32),
        ("write", "MEM_SIZE", size),
        ("write", "GIE", 1),
        ("write", "IER", 1),
    ]
    seg = next(s for s in prog.segments if s.kind == "overlay")
    assert log[10:14] == [
        ("write", "PROG_ADDR", prog.prog_offset + 128 * seg.first),
        ("write", "PROG_COUNT", seg.count),
        ("write", "AP_CTRL", 1),
        ("interrupt", "wait"),
    ]
    assert log[14:17] == [("write", "ISR", 1), ("read", "AP_CTRL"), ("read", "STATUS")]
    runs = sum(1 for e in log if e == ("write", "AP_CTRL", 1))
    assert runs == sum(1 for s in prog.segments if s.kind == "overlay")


def test_polling_without_an_interrupt() -> None:
    pynq = make_pynq(OVERLAY, 8 << 20, interrupt=False)
    with _accelerator(pynq) as acc:
        assert not hasattr(acc.port.ip, "interrupt")
        out = acc.run(_images(1)).outputs
    assert all(np.array_equal(out[k], v) for k, v in _golden(_images(1)).items())
    assert ("read", "ISR") in pynq.state["log"]
    assert ("interrupt", "wait") not in pynq.state["log"]


def test_writes_are_flushed_and_reads_invalidated() -> None:
    """The port flushes what it writes and invalidates what it reads, range by range:
    the simulated device memory (not the cached buffer) holds the input."""
    pynq = make_pynq(OVERLAY, 8 << 20)
    port = open_board("plutflow.bit", 1 << 16, OVERLAY, pynq_module=pynq)
    data = np.arange(200, dtype=np.uint8)
    port.mem_write(4096, data)
    assert np.array_equal(pynq.sim.mem_read(port.buf.offset + 4096, 200), data)
    pynq.sim.mem_write(port.buf.offset + 8192, data[::-1].copy())
    assert np.array_equal(port.mem_read(8192, 200), data[::-1])
    with pytest.raises(Exception, match="outside the window"):
        port.mem_write((1 << 16) - 10, data)


def test_timeout_reports_and_reloads_the_bitstream() -> None:
    pynq = make_pynq(OVERLAY, 8 << 20, interrupt=False, latency=1_000_000)
    with (
        _accelerator(pynq, timeout_s=0.2) as acc,
        pytest.raises(OverlayRunError, match=r"did not finish within 0\.2 s") as info,
    ):
        acc.run(_images(1))
    assert "descriptors done" in str(info.value)
    assert pynq.state["downloads"] == 2  # loaded, then loaded again as the reset


def test_mismatched_overlay_is_refused() -> None:
    pynq = make_pynq(OverlayConfig.for_pe("shift", p=8), 8 << 20)
    art = artifact()
    port = open_board("plutflow.bit", art.compiled.program(1).mem_size, art.overlay,
                      pynq_module=pynq)  # fmt: skip
    with Accelerator(art, "pynq", port=port) as acc, pytest.raises(OverlayMismatch) as info:
        acc.run(_images(1))
    assert "pe_type: artifact 'int8', overlay 'shift'" in str(info.value)
    assert not any(e[:2] == ("write", "AP_CTRL") for e in pynq.state["log"])


def test_a_design_without_the_overlay_is_refused() -> None:
    pynq = make_pynq(OVERLAY, 1 << 20)
    orig = pynq.Overlay.__init__

    def other_design(self, bitfile: str, download: bool = True) -> None:
        orig(self, bitfile, download)
        self.ip_dict = {"axi_dma_0": {"type": "xilinx.com:ip:axi_dma:7.1"}}

    pynq.Overlay.__init__ = other_design
    with pytest.raises(PlutflowError, match=r"expected one plutflow\.org:plutflow:pf_accel"):
        open_board("other.bit", 1 << 16, OVERLAY, pynq_module=pynq)


def test_missing_pynq_is_a_clear_error(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pynq", None)  # import pynq fails
    with pytest.raises(PlutflowError, match="runs on a PYNQ board"):
        open_board("plutflow.bit", 1 << 16, OVERLAY)


def test_pynq_port_needs_an_aligned_buffer() -> None:
    pynq = make_pynq(OVERLAY, 1 << 20)

    class Unaligned:
        def __init__(self) -> None:
            self.size = 4096
            self.device_address = 0x1000_0010

    pynq.allocate = lambda shape, dtype=np.uint8, **_: Unaligned()
    with pytest.raises(Exception, match="not 4 KB aligned"):
        PynqPort(object(), pynq, 4096)


def test_a_failed_run_resets_the_overlay_and_the_next_run_works() -> None:
    """A descriptor the overlay refuses (bad magic) is an error naming it; the overlay is
    reset, and the next run is bit-exact again."""
    pynq = make_pynq(OVERLAY, 8 << 20, interrupt=False)
    with _accelerator(pynq) as acc:
        first = acc.run(_images(1))
        prog = acc.executor.program(1)
        acc.port.mem_write(prog.prog_offset, np.zeros(4, np.uint8))  # clobber the magic
        acc.executor._loaded = 1  # the corrupted program stays in memory for this run
        with pytest.raises(OverlayRunError, match=r"(?i)magic.*the overlay was reset"):
            acc.run(_images(1))
        assert pynq.state["downloads"] == 2  # loaded, then loaded again as the reset
        acc.executor._loaded = None  # the next run writes the program again
        again = acc.run(_images(1))
    name = next(iter(first.outputs))
    assert np.array_equal(first.outputs[name], again.outputs[name])
