"""Build parameters of an overlay, and the identification registers that report them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from plutflow.overlay.contract import CONTRACT

PE_TYPES = CONTRACT.pe_types
#: weight schemes each PE type runs natively (every overlay also runs int8 / uniform
#: layers on its int8 multipliers when built with ``int8_path``)
NATIVE_SCHEMES = {
    "int8": ("int8", "uniform"),
    "shift": ("pot", "upot"),
    "plut": ("plut",),
    "plut-lutram": ("plut",),
}


def _log2(v: int) -> int:
    return int(v).bit_length() - 1


def _field(value: int, reg: str, name: str) -> int:
    lo, w = CONTRACT.reg_fields[reg][name]
    return (value >> lo) & ((1 << w) - 1)


def _place(reg: str, **values: int) -> int:
    out = 0
    for name, v in values.items():
        lo, w = CONTRACT.reg_fields[reg][name]
        if not 0 <= v < 1 << w:
            raise ValueError(f"{reg}.{name} = {v} does not fit {w} bits")
        out |= v << lo
    return out


@dataclass(frozen=True)
class OverlayConfig:
    """The RTL parameters of ``pf_accel``.

    ``p``: the array is p x p MACs and a memory beat is p bytes (one channel group).
    ``wbits``: the PE code width; ``b2``: shift PEs' second-term index bits; ``abits``:
    LUT-RAM P-LUT activation index bits; ``int8_path``: the low-bit overlay also carries
    int8 multipliers (every overlay then runs int8 layers). Buffers, per bank:
    ``adepth`` activation words, ``wdepth`` weight tiles, ``mdepth`` requant groups,
    ``tslots`` activation tables; ``pdepth`` partial-sum groups.
    """

    pe_type: str = "int8"
    p: int = 16
    wbits: int = 8
    b2: int = 3
    abits: int = 4
    int8_path: int = 1
    adepth: int = 8192
    wdepth: int = 2048
    mdepth: int = 256
    pdepth: int = 2048
    tslots: int = 8

    def __post_init__(self) -> None:
        if self.pe_type not in PE_TYPES:
            raise ValueError(f"unknown PE type {self.pe_type!r}; one of {sorted(PE_TYPES)}")
        if self.p not in (4, 8, 16, 32):
            raise ValueError(f"the array size P must be 4, 8, 16 or 32 (got {self.p})")
        for name in ("adepth", "wdepth", "mdepth", "pdepth"):
            v = getattr(self, name)
            if v < 2 or v & (v - 1):
                raise ValueError(f"{name} must be a power of two (got {v})")
        if not 2 <= self.wbits <= 8:
            raise ValueError("wbits must be 2..8")
        if self.pe_type == "int8" and (self.wbits != 8 or not self.int8_path):
            raise ValueError("an int8 overlay has wbits 8 and the int8 path")
        if self.pe_type == "shift" and not 0 <= self.b2 < self.wbits - 1:
            raise ValueError("shift overlays need 0 <= b2 < wbits - 1")
        if not 1 <= self.tslots <= 255:
            raise ValueError("tslots must be 1..255")

    @classmethod
    def named(cls, name: str) -> OverlayConfig:
        """A configuration from the contract: ``board``, ``small`` or a PE type name."""
        return cls(**CONTRACT.overlay(name))

    @classmethod
    def for_pe(cls, pe_type: str, **kw: int) -> OverlayConfig:
        """The contract's configuration of ``pe_type`` with some parameters changed."""
        return cls(**{**CONTRACT.overlay(pe_type), **kw})

    @property
    def macs_per_cycle(self) -> int:
        return self.p * self.p

    @property
    def beat_bytes(self) -> int:
        """Bytes per memory beat (the AXI data width is 8p bits)."""
        return self.p

    def runs_int8(self) -> bool:
        return self.pe_type == "int8" or bool(self.int8_path)

    def rtl_parameters(self) -> dict[str, int]:
        """Verilog parameters of ``pf_accel``."""
        return {
            "PE_TYPE": PE_TYPES[self.pe_type],
            "P": self.p,
            "WBITS": self.wbits,
            "B2": self.b2,
            "ABITS": self.abits,
            "INT8_PATH": int(self.int8_path),
            "ADEPTH": self.adepth,
            "WDEPTH": self.wdepth,
            "MDEPTH": self.mdepth,
            "PDEPTH": self.pdepth,
            "TSLOTS": self.tslots,
        }

    def registers(self) -> dict[str, int]:
        """PE_CONFIG, BUF_CONFIG and BUF_CONFIG2 as this overlay reports them."""
        return {
            "PE_CONFIG": _place(
                "PE_CONFIG",
                pe_type=PE_TYPES[self.pe_type],
                p=self.p,
                wbits=self.wbits,
                abits=self.abits,
                b2=self.b2,
                int8_path=int(self.int8_path),
            ),
            "BUF_CONFIG": _place(
                "BUF_CONFIG",
                log2_adepth=_log2(self.adepth),
                log2_wdepth=_log2(self.wdepth),
                log2_mdepth=_log2(self.mdepth),
                log2_pdepth=_log2(self.pdepth),
            ),
            "BUF_CONFIG2": _place(
                "BUF_CONFIG2",
                tslots=self.tslots,
                log2_max_burst=_log2(CONTRACT.memory["max_burst"]),
            ),
        }

    @classmethod
    def from_registers(cls, pe_config: int, buf_config: int, buf_config2: int) -> OverlayConfig:
        types = {v: k for k, v in PE_TYPES.items()}
        code = _field(pe_config, "PE_CONFIG", "pe_type")
        if code not in types:
            raise ValueError(f"PE_CONFIG 0x{pe_config:08x} names an unknown PE type")
        return cls(
            pe_type=types[code],
            p=_field(pe_config, "PE_CONFIG", "p"),
            wbits=_field(pe_config, "PE_CONFIG", "wbits"),
            abits=_field(pe_config, "PE_CONFIG", "abits"),
            b2=_field(pe_config, "PE_CONFIG", "b2"),
            int8_path=_field(pe_config, "PE_CONFIG", "int8_path"),
            adepth=1 << _field(buf_config, "BUF_CONFIG", "log2_adepth"),
            wdepth=1 << _field(buf_config, "BUF_CONFIG", "log2_wdepth"),
            mdepth=1 << _field(buf_config, "BUF_CONFIG", "log2_mdepth"),
            pdepth=1 << _field(buf_config, "BUF_CONFIG", "log2_pdepth"),
            tslots=_field(buf_config2, "BUF_CONFIG2", "tslots"),
        )

    def to_json(self) -> dict[str, int | str]:
        return asdict(self)

    def describe(self) -> str:
        extra = " + int8 path" if self.pe_type != "int8" and self.int8_path else ""
        return (
            f"{self.pe_type} PEs{extra}, {self.p}x{self.p} array ({self.macs_per_cycle} "
            f"MACs/cycle), {8 * self.p}-bit memory port"
        )
