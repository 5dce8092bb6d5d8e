"""The pynq transport against a mock PYNQ device: VLNV binding, the exact register and
DMA sequence of a run, timeouts with decoded DMA status, overlay mismatches."""

from __future__ import annotations

from functools import cache

import pytest

from mock_pynq import Device, make_pynq
from plutflow.formats.accel import OverlayConfig
from plutflow.pipeline import DemoAssets, quantize_model
from plutflow.runtime import Accelerator, Artifact, OverlayMismatch, TransportError
from plutflow.runtime.pynq_transport import PynqTransport, decode_dmasr

OVERLAY = OverlayConfig.for_pe("int8", p=16, data_w=128)


@cache
def artifact() -> Artifact:
    a = DemoAssets()
    model = quantize_model(str(a.model), a.calib_set()[:32], progress=False)
    return Artifact.compile(model, OVERLAY)


def _accelerator(device: Device, timeout_s: float = 0.2) -> Accelerator:
    pynq = make_pynq(device)
    transport = PynqTransport("plutflow.bit", timeout_s=timeout_s, pynq_module=pynq)
    return Accelerator(artifact(), "pynq", transport=transport)


def test_driver_is_bound_by_vlnv() -> None:
    device = Device(OVERLAY)
    acc = _accelerator(device)
    assert type(acc.transport.ip).__name__ == "PlutflowAccelIP"
    assert device.log[0] == ("overlay", "plutflow.bit")


def test_exact_register_and_dma_sequence() -> None:
    device = Device(OVERLAY)
    acc = _accelerator(device)
    x = DemoAssets().test_set()[0][:2]
    acc.run(x)
    art = artifact()
    first = next(p for p in art.plan if p.target == "overlay")
    from plutflow.formats.accel import output_words

    out_bytes = output_words(first.geo, 2, OVERLAY) * 8
    log = device.log
    expected_start = [
        ("overlay", "plutflow.bit"),
        ("read", "ID"),
        ("read", "VERSION"),
        ("read", "PE_CONFIG"),
        ("read", "BUF_CONFIG"),
        ("write", "GIE", 1),
        ("write", "IER", 1),
        ("write", "AP_CTRL", 1),
        ("dma", "recv", "transfer", out_bytes),
    ]
    assert log[: len(expected_start)] == expected_start
    send = log[len(expected_start)]
    assert send[:3] == ("dma", "send", "transfer") and send[3] > 0
    assert log[len(expected_start) + 1 : len(expected_start) + 10] == [
        ("dma", "read", "MM2S_DMASR"),
        ("dma", "read", "S2MM_DMASR"),
        ("dma", "read", "S2MM_LENGTH"),
        ("read", "AP_CTRL"),
        ("write", "ISR", 1),
        ("read", "STATUS"),
        ("read", "CYCLES_LO"),
        ("read", "COMPUTE"),
        ("write", "AP_CTRL", 1),  # the next layer starts
    ]
    n_overlay = sum(p.target == "overlay" for p in art.plan)
    assert sum(1 for e in log if e == ("write", "AP_CTRL", 1)) == n_overlay


def test_dma_timeout_reports_status_and_bytes() -> None:
    device = Device(OVERLAY, stall=True)
    acc = _accelerator(device, timeout_s=0.05)
    with pytest.raises(TransportError) as info:
        acc.run(DemoAssets().test_set()[0][:1])
    msg = str(info.value)
    assert "DMA MM2S (to the accelerator) timed out after 0.1 s" in msg
    assert "MM2S DMASR 0x00000000 (running)" in msg
    assert "accelerator took 0 of" in msg and "bytes" in msg and "STATUS 0" in msg


def test_error_status_is_raised_and_dma_reset() -> None:
    device = Device(OVERLAY, status=4)
    acc = _accelerator(device)
    with pytest.raises(Exception, match="short stream"):
        acc.run(DemoAssets().test_set()[0][:1])
    assert ("dma", "write", "MM2S_DMACR", 4) in device.log
    assert ("dma", "send", "start") in device.log


def test_mismatched_overlay_is_refused() -> None:
    device = Device(OverlayConfig.for_pe("shift", p=16, data_w=128))
    acc = _accelerator(device)
    with pytest.raises(OverlayMismatch) as info:
        acc.run(DemoAssets().test_set()[0][:1])
    assert "pe_type: artifact 'int8', overlay 'shift'" in str(info.value)
    assert not any(e[0] == "dma" for e in device.log)  # nothing was sent


def test_decode_dmasr() -> None:
    assert decode_dmasr(0x1002) == "0x00001002 (Idle, IOC_Irq)"
    assert "DMASlvErr" in decode_dmasr(1 << 5)
