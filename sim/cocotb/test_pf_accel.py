"""cocotb testbench of the whole accelerator (pf_accel in pf_sim_top): random layers in
the overlay's weight formats, bit-exact against the golden executor, with random
backpressure; malformed streams end in an error status; a reset mid-layer recovers.

Environment: PLUTFLOW_CASES (random layers), PLUTFLOW_SEED, PLUTFLOW_PE (PE type name),
PLUTFLOW_REPORT (a JSON file for per-layer cycles and efficiencies).
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from accel_bench import ID, PE_CONFIG, AccelBench
from layergen import random_layer

from plutflow.formats.accel import (
    ERROR_CODES,
    OverlayConfig,
    cycle_model,
    layer_packet,
    output_words,
    parse_output,
)


def overlay_config(dut) -> OverlayConfig:
    return OverlayConfig(
        pe_type=os.environ["PLUTFLOW_PE"],
        p=int(dut.P.value),
        data_w=int(dut.DATA_W.value),
        wbits=int(dut.WBITS.value),
        b2=int(dut.B2.value),
        abits=int(dut.ABITS.value),
        adepth=int(dut.ADEPTH.value),
        wdepth=int(dut.WDEPTH.value),
        mdepth=int(dut.MDEPTH.value),
        of_depth=int(dut.OF_DEPTH.value),
    )


def first_mismatch(name: str, expected: np.ndarray, actual: np.ndarray) -> str:
    """Layer, channel, position, expected and actual value of the first difference."""
    bad = np.argwhere(expected != actual)
    n, ch, *pos = (int(v) for v in bad[0])
    return (
        f"{name}: {len(bad)} mismatches; first at image {n}, channel {ch}, position "
        f"{tuple(pos)}: expected {int(expected[tuple(bad[0])])}, "
        f"actual {int(actual[tuple(bad[0])])}"
    )


@cocotb.test()
async def identification(dut) -> None:
    tb = AccelBench(dut)
    await tb.start()
    cfg = overlay_config(dut)
    assert await tb.read(ID) == 0x504C5546
    assert await tb.read(PE_CONFIG) == cfg.registers()[0]


@cocotb.test()
async def random_layers(dut) -> None:
    tb = AccelBench(dut)
    await tb.start()
    cfg = overlay_config(dut)
    rng = np.random.default_rng(int(os.environ.get("PLUTFLOW_SEED", "1")))
    cases = int(os.environ.get("PLUTFLOW_CASES", "20"))
    report = []
    failures = []
    for i in range(cases):
        case = random_layer(rng, cfg, i, batch=int(rng.integers(1, 3)))
        words, geo = layer_packet(case.layer, case.x, case.in_spec, case.out_spec, cfg)
        n_out = output_words(geo, case.x.shape[0], cfg)
        gaps = (0, 0) if i % 3 == 0 else (int(rng.integers(0, 200)), int(rng.integers(0, 200)))
        res = await tb.run(words, n_out, valid_gap=gaps[0], ready_gap=gaps[1])
        desc = case.describe()
        if not res.done or res.status:
            failures.append(f"{desc}: done={res.done} status={ERROR_CODES.get(res.status)}")
            continue
        if res.out.size != n_out or res.out_last_at != res.out.size // tb.lanes - 1:
            failures.append(f"{desc}: {res.out.size} output words, TLAST at {res.out_last_at}")
            continue
        got = parse_output(res.out, geo, case.x.shape[0], case.out_spec, cfg)
        want = case.golden()
        if not np.array_equal(got, want):
            failures.append(first_mismatch(desc, want, got))
            continue
        a = case.layer.attrs
        model = cycle_model(
            geo,
            case.x.shape[0],
            cfg,
            "table" in case.layer.params,
            int(a["weight_bits"]),
            case.in_spec.bits,
        )
        report.append(
            {
                "layer": desc,
                "gaps": gaps,
                "cycles": res.cycles,
                "compute": res.compute,
                "model_total": model["total"],
                "model_compute": model["compute"],
                "ideal": model["ideal"],
                "macs": geo.macs * case.x.shape[0],
            }
        )
    if os.environ.get("PLUTFLOW_REPORT"):
        with open(os.environ["PLUTFLOW_REPORT"], "w") as f:
            json.dump(
                {"config": cfg.to_json(), "cases": cases, "failures": failures, "layers": report},
                f,
                indent=1,
            )
    assert not failures, "\n".join(failures[:10])


async def _check_good_run(tb: AccelBench, cfg: OverlayConfig, rng, label: str) -> None:
    """A normal layer after an error or a reset must be bit-exact again."""
    case = random_layer(rng, cfg, 999)
    words, geo = layer_packet(case.layer, case.x, case.in_spec, case.out_spec, cfg)
    res = await tb.run(words, output_words(geo, case.x.shape[0], cfg))
    assert res.done and res.status == 0, f"after {label}: status {res.status}"
    got = parse_output(res.out, geo, case.x.shape[0], case.out_spec, cfg)
    want = case.golden()
    assert np.array_equal(got, want), first_mismatch(f"after {label}", want, got)


@cocotb.test()
async def malformed_streams(dut) -> None:
    """Each malformed packet ends the run with its error code (no hang), and the next
    packet runs correctly."""
    tb = AccelBench(dut)
    await tb.start()
    cfg = overlay_config(dut)
    rng = np.random.default_rng(5)
    case = random_layer(rng, cfg, 0)
    words, geo = layer_packet(case.layer, case.x, case.in_spec, case.out_spec, cfg)
    n = words.size // tb.lanes
    n_out = output_words(geo, case.x.shape[0], cfg)

    bad_magic = words.copy()
    bad_magic[0] ^= np.uint64(0xFF)
    bad_format = words.copy()
    bad_format[0] ^= np.uint64(1 << 34)  # flip the weight-signedness flag
    too_big = words.copy()
    too_big[1] = np.uint64(int(too_big[1]) | 0xFFF | 0xFFF << 16)  # H, W of 4095

    checks = [
        ("bad magic", dict(words=bad_magic), 1),
        ("unsupported format", dict(words=bad_format), 2),
        ("too large", dict(words=too_big), 3),
        ("early TLAST", dict(words=words, last_at=n // 2), 4),
        ("missing TLAST", dict(words=words, last_at=n + 5), 5),
        ("short stream", dict(words=words, truncate=n - 3, last_at=n + 5), 6),
        ("partial TKEEP", dict(words=words, bad_keep_at=n // 3), 7),
    ]
    for label, kw, code in checks:
        res = await tb.run(out_words=n_out, timeout_cycles=200_000, **kw)
        assert res.done, f"{label}: the run hung"
        assert res.status == code, f"{label}: status {res.status}, expected {code}"
        if label == "short stream":
            assert res.in_sent == n - 3
        await _check_good_run(tb, cfg, rng, label)


@cocotb.test()
async def reset_mid_layer(dut) -> None:
    tb = AccelBench(dut)
    await tb.start()
    cfg = overlay_config(dut)
    rng = np.random.default_rng(9)
    case = random_layer(rng, cfg, 0, batch=2)
    words, geo = layer_packet(case.layer, case.x, case.in_spec, case.out_spec, cfg)
    res = await tb.run(words, output_words(geo, 2, cfg), ready_gap=128, timeout_cycles=40)
    assert not res.done
    await tb.reset()
    await _check_good_run(tb, cfg, rng, "reset mid-layer")


@cocotb.test(skip="PLUTFLOW_SPEED" not in os.environ)
async def simulation_speed(dut) -> None:
    """Simulated cycles per wall-clock second on a large layer (PLUTFLOW_SPEED is a JSON
    geometry, e.g. {"c": 32, "m": 32, "h": 14, "k": 3, "stride": 1, "pad": 1});
    results go to PLUTFLOW_REPORT."""
    import time

    tb = AccelBench(dut)
    await tb.start()
    cfg = overlay_config(dut)
    fixed = json.loads(os.environ["PLUTFLOW_SPEED"])
    rng = np.random.default_rng(0)
    case = random_layer(rng, cfg, 0, batch=int(fixed.get("batch", 1)), fixed=fixed)
    words, geo = layer_packet(case.layer, case.x, case.in_spec, case.out_spec, cfg)
    n_out = output_words(geo, case.x.shape[0], cfg)
    t0 = time.perf_counter()
    res = await tb.run(words, n_out)
    wall = time.perf_counter() - t0
    got = parse_output(res.out, geo, case.x.shape[0], case.out_spec, cfg)
    want = case.golden()
    assert np.array_equal(got, want), first_mismatch("speed layer", want, got)
    k = int(case.layer.attrs["weight_bits"])
    model = cycle_model(
        geo, case.x.shape[0], cfg, "table" in case.layer.params, k, case.in_spec.bits
    )
    with open(os.environ["PLUTFLOW_REPORT"], "w") as f:
        json.dump(
            {
                "config": cfg.to_json(),
                "geometry": fixed,
                "macs": geo.macs,
                "cycles": res.cycles,
                "compute": res.compute,
                "wall_s": wall,
                "cycles_per_s": res.wall_cycles / wall,
                "model": model,
                "t_load": tb.t_load,
                "t_sim": tb.t_sim,
                "sim_cycles_per_s": res.wall_cycles / tb.t_sim,
                "in_words": int(words.size // tb.lanes),
                "out_words": n_out,
            },
            f,
            indent=1,
        )
