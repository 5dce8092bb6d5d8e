"""The integer model: a plain, serialisable description in which every tensor is integer.

On disk it is one ``.pfq`` file: an uncompressed zip in numpy's ``.npz`` layout holding a
JSON description (``__model__``) and one ``.npy`` per integer array. It loads with
``allow_pickle=False``; every array carries a SHA-256 in the JSON. See ``docs/spec.md``.
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

from plutflow.arith import code_range
from plutflow.errors import ArtifactError
from plutflow.intmodel.archive import DAMAGE, Archive, read_npy
from plutflow.outputs import write_atomic

FORMAT_NAME = "plutflow-integer-model"
FORMAT_VERSION = 1
_INT_KINDS = "iub"  # signed, unsigned, bool


def _array_sha(arr: np.ndarray) -> str:
    """The SHA-256 a model stores for an array: of its C-order bytes."""
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


@dataclass
class TensorSpec:
    """An activation tensor: integer codes ``q`` stand for ``scale * (q - zero_point)``.

    ``scale`` is metadata for the model's boundaries (quantizing inputs, dequantizing
    outputs) and for reports; the integer executor never reads it.
    """

    shape: tuple[int | None, ...]
    dtype: str  # "int8" | "uint8"
    zero_point: int
    scale: float
    bits: int = 8

    @property
    def qmin(self) -> int:
        return code_range(self.dtype, self.bits)[0]

    @property
    def qmax(self) -> int:
        return code_range(self.dtype, self.bits)[1]

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float to codes (round half to even, saturate): the host-side input step."""
        q = np.rint(np.asarray(x, np.float64) / self.scale) + self.zero_point
        return np.clip(q, self.qmin, self.qmax).astype(self.np_dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return (q.astype(np.float64) - self.zero_point) * self.scale

    def to_json(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "dtype": self.dtype,
            "zero_point": self.zero_point,
            "scale": self.scale,
            "bits": self.bits,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TensorSpec:
        return cls(
            tuple(d["shape"]),
            d["dtype"],
            int(d["zero_point"]),
            float(d["scale"]),
            int(d.get("bits", 8)),
        )


@dataclass
class IntLayer:
    """One integer operation; ``params`` holds only integer arrays."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    source: list[str] = field(default_factory=list)


@dataclass
class IntModel:
    """A pure-integer network: tensors, constants, layers in execution order, and metadata."""

    name: str
    inputs: list[str]
    outputs: list[str]
    tensors: dict[str, TensorSpec]
    layers: list[IntLayer]
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    #: input name -> a few input codes from calibration, carried for self-tests
    samples: dict[str, np.ndarray] = field(default_factory=dict)

    def check_structure(self) -> None:
        """Refuse a model whose layers read tensors nothing defines, or whose tensors,
        inputs and outputs are not described (what a loader can check without the
        per-op schema)."""
        if not isinstance(self.name, str) or not self.layers or not self.outputs:
            raise ArtifactError("the model has no name, no layers or no outputs")
        known = set(self.inputs) | set(self.constants)
        for lay in self.layers:
            if not isinstance(lay.op, str) or not isinstance(lay.attrs, dict):
                raise ArtifactError(f"layer {lay.name!r}: malformed op or attributes")
            for name in lay.inputs:
                if name not in known:
                    raise ArtifactError(f"layer {lay.name!r} reads {name!r}, which no earlier "
                                        "layer, input or constant defines")  # fmt: skip
            known.update(lay.outputs)
        for name in [*self.inputs, *self.outputs, *(o for lay in self.layers for o in lay.outputs)]:
            if name not in self.tensors:
                raise ArtifactError(f"tensor {name!r} has no description")
        missing = [o for o in self.outputs if o not in known]
        if missing:
            raise ArtifactError(f"outputs {missing} are not produced by any layer")
        for spec in self.tensors.values():
            if spec.dtype not in ("int8", "uint8") or not 1 <= spec.bits <= 8:
                raise ArtifactError(f"a tensor has dtype {spec.dtype!r} with {spec.bits} bits")
            if not np.isfinite(spec.scale) or spec.scale <= 0:
                raise ArtifactError(f"a tensor has scale {spec.scale}")

    def layer(self, name: str) -> IntLayer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(name)

    # ---------------------------------------------------------------- serialisation
    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"const/{k}": v for k, v in self.constants.items()}
        arrays.update({f"sample/{k}": v for k, v in self.samples.items()})
        for i, lay in enumerate(self.layers):
            arrays.update({f"layer/{i}/{k}": v for k, v in lay.params.items()})
        return arrays

    def to_json(self) -> dict[str, Any]:
        arrays = self._arrays()
        for key, arr in arrays.items():
            if arr.dtype.kind not in _INT_KINDS:
                raise ArtifactError(f"array {key} has dtype {arr.dtype}: the model must be integer")
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "tensors": {k: v.to_json() for k, v in self.tensors.items()},
            "constants": list(self.constants),
            "samples": list(self.samples),
            "layers": [
                {
                    "name": lay.name,
                    "op": lay.op,
                    "inputs": lay.inputs,
                    "outputs": lay.outputs,
                    "attrs": lay.attrs,
                    "params": list(lay.params),
                    "source": lay.source,
                }
                for lay in self.layers
            ],
            "meta": self.meta,
            "sha256": {k: _array_sha(v) for k, v in arrays.items()},
        }

    def to_bytes(self) -> bytes:
        """The ``.pfq`` file's bytes."""
        desc = json.dumps(self.to_json(), indent=1).encode()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("__model__.json", desc)
            for key, arr in self._arrays().items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
                zf.writestr(key + ".npy", buf.getvalue())
        return out.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (conventionally ``*.pfq``)."""
        return write_atomic(path, self.to_bytes())  # never half-written, nothing left over

    @classmethod
    def load(cls, path: str | Path) -> IntModel:
        """Read and verify a model; corrupt, truncated or newer files raise ArtifactError."""
        path = Path(path)
        if not path.exists():
            raise ArtifactError(f"model file not found: {path}")
        return cls.from_bytes(path.read_bytes(), str(path))

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "model") -> IntModel:
        """Read and verify a model from a ``.pfq`` file's bytes (``name`` for messages)."""
        path = name
        kind = file_kind(data)
        if kind in ("artifact", "onnx"):
            hint = ("compile produced it; run, compare, report and selftest take it"
                    if kind == "artifact" else "quantize it first: plutflow quantize MODEL.onnx "
                    "--calib DATA -o MODEL.pfq")  # fmt: skip
            raise ArtifactError(f"{path} is {KIND_NAMES[kind]}, not an integer model (.pfq): "
                                f"{hint}")  # fmt: skip
        with Archive(data, path, "model") as zf:
            desc = zf.json("__model__.json")
            _check_header(desc, path)
            digests = desc.get("sha256")
            if not isinstance(digests, dict):
                raise ArtifactError(f"{path} is not a valid plutflow model: no checksums")
            arrays = {}
            for key, digest in digests.items():
                streamed = zf.digest_matches(f"{key}.npy", str(digest), array=True)
                if streamed is False:
                    raise ArtifactError(f"{path}: checksum mismatch in array {key}")
                arr = read_npy(zf.read(f"{key}.npy"), f"{path}:{key}")
                if streamed is None and _array_sha(arr) != digest:  # a Fortran-order array
                    raise ArtifactError(f"{path}: checksum mismatch in array {key}")
                arrays[key] = arr
        try:
            model = cls._from_parts(desc, arrays)
            model.check_structure()
            from plutflow.intmodel.schema import validate

            validate(model)
        except ArtifactError:
            raise
        except Exception as exc:  # a well-formed file with a description we cannot use
            raise ArtifactError(f"{path} is not a valid plutflow model (bad description): "
                                f"{type(exc).__name__}: {exc}") from exc  # fmt: skip
        for k, v in model.samples.items():
            spec = model.tensors.get(k)
            if k not in model.inputs or spec is None or v.dtype != spec.np_dtype or (
                    tuple(v.shape[1:]) != tuple(spec.shape[1:])):  # fmt: skip
                raise ArtifactError(f"{path}: sample '{k}' does not fit the model's inputs")
        return model

    @classmethod
    def _from_parts(cls, desc: dict[str, Any], arrays: dict[str, np.ndarray]) -> IntModel:
        layers = [
            IntLayer(
                d["name"],
                d["op"],
                d["inputs"],
                d["outputs"],
                d["attrs"],
                {p: arrays[f"layer/{i}/{p}"] for p in d["params"]},
                d.get("source", []),
            )
            for i, d in enumerate(desc["layers"])
        ]
        return cls(
            name=desc["name"],
            inputs=desc["inputs"],
            outputs=desc["outputs"],
            tensors={k: TensorSpec.from_json(v) for k, v in desc["tensors"].items()},
            layers=layers,
            constants={k: arrays[f"const/{k}"] for k in desc["constants"]},
            meta=desc.get("meta", {}),
            samples={k: arrays[f"sample/{k}"] for k in desc.get("samples", [])},
        )


KIND_NAMES = {
    "model": "a plutflow integer model (.pfq)",
    "artifact": "a plutflow artifact (.pfa)",
    "onnx": "an ONNX model",
}


def file_kind(data: bytes) -> str | None:
    """What a file holds, from its first bytes and zip directory: ``model``, ``artifact``,
    ``onnx`` (a protobuf that parses as a ModelProto), or None."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except DAMAGE:
            return None
        if "manifest.json" in names:
            return "artifact"
        return "model" if "__model__.json" in names else None
    if data[:1] == b"\x08":  # protobuf field 1 (ir_version), varint: how ONNX files start
        try:
            import onnx

            onnx.ModelProto.FromString(data)
            return "onnx"
        except Exception:
            return None
    return None


def check_format_header(
    desc: dict[str, Any], path: Path, name: str, version_max: int, what: str
) -> None:
    """Refuse a file whose ``format`` is not ``name`` or whose ``version`` is newer than
    this plutflow reads."""
    if desc.get("format") != name:
        raise ArtifactError(f"{path} is not a plutflow {what} (format {desc.get('format')!r})")
    version = desc.get("version")
    if not isinstance(version, int) or version > version_max:
        raise ArtifactError(
            f"{path} has {what} format version {version}; this plutflow reads up to "
            f"{version_max}. Upgrade plutflow to load it."
        )


def _check_header(desc: dict[str, Any], path: Path) -> None:
    check_format_header(desc, path, FORMAT_NAME, FORMAT_VERSION, "integer model")
