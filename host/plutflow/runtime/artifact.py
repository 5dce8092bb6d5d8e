"""The deployable artifact (``.pfa``, ``docs/spec.md`` section 10).

One zip file: the integer model (the ``.pfq`` bytes, itself checksummed), the overlay's
parameter region (packed requant records, tables and weight tiles of every layer on the
overlay), the program for one image, and a compatibility manifest: format version, the
overlay configuration and the identification registers it reports, each layer's
placement (overlay or host, why, its kind and tiles). Every member carries a SHA-256 in
the manifest. Nothing is pickled; a corrupt, truncated or newer file raises
ArtifactError. Programs for other batch sizes are generated from the same compilation.
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

from plutflow.errors import ArtifactError, PlutflowError
from plutflow.intmodel.archive import Archive, read_npy
from plutflow.intmodel.model import KIND_NAMES, IntModel, check_format_header, file_kind
from plutflow.outputs import write_atomic
from plutflow.overlay.compiler import Compiled, compile_model
from plutflow.overlay.config import OverlayConfig

ARTIFACT_FORMAT = "plutflow-artifact"
ARTIFACT_VERSION = 2


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Artifact:
    """An integer model compiled for one overlay configuration."""

    model: IntModel
    overlay: OverlayConfig
    compiled: Compiled
    meta: dict[str, Any] = field(default_factory=dict)
    #: golden outputs (output name -> codes) of the model's sample inputs, at compile time
    expected: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def compile(cls, model: IntModel, overlay: OverlayConfig) -> Artifact:
        """Lower, tile and pack every layer the overlay runs, and record the golden
        outputs of the model's sample inputs (for ``selftest``)."""
        art = cls(model, overlay, compile_model(model, overlay))
        if model.samples:
            from plutflow.golden.executor import GoldenExecutor

            env = GoldenExecutor(model).run(dict(model.samples))
            art.expected = {k: np.asarray(env[k]) for k in model.outputs}
        return art

    @property
    def placement(self) -> list[dict[str, Any]]:
        return self.compiled.placement()

    def overlay_layers(self) -> int:
        return sum(r["target"] == "overlay" for r in self.placement)

    # ---------------------------------------------------------------- manifest
    def manifest(self) -> dict[str, Any]:
        prog = self.compiled.program(1)
        return {
            "format": ARTIFACT_FORMAT,
            "version": ARTIFACT_VERSION,
            "model": self.model.name,
            "overlay": self.overlay.to_json(),
            "registers": self.overlay.registers(),
            "layers": self.placement,
            "program_batch1": {
                "descriptors": len(prog.descriptors),
                "memory_bytes": prog.mem_size,
                "segments": [s.kind for s in prog.segments],
            },
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        members: dict[str, bytes] = {
            "model.pfq": self.model.to_bytes(),
            "params.bin": self.compiled.params,
            "program-batch1.bin": self.compiled.program(1).bytes(),
        }
        for i, name in enumerate(self.model.outputs):
            if name in self.expected:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, self.expected[name], allow_pickle=False)
                members[f"expected/{i}.npy"] = buf.getvalue()
        manifest = self.manifest()
        manifest["sha256"] = {k: _sha(v) for k, v in members.items()}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=1, default=_json))
            for k, v in members.items():
                zf.writestr(k, v)
        return write_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> Artifact:
        path = Path(path)
        if not path.exists():
            raise ArtifactError(f"artifact not found: {path}")
        blob = path.read_bytes()
        kind = file_kind(blob)
        if kind in ("model", "onnx"):
            hint = ("compile it first: plutflow compile MODEL.pfq -o MODEL.pfa" if kind == "model"
                    else "quantize and compile it first")  # fmt: skip
            raise ArtifactError(f"{path} is {KIND_NAMES[kind]}, not an artifact (.pfa): {hint}")
        with Archive(blob, str(path), "artifact") as zf:
            manifest = zf.json("manifest.json")
            check_format_header(manifest, path, ARTIFACT_FORMAT, ARTIFACT_VERSION, "artifact")
            digests = manifest.get("sha256")
            if not isinstance(digests, dict) or "model.pfq" not in digests:
                raise ArtifactError(f"{path} is not a valid plutflow artifact: no checksums")
            data = {}
            for member, digest in digests.items():
                if not zf.digest_matches(member, str(digest)):
                    raise ArtifactError(f"{path}: checksum mismatch in {member}")
                data[member] = zf.read(member)
        model = IntModel.from_bytes(data["model.pfq"], f"{path}:model.pfq")
        try:
            overlay = OverlayConfig(**manifest["overlay"])
        except Exception as exc:  # a missing, mistyped or out-of-range configuration
            raise ArtifactError(f"{path}: bad overlay configuration: {exc}") from exc
        try:
            art = cls(model, overlay, compile_model(model, overlay))  # expected: stored ones
        except PlutflowError:
            raise
        except Exception as exc:  # a model the loader took but the compiler cannot
            raise ArtifactError(f"{path}: its model does not compile: {type(exc).__name__}: "
                                f"{exc}") from exc  # fmt: skip
        if art.compiled.params != data.get("params.bin"):
            raise ArtifactError(
                f"{path} was compiled by a plutflow that packs parameters differently; "
                "compile the model again"
            )
        meta = manifest.get("meta", {})
        art.meta = meta if isinstance(meta, dict) else {}
        stored = {}
        for i, name in enumerate(model.outputs):
            raw = data.get(f"expected/{i}.npy")
            if raw is not None:
                stored[name] = read_npy(raw, f"{path}:expected/{i}.npy")
                if stored[name].dtype != model.tensors[name].np_dtype:
                    raise ArtifactError(f"{path}: expected/{i}.npy has the wrong dtype")
        art.expected = stored
        return art


def _json(v: Any) -> Any:
    if hasattr(v, "tolist"):
        return v.tolist()
    raise TypeError(type(v).__name__)
