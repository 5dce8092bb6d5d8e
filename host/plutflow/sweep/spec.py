"""A sweep's description (``SWEEP.yaml``) and the points it expands to.

A sweep names one float model, its calibration and evaluation data, and a grid (and/or a
list) of options: quantizer options (``QUANT_KEYS``) and overlay options
(``OVERLAY_KEYS``). Every point is identified by a content hash of the inputs (file
contents, not paths), its options and the plutflow version, so a cached result is reused
exactly when it would be recomputed the same way.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from plutflow import __version__
from plutflow.errors import PlutflowError

#: quantizer options a point may set (the fields of :class:`plutflow.api.QuantOptions`
#: and the number of calibration images) and the type each takes.
QUANT_KEYS: dict[str, type | tuple[type, ...]] = {
    "scheme": str,
    "rules": list,
    "all_layers": bool,
    "depthwise": str,
    "auto_bits": int,
    "task_loss": bool,
    "observer": str,
    "percentile": (int, float),
    "lowbit_observer": str,
    "rounding": str,
    "keep_8bit_activations": int,
    "activation_budget": int,
    "fragile_low_bits": bool,
    "equalize": bool,
    "num_calib": int,
}
#: overlay options a point may set: the PE type, the array size P (also the memory beat
#: in bytes: the overlay's stream width is P bytes) and the buffer depths.
OVERLAY_KEYS: dict[str, type | tuple[type, ...]] = {
    "pe_type": str,
    "array": int,
    "adepth": int,
    "wdepth": int,
    "mdepth": int,
    "pdepth": int,
    "tslots": int,
    "int8_path": int,
}
INPUT_KEYS = (
    "model",
    "calib",
    "data",
    "labels",
    "calib_labels",
    "preprocess",
    "num_calib",
    "limit",
    "run_images",
    "resources",
    "grid",
    "points",
)


class SweepError(PlutflowError):
    """A sweep description that cannot be run."""


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path.split(".npz:")[0] + (".npz" if ".npz:" in path else ""), "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class SweepInputs:
    """What every point starts from: the float model, calibration images (``FILE.npz:KEY``
    allowed), evaluation images with labels, the preprocessing config, and how many
    images each step uses. Paths are absolute; workers read them from a shared file
    system (see docs/sweep.md for clusters without one)."""

    model: str
    calib: str
    data: str
    labels: str | None = None
    calib_labels: str | None = None
    preprocess: str | None = None
    num_calib: int = 256
    limit: int | None = 2000
    run_images: int = 8

    def digest(self) -> str:
        """A hash of the inputs' contents and counts (not their paths)."""
        parts = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("model", "calib", "data", "labels", "calib_labels", "preprocess")
        }
        for k in ("model", "calib", "data", "labels", "calib_labels", "preprocess"):
            path = getattr(self, k)
            parts[k] = None if path is None else [_file_digest(path), path.partition(".npz:")[2]]
        parts["plutflow"] = __version__
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _freeze(options: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))


@dataclass(frozen=True)
class Point:
    """One configuration: quantizer options and overlay options."""

    quant: tuple[tuple[str, Any], ...]
    overlay: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, options: dict[str, Any]) -> Point:
        quant = {k: v for k, v in options.items() if k in QUANT_KEYS}
        over = {k: v for k, v in options.items() if k in OVERLAY_KEYS}
        return cls(_freeze(quant), _freeze(over))

    def options(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.quant + self.overlay}

    def label(self) -> str:
        opts = self.options()
        return (
            " ".join(
                f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in opts.items()
            )
            or "defaults"
        )

    def overlay_key(self) -> str:
        """The overlay configuration's identity (shared by the points that use it)."""
        return json.dumps(dict(self.overlay), sort_keys=True)

    def key(self, inputs_digest: str) -> str:
        text = json.dumps({"inputs": inputs_digest, "options": self.options()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class SweepSpec:
    """A parsed ``SWEEP.yaml``: the inputs, the points (grid product first, then the
    listed points, duplicates removed) and whether to estimate resources."""

    inputs: SweepInputs
    points: list[Point]
    resources: bool = False
    source: str = ""

    @classmethod
    def from_file(cls, path: str | Path) -> SweepSpec:
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise SweepError(f"cannot read the sweep {path}: {exc.strerror or exc}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SweepError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        return cls.from_dict(data, base=path.parent, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, base: Path = Path("."), source: str = "") -> SweepSpec:
        """``data`` as read from YAML; relative paths are relative to ``base``."""
        where = source or "the sweep"
        if not isinstance(data, dict):
            raise SweepError(f"{where} must be a mapping with model, calib, data and grid")
        unknown = sorted(str(k) for k in data if k not in INPUT_KEYS)
        if unknown:
            raise SweepError(f"{where}: unknown keys {unknown}; known: {list(INPUT_KEYS)}")
        for key in ("model", "calib", "data"):
            if not isinstance(data.get(key), str):
                raise SweepError(f"{where}: '{key}' must name a file")

        def path_of(key: str) -> str | None:
            value = data.get(key)
            if value is None:
                return None
            if not isinstance(value, str):
                raise SweepError(f"{where}: '{key}' must name a file")
            file, sep, member = value.partition(".npz:")
            full = (base / (file + (".npz" if sep else ""))).resolve()
            if not full.is_file():
                raise SweepError(f"{where}: {key} {full} not found")
            return str(full) + (f":{member}" if sep else "")

        def count(key: str, default: int | None, low: int = 1) -> int | None:
            value = data.get(key, default)
            if value is None and default is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise SweepError(f"{where}: '{key}' must be an integer of at least {low}")
            return value

        inputs = SweepInputs(
            model=path_of("model"),
            calib=path_of("calib"),
            data=path_of("data"),
            labels=path_of("labels"),
            calib_labels=path_of("calib_labels"),
            preprocess=path_of("preprocess"),
            num_calib=count("num_calib", 256),
            limit=count("limit", None),
            run_images=count("run_images", 8, 0),
        )
        points = expand(data.get("grid"), data.get("points"), where)
        resources = data.get("resources", False)
        if not isinstance(resources, bool):
            raise SweepError(f"{where}: 'resources' must be true or false")
        return cls(inputs, points, resources, source)


def _check_value(key: str, value: Any, where: str) -> None:
    kinds = {**QUANT_KEYS, **OVERLAY_KEYS}
    if key not in kinds:
        raise SweepError(
            f"{where}: unknown option '{key}'; quantizer options "
            f"{sorted(QUANT_KEYS)}, overlay options {sorted(OVERLAY_KEYS)}"
        )
    want = kinds[key]
    if isinstance(value, bool) and want is not bool:
        raise SweepError(f"{where}: option '{key}' takes {_name(want)}, not {value!r}")
    if not isinstance(value, want) or (
        key == "rules" and not all(isinstance(r, str) for r in value)
    ):
        raise SweepError(f"{where}: option '{key}' takes {_name(want)}, not {value!r}")


def _name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {
            "str": "a string",
            "int": "an integer",
            "float": "a number",
            "bool": "true/false",
            "list": "a list of strings",
        }[k.__name__]
        for k in kinds
    )


def _axis(key: str, values: Any) -> list[Any]:
    """A grid option's values: a list of them, or one value (a ``rules`` value is itself
    a list of patterns, so its axis is a list of lists)."""
    if not isinstance(values, list):
        return [values]
    if key == "rules" and not (values and isinstance(values[0], list)):
        return [values]
    return values


def expand(grid: Any, listed: Any, where: str) -> list[Point]:
    """The cartesian product of ``grid`` (option -> value or list of values), then the
    ``listed`` points (each its own option mapping); duplicates removed."""
    points: list[Point] = []
    if grid is not None:
        if not isinstance(grid, dict) or not grid:
            raise SweepError(f"{where}: 'grid' must map options to lists of values")
        axes = []
        for key, values in grid.items():
            values = _axis(str(key), values)
            if not values:
                raise SweepError(f"{where}: grid option '{key}' has no values")
            for v in values:
                _check_value(str(key), v, where)
            axes.append([(str(key), v) for v in values])
        points += [Point.of(dict(combo)) for combo in itertools.product(*axes)]
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(p, dict) for p in listed):
            raise SweepError(f"{where}: 'points' must be a list of option mappings")
        for p in listed:
            for key, v in p.items():
                _check_value(str(key), v, where)
            points.append(Point.of({str(k): v for k, v in p.items()}))
    unique = list(dict.fromkeys(points))
    if not unique:
        raise SweepError(f"{where}: no points; give a 'grid' or 'points'")
    return unique
