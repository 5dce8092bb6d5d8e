"""Declarative preprocessing: raw images to the float tensors a model expects."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plutflow.errors import CalibrationError

#: The largest image side a preprocessing config may ask for (larger is a typo or an
#: attempt to exhaust memory).
MAX_SIDE = 8192


@dataclass
class Preprocess:
    """``x = (raw * scale - mean) / std`` per channel, then laid out as ``layout``.

    Attributes:
        size: (H, W) images are resized to, or None to keep their size.
        channels: 1 (grey) or 3 (RGB).
        scale: factor applied to raw pixel values first (1/255 maps uint8 to [0, 1]).
        mean, std: per-channel normalisation (one value applies to every channel).
        layout: the model's input layout, "NCHW" or "NHWC".
        data_layout: layout of array sources with a channel axis, "NHWC" or "NCHW".
        input_shape: the model input's full shape (batch first), for models exported
            with a free height or width (the same as ``--input-shape``); the batch
            stays free.
        inferred: True when the config was guessed from the model's input shape
            rather than given (the normalisation is then unknown).
    """

    size: tuple[int, int] | None = None
    channels: int = 1
    scale: float = 1.0 / 255.0
    mean: list[float] = field(default_factory=lambda: [0.0])
    std: list[float] = field(default_factory=lambda: [1.0])
    layout: str = "NCHW"
    data_layout: str = "NHWC"
    input_shape: list[int] | None = None
    inferred: bool = False

    @classmethod
    def for_input(cls, shape: tuple | None) -> Preprocess:
        """A config guessed from a model input's shape: its layout, channels and size
        (static dims only), raw pixels scaled to [0, 1], no normalisation."""
        if shape is None or len(shape) != 4:
            return cls(inferred=True)
        c_first, c_last = shape[1], shape[3]
        if c_last in (1, 3, 4) and c_first not in (1, 3, 4):
            layout, channels, hw = "NHWC", c_last, shape[1:3]
        else:
            layout, channels, hw = "NCHW", c_first or 3, shape[2:4]
        channels = 3 if channels == 4 else channels
        size = tuple(int(d) for d in hw) if all(d for d in hw) else None
        return cls(size=size, channels=int(channels), layout=layout, inferred=True)

    def describe(self) -> str:
        """One line: what this config does."""
        size = "x".join(map(str, self.size)) if self.size else "as given"
        return (f"{self.channels} channel(s), {self.layout}, size {size}, scale {self.scale:g}, "
                f"mean {self.mean}, std {self.std}")  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocess:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise CalibrationError(
                f"unknown preprocessing keys {sorted(map(str, unknown))}; known keys are "
                f"{sorted(known)}"
            )
        d = dict(d)
        if d.get("size") is not None:
            size = d["size"]
            ok = isinstance(size, list | tuple) and len(size) == 2
            if not ok or not all(isinstance(v, int) and 0 < v <= MAX_SIDE for v in size):
                raise CalibrationError(f"size must be [H, W], each 1 to {MAX_SIDE}; got {size!r}")
            d["size"] = tuple(size)
        for key in ("mean", "std"):
            if key in d and not isinstance(d[key], list):
                try:
                    d[key] = [float(d[key])]
                except (TypeError, ValueError):
                    raise CalibrationError(f"{key} must be a number or a list of numbers; "
                                           f"got {d[key]!r}") from None  # fmt: skip
        if d.get("input_shape") is not None:
            shape = d["input_shape"]
            if (
                not isinstance(shape, list)
                or not shape
                or not all(isinstance(v, int) and v > 0 for v in shape)
            ):
                raise CalibrationError("input_shape must be a list of positive integers")
        try:
            pre = cls(**d)
            numbers = [float(pre.scale), *map(float, pre.mean), *map(float, pre.std)]
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"bad preprocessing config: {exc}") from None
        if not pre.mean or not pre.std:
            raise CalibrationError("preprocessing mean and std must not be empty")
        if not all(np.isfinite(numbers)) or min(abs(float(v)) for v in pre.std) == 0:
            raise CalibrationError(
                "preprocessing scale, mean and std must be finite numbers, std non-zero"
            )
        if pre.layout not in ("NCHW", "NHWC") or pre.data_layout not in ("NCHW", "NHWC"):
            raise CalibrationError("layout and data_layout must be NCHW or NHWC")
        return pre

    @classmethod
    def from_file(cls, path: str | Path) -> Preprocess:
        """Read a YAML or JSON config (a 'preprocess' key, if present, is used)."""
        path = Path(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CalibrationError(f"cannot read preprocessing config {path}: {exc}") from None
        import yaml

        try:
            data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
        except (yaml.YAMLError, ValueError, RecursionError) as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else getattr(exc, "lineno", None)
            kind = "YAML" if path.suffix in (".yaml", ".yml") else "JSON"
            at = f" (line {line})" if line else ""
            raise CalibrationError(f"{path} is not valid {kind}{at}") from None
        if not isinstance(data, dict):
            raise CalibrationError(f"{path} must hold a mapping")
        return cls.from_dict(data.get("preprocess", data))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size) if self.size else None
        return d

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Raw images, (N, H, W) or (N, H, W, C) (or NCHW per ``data_layout``), to float32."""
        x = np.asarray(raw)
        if x.dtype.kind not in "biuf":
            raise CalibrationError(f"images must be numbers, not dtype {x.dtype}")
        if x.ndim == 3:
            x = x[..., None] if self.data_layout == "NHWC" else x[:, None]
        if x.ndim != 4:
            raise CalibrationError(f"images must be (N, H, W) or (N, H, W, C); got {x.shape}")
        if self.data_layout == "NCHW":
            x = x.transpose(0, 2, 3, 1)
        if x.shape[-1] != self.channels:
            if x.shape[-1] == 1 and self.channels == 3:
                x = np.repeat(x, 3, axis=-1)
            else:
                raise CalibrationError(
                    f"images have {x.shape[-1]} channels; the preprocessing "
                    f"config asks for {self.channels}"
                )
        if self.size is not None and tuple(x.shape[1:3]) != tuple(self.size):
            x = _resize(x, self.size)
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        out = (x.astype(np.float32) * np.float32(self.scale) - mean) / std
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2) if self.layout == "NCHW" else out)


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    out = []
    for img in x:
        chans = [
            np.asarray(
                Image.fromarray(img[..., c].astype(np.float32)).resize(
                    (size[1], size[0]), Image.BILINEAR
                )
            )
            for c in range(img.shape[-1])
        ]
        out.append(np.stack(chans, axis=-1))
    return np.stack(out)
