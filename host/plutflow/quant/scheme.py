"""Per-layer quantization schemes: defaults, pattern rules, YAML config, automatic bits."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from plutflow.errors import PlutflowError
from plutflow.quant.weights import WEIGHT_SCHEMES

#: The widest UPoT weights (sums of power-of-two terms) the quantizer builds.
UPOT_MAX_BITS = 5


@dataclass(frozen=True)
class LayerScheme:
    """How one Conv/Gemm is quantized.

    ``abits`` is the width of the activation codes the layer *reads*; a tensor read by
    several layers gets the widest of their requests.
    """

    weights: str = "int8"
    wbits: int = 8
    abits: int = 8
    plut_base: str = "nonuniform"

    def __post_init__(self) -> None:
        if self.weights not in WEIGHT_SCHEMES:
            raise PlutflowError(
                f"unknown weight scheme '{self.weights}'; choose one of {', '.join(WEIGHT_SCHEMES)}"
            )
        if not 2 <= self.wbits <= 8 or not 2 <= self.abits <= 8:
            raise PlutflowError("bit-widths must be between 2 and 8")
        if self.weights == "int8" and self.wbits != 8:
            object.__setattr__(self, "weights", "uniform")
        if self.weights == "plut" and self.abits > 4:
            raise PlutflowError(
                "P-LUT needs activations of at most 4 bits (the product "
                "table has 2**(wbits+abits) entries)"
            )
        if self.weights == "pot" and self.wbits > 4:
            raise PlutflowError("pot supports 2 to 4 weight bits")
        if self.weights == "upot" and self.wbits > UPOT_MAX_BITS:
            raise PlutflowError(f"upot supports 2 to {UPOT_MAX_BITS} weight bits")

    @property
    def label(self) -> str:
        return f"W{self.wbits}A{self.abits} {self.weights}"

    @classmethod
    def parse(cls, text: str) -> LayerScheme:
        """``SCHEME[:WBITS[:ABITS]]``, e.g. ``upot:4:8``, ``plut:4:4``, ``int8``."""
        parts = text.split(":")
        try:
            wbits = int(parts[1]) if len(parts) > 1 else (8 if parts[0] == "int8" else 4)
            abits = int(parts[2]) if len(parts) > 2 else 8
        except ValueError:
            raise PlutflowError(f"bad scheme '{text}': use SCHEME[:WBITS[:ABITS]]") from None
        return cls(parts[0], wbits, abits)


@dataclass
class SchemeConfig:
    """A default scheme, the depthwise convs' scheme, the 8-bit ends rule and ordered
    pattern rules (last match wins), in that order of precedence (lowest first)."""

    default: LayerScheme = LayerScheme()
    rules: tuple[tuple[str, LayerScheme], ...] = ()
    ends_at_8bit: bool = True
    depthwise: LayerScheme | None = None

    def for_layer(self, name: str, index: int, count: int, depthwise: bool = False) -> LayerScheme:
        """The scheme of Conv/Gemm ``name``, the ``index``-th of ``count`` in graph order
        (``depthwise``: a conv with one input channel per group)."""
        scheme = self.default
        if depthwise and self.depthwise is not None:
            scheme = self.depthwise
        if self.ends_at_8bit and index in (0, count - 1):
            scheme = LayerScheme("int8", 8, 8)
        for pattern, rule in self.rules:
            if fnmatch.fnmatchcase(name, pattern):
                scheme = rule
        return scheme

    def with_rules(self, rules: list[str]) -> SchemeConfig:
        """Add ``PATTERN=SCHEME[:WBITS[:ABITS]]`` rules (from the command line)."""
        parsed = []
        for rule in rules:
            if "=" not in rule:
                raise PlutflowError(f"bad rule '{rule}': use PATTERN=SCHEME[:WBITS[:ABITS]]")
            pattern, text = rule.rsplit("=", 1)
            parsed.append((pattern, LayerScheme.parse(text)))
        return replace(self, rules=self.rules + tuple(parsed))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SchemeConfig:
        """``{default: upot:4:8, depthwise: int8, ends_at_8bit: true, layers: {PATTERN:
        plut:4:4}}``."""
        unknown = set(d) - {"default", "depthwise", "ends_at_8bit", "layers"}
        if unknown:
            raise PlutflowError(f"unknown scheme config keys {sorted(unknown)}")
        default = _scheme(d.get("default", "int8"))
        rules = tuple((str(k), _scheme(v)) for k, v in (d.get("layers") or {}).items())
        depthwise = _scheme(d["depthwise"]) if d.get("depthwise") else None
        return cls(default, rules, bool(d.get("ends_at_8bit", True)), depthwise)

    @classmethod
    def from_file(cls, path: str | Path) -> SchemeConfig:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise PlutflowError(f"cannot read scheme config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise PlutflowError(f"{path} must hold a mapping")
        return cls.from_dict(data)


def _scheme(value: Any) -> LayerScheme:
    if isinstance(value, str):
        return LayerScheme.parse(value)
    if isinstance(value, dict):
        return LayerScheme(**value)
    raise PlutflowError(f"bad scheme {value!r}")
