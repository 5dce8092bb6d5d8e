"""``plutflow selftest``: does this target compute exactly what the golden model does?

Checks an artifact (by default the bundled model) on its own sample inputs, the few
calibration images every quantized model carries, against the golden outputs stored at
compile time, so the same command checks any model on a KV260 (backend ``pynq``), the
simulated overlay (``sim``) or the host (``golden``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from plutflow.api import quantize_model
from plutflow.assets import DemoAssets
from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.contract import CONTRACT
from plutflow.runtime import Accelerator, Artifact, OverlayMismatch

SEED = 2026


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class SelftestReport:
    backend: str
    checks: list[Check] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        out = [f"plutflow selftest on backend {self.backend}"]
        out += [
            f"{'PASS' if c.ok else 'FAIL'} {c.name}" + (f": {c.detail}" if c.detail else "")
            for c in self.checks
        ]
        out += [f"INFO {i}" for i in self.info]
        out.append("selftest " + ("passed" if self.passed else "FAILED"))
        return out


def bundled_artifact() -> Artifact:
    """The bundled model, INT8-quantized and compiled for the board overlay."""
    assets = DemoAssets()
    model = quantize_model(str(assets.model), assets.calib_set(), progress=False)
    return Artifact.compile(model, OverlayConfig.named("board"))


def _inputs(art: Artifact, images: int) -> tuple[dict[str, np.ndarray], np.ndarray | None, str]:
    """The input codes to check with, their labels if known, and where they come from:
    the artifact's own samples (calibration images carried by the model), else the
    bundled test images for a model of their shape, else seeded random codes."""
    model = art.model
    if model.samples:
        feeds = {k: v[:images] for k, v in model.samples.items()}
        return feeds, None, "the artifact's own sample inputs (from calibration)"
    name = model.inputs[0]
    spec = model.tensors[name]
    x, y = DemoAssets().test_set()
    if tuple(spec.shape[1:]) == x.shape[1:]:
        pick = np.random.default_rng(SEED).choice(len(x), size=min(images, len(x)), replace=False)
        return {name: spec.quantize(x[pick])}, y[pick], "bundled test images"
    rng = np.random.default_rng(SEED)
    codes = rng.integers(spec.qmin, spec.qmax + 1, (images, *spec.shape[1:]))
    return {name: codes.astype(spec.np_dtype)}, None, "seeded random input codes"


def selftest(
    backend: str = "sim",
    artifact: Artifact | None = None,
    images: int = 16,
    **port_options,
) -> SelftestReport:
    """Run ``artifact`` (default: the bundled model for the board overlay) on ``backend``
    and check every output code against golden."""
    art = artifact or bundled_artifact()
    feeds, y, source = _inputs(art, images)
    n = len(next(iter(feeds.values())))
    report = SelftestReport(backend)
    report.info.append(f"inputs: {n} {source}")
    with Accelerator(art, "golden") as gold:
        want = gold.run(feeds).outputs
    if art.expected and source.startswith("the artifact"):
        same = all(np.array_equal(want[k], v[:n]) for k, v in art.expected.items())
        report.checks.append(Check("golden on this host reproduces the outputs stored at "
                                   "compile time", same))  # fmt: skip
    try:
        acc = Accelerator(art, backend, **port_options)
    except Exception as exc:
        report.checks.append(Check("open the target", False, str(exc)))
        return report
    with acc:
        if backend != "golden":
            try:
                acc.check_overlay()
                report.checks.append(Check("overlay ID and configuration match the artifact", True))
            except OverlayMismatch as exc:
                report.checks.append(Check("overlay ID and configuration", False, str(exc)))
                return report
        try:
            res = acc.run(feeds)
        except Exception as exc:
            report.checks.append(Check("run the inputs", False, str(exc)))
            return report
    differ = {k: int((res.outputs[k] != want[k]).sum()) for k in want}
    bad = {k: v for k, v in differ.items() if v}
    detail = ", ".join(f"{v} codes of output '{k}' differ" for k, v in bad.items())
    outs = f"{len(want)} outputs" if len(want) > 1 else "output"
    report.checks.append(Check(f"{n} inputs bit-exact with golden ({outs})", not bad, detail))
    if y is not None:
        report.info.append(
            f"top-1 on these images: {float((res.logits.argmax(1) == y).mean() * 100):.1f} %"
        )
    cycles = res.stats.cycles / n if res.stats.cycles else 0
    if cycles:
        mhz = CONTRACT.clock_mhz
        report.info.append(
            f"overlay cycles per image {cycles:,.0f} -> "
            f"{1e3 * cycles / (mhz * 1e6):.3f} ms at {mhz:.0f} MHz"
        )
    report.info.append(f"wall time {res.wall_s:.2f} s for {n} inputs")
    return report
