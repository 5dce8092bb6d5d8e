"""The deployable artifact (``.pfa``, ``docs/spec.md`` section 10).

One zip file holding the integer model (the ``.pfq`` bytes, itself checksummed), the
packed parameter streams of every layer placed on the overlay, and a compatibility
manifest: format version, the overlay configuration (PE type, array size, stream width,
buffers), each layer's placement and bit-widths. Every member carries a SHA-256 in the
manifest. Nothing is pickled; a corrupt, truncated or newer file raises ArtifactError.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plutflow.errors import ArtifactError
from plutflow.formats.accel import OverlayConfig, parameter_words
from plutflow.intmodel.model import IntModel, check_format_header
from plutflow.runtime.plan import LayerPlan, overlay_layer, plan_model

ARTIFACT_FORMAT = "plutflow-artifact"
ARTIFACT_VERSION = 1


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Artifact:
    """An integer model compiled for one overlay configuration."""

    model: IntModel
    overlay: OverlayConfig
    plan: list[LayerPlan]
    streams: dict[str, np.ndarray] = field(default_factory=dict)  # layer name -> uint64 words
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def compile(cls, model: IntModel, overlay: OverlayConfig) -> Artifact:
        """Place every layer and pack the parameter streams of the overlay layers."""
        plan = plan_model(model, overlay)
        streams = {
            p.layer: parameter_words(
                overlay_layer(model.layer(p.layer), p),
                p.geo,
                model.tensors[model.layer(p.layer).inputs[0]],
                overlay,
            )
            for p in plan
            if p.target == "overlay"
        }
        return cls(model, overlay, plan, streams)

    # ---------------------------------------------------------------- manifest
    def manifest(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "version": ARTIFACT_VERSION,
            "model": self.model.name,
            "overlay": self.overlay.to_json(),
            "registers": dict(
                zip(("PE_CONFIG", "BUF_CONFIG"), self.overlay.registers(), strict=True)
            ),
            "stream_width": self.overlay.data_w,
            "layers": [p.to_json() for p in self.plan],
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        buf = io.BytesIO()
        members: dict[str, bytes] = {"model.pfq": self.model.to_bytes()}
        for name, words in self.streams.items():
            b = io.BytesIO()
            np.lib.format.write_array(
                b, np.ascontiguousarray(words, dtype="<u8"), allow_pickle=False
            )
            members[f"streams/{_member(name)}.npy"] = b.getvalue()
        manifest = self.manifest()
        manifest["sha256"] = {k: _sha(v) for k, v in members.items()}
        manifest["stream_members"] = {name: f"streams/{_member(name)}.npy" for name in self.streams}
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
            for k, v in members.items():
                zf.writestr(k, v)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Artifact:
        path = Path(path)
        if not path.exists():
            raise ArtifactError(f"artifact not found: {path}")
        try:
            with zipfile.ZipFile(path) as zf:
                manifest = json.loads(zf.read("manifest.json"))
                _check_manifest(manifest, path)
                data = {}
                for member, digest in manifest["sha256"].items():
                    raw = zf.read(member)
                    if _sha(raw) != digest:
                        raise ArtifactError(f"{path}: checksum mismatch in {member}")
                    data[member] = raw
        except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
            raise ArtifactError(
                f"{path} is not a valid plutflow artifact (corrupt or truncated): {exc}"
            ) from exc
        model = IntModel.from_bytes(data["model.pfq"], f"{path}:model.pfq")
        streams = {
            name: np.lib.format.read_array(io.BytesIO(data[member]), allow_pickle=False)
            for name, member in manifest["stream_members"].items()
        }
        overlay = OverlayConfig(**manifest["overlay"])
        plan = [LayerPlan.from_json(d) for d in manifest["layers"]]
        return cls(model, overlay, plan, streams, manifest.get("meta", {}))


def _member(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:16]


def _check_manifest(manifest: dict[str, Any], path: Path) -> None:
    check_format_header(manifest, path, ARTIFACT_FORMAT, ARTIFACT_VERSION, "artifact")
