"""The program codec: descriptors to the words the overlay fetches, and back
(``docs/spec.md`` 9.2). Field positions, flags and kinds come from the contract."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from plutflow.overlay.contract import CONTRACT

KINDS = CONTRACT.kinds
KIND_NAMES = {v: k for k, v in KINDS.items()}
FLAGS = CONTRACT.flags
FIELDS = CONTRACT.fields
DESC_BYTES = CONTRACT.desc_bytes


@dataclass
class Descriptor:
    """One tile: its kind, flags and field values (names as in the contract).

    Fields not given are 0; MAGIC, VERSION, KIND and FLAGS are filled in by
    :meth:`words`. ``note`` (layer and tile, for humans) and ``layer`` (the model layer
    it computes) are never encoded.
    """

    kind: str
    flags: set[str] = field(default_factory=set)
    values: dict[str, int] = field(default_factory=dict)
    note: str = ""
    layer: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown descriptor kind {self.kind!r}; one of {sorted(KINDS)}")
        bad = set(self.flags) - set(FLAGS)
        if bad:
            raise ValueError(f"unknown descriptor flags {sorted(bad)}")
        bad = set(self.values) - set(FIELDS)
        if bad:
            raise ValueError(f"unknown descriptor fields {sorted(bad)}")

    def __getitem__(self, name: str) -> int:
        return int(self.values.get(name, 0))

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def words(self) -> np.ndarray:
        """The descriptor as 32-bit words (uint32, word 0 first)."""
        vals = dict(self.values)
        vals.update(
            MAGIC=CONTRACT.desc_magic,
            VERSION=CONTRACT.desc_version,
            KIND=KINDS[self.kind],
            FLAGS=sum(1 << FLAGS[f] for f in self.flags),
        )
        out = np.zeros(CONTRACT.desc_words, dtype=np.uint64)
        for name, v in vals.items():
            f = FIELDS[name]
            out[f.word] |= np.uint64(f.check(v) << f.lo)
        return out.astype(np.uint32)

    @classmethod
    def from_words(cls, words: np.ndarray) -> Descriptor:
        """Decode (unknown kinds and bad magic raise ValueError)."""
        w = np.asarray(words, dtype=np.uint32).astype(np.int64)
        vals = {}
        for name, f in FIELDS.items():
            raw = (int(w[f.word]) >> f.lo) & ((1 << f.width) - 1)
            if f.signed and raw >> (f.width - 1):
                raw -= 1 << f.width
            vals[name] = raw
        if vals["MAGIC"] != CONTRACT.desc_magic or vals["VERSION"] != CONTRACT.desc_version:
            raise ValueError("not a plutflow descriptor (magic or version)")
        if vals["KIND"] not in KIND_NAMES:
            raise ValueError(f"unknown descriptor kind {vals['KIND']}")
        kind = KIND_NAMES[vals.pop("KIND")]
        flags = {n for n, b in FLAGS.items() if vals["FLAGS"] >> b & 1}
        for k in ("MAGIC", "VERSION", "FLAGS"):
            vals.pop(k)
        return cls(kind, flags, {k: v for k, v in vals.items() if v})


def encode(descs: Iterable[Descriptor]) -> bytes:
    """A program: descriptors back to back (``DESC_BYTES`` each)."""
    return b"".join(d.words().astype("<u4").tobytes() for d in descs)


def decode(data: bytes) -> list[Descriptor]:
    if len(data) % DESC_BYTES:
        raise ValueError(f"a program is a multiple of {DESC_BYTES} bytes")
    words = np.frombuffer(data, dtype="<u4").reshape(-1, CONTRACT.desc_words)
    return [Descriptor.from_words(w) for w in words]


def descriptor(kind: str, flags: Iterable[str] = (), note: str = "", **values: int) -> Descriptor:
    """Shorthand: ``descriptor("CONV", {"LOAD_A"}, IH=3, ...)``."""
    return Descriptor(kind, set(flags), dict(values), note)


def field_values(d: Descriptor) -> Mapping[str, int]:
    return dict(d.values)
