"""Random programs for the overlay RTL: valid descriptors of every kind and flag, with
their tensors and parameter blocks in a memory window, and the memory the overlay must
leave behind (from the emulator, plutflow.overlay.emulator).

A case chains several tiles the way compiled networks do: banks alternate so loads
overlap compute, weights are reused without reloading, CONV tiles split over input groups
accumulate partial sums, and a BARRIER tile reads the output of the tile before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.emulator import Emulator
from plutflow.overlay.pack import (
    parameter_block,
    ptab_block,
    requant_block,
    table_block,
    tile_beats,
    tile_block,
)
from plutflow.overlay.program import DESC_BYTES, Descriptor, encode

VECTOR_KINDS = ("DW", "MAXPOOL", "SUMPOOL", "ADD", "MUL", "COPY")


@dataclass
class Output:
    desc: int
    addr: int
    oh: int
    ow: int
    omg: int
    rs: int
    ps: int


@dataclass
class Case:
    cfg: OverlayConfig
    mem: np.ndarray  # the window before the run
    prog_addr: int
    descs: list[Descriptor]
    expected: np.ndarray = field(default=None)  # the window after the run
    outputs: list[Output] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.descs)

    def mismatch(self, got: np.ndarray) -> str | None:
        """The first differing output byte as descriptor, position, channel, expected and
        actual; None when the windows are equal."""
        diff = np.flatnonzero(got != self.expected)
        if diff.size == 0:
            return None
        off = int(diff[0])
        p = self.cfg.p
        for o in self.outputs:
            for oy in range(o.oh):
                for ox in range(o.ow):
                    base = o.addr + oy * o.rs + ox * o.ps
                    if base <= off < base + o.omg * p:
                        ch = off - base
                        return (
                            f"descriptor {o.desc} ({self.descs[o.desc].kind}): output "
                            f"({oy}, {ox}) channel {ch}: expected {self.expected[off]}, "
                            f"got {got[off]} ({diff.size} bytes differ)"
                        )
        return f"byte 0x{off:x} outside every output: expected {self.expected[off]}, got {got[off]}"


class _Alloc:
    def __init__(self, size: int, align: int) -> None:
        self.top, self.size, self.align = 0, size, align

    def __call__(self, n: int, align: int | None = None) -> int:
        a = align or self.align
        self.top = -(-self.top // a) * a
        at = self.top
        self.top += n
        if self.top > self.size:
            raise ValueError("case does not fit the window")
        return at


class Builder:
    """Accumulates tiles into a window and a program."""

    def __init__(self, cfg: OverlayConfig, rng: np.random.Generator, size: int = 1 << 20):
        self.cfg, self.rng = cfg, rng
        self.mem = np.zeros(size, np.uint8)
        self.alloc = _Alloc(size, max(cfg.p, 16))
        self.prog_addr = self.alloc(DESC_BYTES * 64, 128)  # room for 64 descriptors
        self.descs: list[Descriptor] = []
        self.outputs: list[Output] = []
        self.wbank = 0
        self.abank = 0

    # ---------------------------------------------------------------- memory
    def put(self, data: bytes | np.ndarray, align: int | None = None) -> int:
        raw = np.frombuffer(bytes(data), np.uint8) if isinstance(data, bytes) else data
        at = self.alloc(raw.size, align)
        self.mem[at : at + raw.size] = raw
        return at

    def tensor(self, rows: int, cols: int, groups: int, extra: int = 0) -> tuple[int, int, int]:
        """A random tensor region: (address, row stride, pixel stride); pixels may hold
        ``extra`` more groups (a channel slice of a wider tensor)."""
        p = self.cfg.p
        ps = (groups + extra) * p
        rs = cols * ps + int(self.rng.integers(0, 2)) * p
        at = self.alloc(max(rows, 1) * rs)
        self.mem[at : at + rows * rs] = self.rng.integers(0, 256, rows * rs, dtype=np.uint8)
        return at, rs, ps

    def output(self, oh: int, ow: int, omg: int) -> dict[str, int]:
        p = self.cfg.p
        ps = (omg + int(self.rng.integers(0, 2))) * p
        rs = ow * ps + int(self.rng.integers(0, 2)) * p
        at = self.alloc(oh * rs)
        return {"O_ADDR": at, "O_RS": rs, "O_PS": ps}

    # ---------------------------------------------------------------- parameters
    def rq(self, omg: int, kind: str) -> bytes:
        m = omg * self.cfg.p
        r = self.rng
        bias = r.integers(-(1 << 20), 1 << 20, m)
        mult = r.integers(1 << 14, 1 << 16, m)
        shift = r.integers(8, 30, m) if kind == "CONV" else r.integers(4, 22, m)
        return requant_block(bias, mult, shift, self.cfg.p)

    def tables(self, omg: int, per_channel: bool) -> bytes:
        c = omg * self.cfg.p
        shape = (c, 256) if per_channel else (256,)
        return table_block(self.rng.integers(0, 256, shape), self.cfg.p)

    def conv_fields(self, n: int, int8: bool) -> tuple[np.ndarray, int]:
        c, r = self.cfg, self.rng
        p = c.p
        if int8 or c.pe_type == "int8":
            return r.integers(-128, 128, (n, p, p)), 8
        return r.integers(0, 1 << c.wbits, (n, p, p)), c.wbits

    # ---------------------------------------------------------------- tiles
    def add(self, d: Descriptor, output: bool = True) -> int:
        self.descs.append(d)
        if output and d.has("PSUM_LAST"):
            self.outputs.append(
                Output(len(self.descs) - 1, d["O_ADDR"], d["OH"], d["OW"], d["OMG"],
                       d["O_RS"], d["O_PS"])
            )  # fmt: skip
        return len(self.descs) - 1

    def geometry(self, kind: str, max_g: int = 3) -> dict[str, int]:
        r, c = self.rng, self.cfg
        omg = int(r.integers(1, max_g + 1))
        icg = omg if kind != "CONV" else int(r.integers(1, max_g + 1))
        window = kind in ("CONV", "DW", "MAXPOOL", "SUMPOOL")
        kh, kw = (int(r.integers(1, 4)), int(r.integers(1, 4))) if window else (1, 1)
        sh, sw = (int(r.integers(1, 3)), int(r.integers(1, 3))) if window else (1, 1)
        dh, dw = (int(r.integers(1, 3)), int(r.integers(1, 3))) if window else (1, 1)
        oh, ow = int(r.integers(1, 5)), int(r.integers(1, 5))
        ih = (oh - 1) * sh + (kh - 1) * dh + 1
        iw = (ow - 1) * sw + (kw - 1) * dw + 1
        while ih * iw * icg > c.adepth:
            oh, ow = max(1, oh - 1), max(1, ow - 1)
            ih, iw = (oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + (kw - 1) * dw + 1
        pt = int(r.integers(0, min(3, ih)))
        pl = int(r.integers(0, min(3, iw)))
        rows = int(r.integers(1, ih - pt + 1))
        cols = int(r.integers(1, iw - pl + 1))
        return dict(IH=ih, IW=iw, ICG=icg, OMG=omg, OH=oh, OW=ow, KH=kh, KW=kw, SH=sh,
                    SW=sw, DH=dh, DW=dw, PAD_T=pt, PAD_L=pl, A_ROWS=rows, A_COLS=cols)  # fmt: skip

    def operand_a(self, g: dict[str, int], src: tuple[int, int, int] | None = None) -> dict:
        if src is None:
            src = self.tensor(g["A_ROWS"], g["A_COLS"], g["ICG"], int(self.rng.integers(0, 2)))
        at, rs, ps = src
        return {"A_ADDR": at, "A_RS": rs, "A_PS": ps}

    def random_tile(self, kind: str, barrier_src: Output | None = None) -> int:
        """One random tile of ``kind`` (a CONV may come as a pair splitting its input
        groups); returns the index of the descriptor that stores the output."""
        c, r = self.cfg, self.rng
        p = c.p
        g = self.geometry(kind)
        flags = {"LOAD_A", "PSUM_FIRST", "PSUM_LAST"}
        if barrier_src is not None:  # read the previous tile's output as operand A
            g.update(OMG=barrier_src.omg if kind != "CONV" else g["OMG"],
                     ICG=barrier_src.omg, OH=barrier_src.oh, OW=barrier_src.ow,
                     KH=1, KW=1, SH=1, SW=1, DH=1, DW=1, PAD_T=0, PAD_L=0,
                     A_ROWS=barrier_src.oh, A_COLS=barrier_src.ow,
                     IH=barrier_src.oh, IW=barrier_src.ow)  # fmt: skip
            if kind != "CONV":
                g["OMG"] = g["ICG"]
            flags.add("BARRIER")
            src = (barrier_src.addr, barrier_src.rs, barrier_src.ps)
        else:
            src = None
        self.abank ^= 1
        self.wbank ^= 1
        if self.abank:
            flags.add("ABANK")
        if self.wbank:
            flags.add("WBANK")
        v = dict(g)
        v.update(self.operand_a(g, src))
        v.update(self.output(g["OH"], g["OW"], g["OMG"]))
        v.update(
            PADV=int(r.integers(-128, 256)),
            ZP=int(r.integers(-64, 64)),
            LO=int(r.integers(-256, 0)),
            HI=int(r.integers(0, 256)),
            SHIFT=int(r.integers(0, 12)),
            MULT_A=int(r.integers(1, 1 << 16)),
            MULT_B=int(r.integers(1, 1 << 16)),
            ZA=int(r.integers(-128, 128)),
            ZB=int(r.integers(-128, 128)),
            FSHIFT=int(r.integers(0, 5)) if kind in ("CONV", "DW") else 0,
        )
        if r.random() < 0.5:
            flags.add("A_SIGNED")
        if r.random() < 0.5:
            flags.add("B_SIGNED")
        tables = b""
        if r.random() < 0.4:
            flags.add("TABLE")
            per = r.random() < 0.5 and g["OMG"] <= c.tslots
            if per:
                flags.add("TABLE_PER_CH")
            tables = self.tables(g["OMG"], per)
            v["TSLOTS"] = g["OMG"] if per else 1
            v["LO"], v["HI"] = int(r.integers(-128, 0)), int(r.integers(0, 128))
        rq = b""
        if kind in ("CONV", "DW") or r.random() < 0.3:
            flags.add("RQ_PER_CH")
            rq = self.rq(g["OMG"], kind)
            v["RQ_GROUPS"] = g["OMG"]
        ptab = tiles = b""
        if kind == "CONV":
            int8 = c.pe_type == "int8" or (c.int8_path and r.random() < 0.4)
            if int8:
                flags.update({"W_SIGNED", "INT8_PATH"} if c.pe_type != "int8" else {"W_SIGNED"})
            n = g["OMG"] * g["KH"] * g["KW"] * g["ICG"]
            fields, fw = self.conv_fields(n, int8)
            v.update(FIELD_W=fw, NTILES=n, TILE_BEATS=tile_beats(fw, p), WBITS=fw)
            tiles = tile_block(fields, fw, p)
            if c.pe_type == "shift" and not int8:
                v["EXP1"] = sum(int(r.integers(0, 8)) << (4 * k) for k in range(7))
                v["EXP2"] = sum(int(r.integers(0, 8)) << (4 * k) for k in range(7))
            if c.pe_type == "plut" and not int8:
                lev = r.integers(0, 256, 16)
                for j in range(4):
                    v[f"LEV{j}"] = sum(int(lev[4 * j + k]) << (8 * k) for k in range(4))
            if c.pe_type == "plut-lutram" and not int8:
                v["ABITS"] = int(r.integers(1, c.abits + 1))
                v["AQMIN"] = int(r.integers(-16, 16))
                table = r.integers(-(1 << 12), 1 << 12, (1 << (c.wbits - 1), 1 << c.abits))
                ptab = ptab_block(table, c.wbits, c.abits, p)
                v["PTAB_BEATS"] = len(ptab) // p
        elif kind == "DW":
            n = g["OMG"] * g["KH"] * g["KW"]
            v.update(FIELD_W=0, NTILES=n, TILE_BEATS=tile_beats(0, p))
            tiles = tile_block(r.integers(-300, 300, (n, p)), 0, p)
        if kind in ("ADD", "MUL"):
            flags.add("LOAD_B")
            if kind == "MUL" and r.random() < 0.5:
                flags.add("B_BCAST")
                at, rs, ps = self.tensor(1, 1, g["OMG"])
            else:
                at, rs, ps = self.tensor(g["OH"], g["OW"], g["OMG"], int(r.integers(0, 2)))
            v.update(B_ADDR=at, B_RS=rs, B_PS=ps)
        block = parameter_block(rq, tables, ptab, tiles)
        if block:
            flags.add("LOAD_W")
            v["W_ADDR"] = self.put(block)
        d = Descriptor(kind, flags, v, note=f"random {kind}")
        if kind == "CONV" and r.random() < 0.4 and g["ICG"] >= 1:
            return self._split(d)
        if kind == "CONV" and r.random() < 0.3:  # the same weights again: no reload
            first = self.add(d)
            again = Descriptor(kind, set(d.flags) - {"LOAD_W", "BARRIER"}, dict(d.values))
            again.values.update(self.output(g["OH"], g["OW"], g["OMG"]))
            again.values.update(self.operand_a(g))
            self.abank ^= 1
            again.flags ^= {"ABANK"}
            self.add(again)
            del first
            return len(self.descs) - 1
        return self.add(d)

    def _split(self, d: Descriptor) -> int:
        """A CONV as two tiles over the same outputs: the second accumulates onto the
        partial sums of the first (different weights and inputs)."""
        c, r = self.cfg, self.rng
        g = {k: d[k] for k in ("IH", "IW", "ICG", "OMG", "OH", "OW", "KH", "KW", "A_ROWS",
                                "A_COLS")}  # fmt: skip
        if g["OH"] * g["OW"] * g["OMG"] > c.pdepth:
            return self.add(d)
        first = Descriptor("CONV", set(d.flags) - {"PSUM_LAST"}, dict(d.values))
        self.add(first, output=False)
        second = Descriptor("CONV", set(d.flags) - {"PSUM_FIRST", "BARRIER"}, dict(d.values))
        n = d["NTILES"]
        int8 = d.has("W_SIGNED")
        fields, fw = self.conv_fields(n, int8)
        block = parameter_block(
            requant_block(*self._rq_fields(d["OMG"]), c.p) if d.has("RQ_PER_CH") else b"",
            b"",
            b"",
            tile_block(fields, fw, c.p),
        )
        second.values.update(W_ADDR=self.put(block), TSLOTS=0, PTAB_BEATS=0)
        second.flags -= {"TABLE", "TABLE_PER_CH"}
        second.flags ^= {"WBANK", "ABANK"}
        second.values.update(self.operand_a(g))
        del r
        return self.add(second)

    def _rq_fields(self, omg: int):
        r = self.rng
        m = omg * self.cfg.p
        return (
            r.integers(-(1 << 20), 1 << 20, m),
            r.integers(1 << 14, 1 << 16, m),
            r.integers(8, 30, m),
        )

    def finish(self) -> Case:
        prog = encode(self.descs)
        self.mem[self.prog_addr : self.prog_addr + len(prog)] = np.frombuffer(prog, np.uint8)
        case = Case(self.cfg, self.mem.copy(), self.prog_addr, self.descs,
                    outputs=self.outputs)  # fmt: skip
        expected = self.mem.copy()
        Emulator(self.cfg, expected).run(self.prog_addr, len(self.descs))
        case.expected = expected
        return case


def random_case(cfg: OverlayConfig, rng: np.random.Generator, tiles: int = 4) -> Case:
    """``tiles`` random tiles (some as pairs), kinds drawn evenly, every third one reading
    the previous output behind a BARRIER."""
    b = Builder(cfg, rng)
    kinds = ["CONV", *VECTOR_KINDS]
    last: Output | None = None
    for t in range(tiles):
        kind = kinds[int(rng.integers(0, len(kinds)))]
        src = last if (t % 3 == 2 and last is not None) else None
        b.random_tile(kind, src)
        last = b.outputs[-1] if b.outputs else None
    return b.finish()
