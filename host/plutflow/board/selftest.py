"""``plutflow selftest``: does this target compute exactly what the golden model does?

Uses the bundled model and images with a fixed seed, so the same command checks a KV260
(backend ``pynq``), the simulated overlay (``sim``) or the host (``golden``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.contract import CONTRACT
from plutflow.pipeline import DemoAssets, quantize_model
from plutflow.runtime import Accelerator, Artifact, OverlayMismatch
from plutflow.runtime.evaluate import evaluate

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


def selftest(
    backend: str = "sim",
    artifact: Artifact | None = None,
    images: int = 16,
    **port_options,
) -> SelftestReport:
    art = artifact or bundled_artifact()
    x, y = DemoAssets().test_set()
    pick = np.random.default_rng(SEED).choice(len(x), size=min(images, len(x)), replace=False)
    x, y = x[pick], y[pick]
    report = SelftestReport(backend)
    with Accelerator(art, "golden") as gold:
        gev = evaluate(gold, x, progress=False)
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
            ev = evaluate(acc, x, progress=False)
        except Exception as exc:
            report.checks.append(Check("run the bundled images", False, str(exc)))
            return report
    same = ev.codes == gev.codes
    detail = "" if same.all() else f"{int((~same).sum())} output codes differ"
    report.checks.append(Check(f"{len(x)} images bit-exact with golden", bool(same.all()), detail))
    report.info.append(
        f"top-1 on these images: {float((ev.logits.argmax(1) == y).mean() * 100):.1f} %"
    )
    if ev.cycles_per_image:
        mhz = CONTRACT.clock_mhz
        report.info.append(
            f"overlay cycles per image {ev.cycles_per_image:,.0f} -> "
            f"{1e3 * ev.cycles_per_image / (mhz * 1e6):.3f} ms at {mhz:.0f} MHz"
        )
    report.info.append(f"wall time {ev.wall_s:.2f} s for {len(x)} images")
    return report
