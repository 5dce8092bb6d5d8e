"""The accelerator's layer packets (``docs/spec.md`` section 9).

One run of the overlay's layer engine executes one conv/gemm layer on a batch of
images. Its input is one AXI4-Stream packet, built here from an integer-model layer:
a 512-bit descriptor, the requant records, the optional activation table, the P-LUT
product table (LUT-RAM P-LUT overlays), the weight tiles and the activations, every
block zero-padded to whole stream words. Its output is one packet of output codes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from plutflow.errors import PlutflowError
from plutflow.formats.bitpack import pack_fields
from plutflow.intmodel.model import IntLayer, TensorSpec

DESCRIPTOR_MAGIC = 0x50460001
DESCRIPTOR_FIELDS = 16

PE_TYPES = {"int8": 0, "shift": 1, "plut": 2, "plut-lutram": 3}
SCHEMES_OF = {
    "int8": ("int8", "uniform"),
    "shift": ("pot", "upot"),
    "plut": ("plut",),
    "plut-lutram": ("plut",),
}

ERROR_CODES = {
    0: "ok",
    1: "bad descriptor magic",
    2: "layer format not supported by this overlay",
    3: "layer exceeds the overlay's buffers",
    4: "TLAST before the end of the packet (short stream)",
    5: "no TLAST at the end of the packet",
    6: "input stream stalled (timeout)",
    7: "partial TKEEP on the input stream",
}


class UnsupportedLayer(PlutflowError):
    """The layer cannot run on this overlay configuration (it runs on the host instead)."""


@dataclass(frozen=True)
class OverlayConfig:
    """The build parameters of an overlay (the RTL parameters of ``pf_accel``)."""

    pe_type: str = "int8"
    p: int = 8
    data_w: int = 64
    wbits: int = 8
    b2: int = 3
    abits: int = 4
    adepth: int = 4096
    wdepth: int = 1024
    mdepth: int = 64
    of_depth: int = 16

    def __post_init__(self) -> None:
        if self.pe_type not in PE_TYPES:
            raise ValueError(f"unknown PE type {self.pe_type!r}; one of {sorted(PE_TYPES)}")
        if self.data_w not in (64, 128):
            raise ValueError("the stream is 64 or 128 bits wide")
        if self.p < 1 or self.p & (self.p - 1):
            raise ValueError("the array size P must be a power of two")

    @classmethod
    def for_pe(cls, pe_type: str, **kw: int) -> OverlayConfig:
        """Defaults per PE type: int8 8-bit weights; shift 7-bit hardware codes (two
        3-bit term indices); plut 5-bit codes (16 levels); plut-lutram 4-bit codes."""
        wbits = {"int8": 8, "shift": 7, "plut": 5, "plut-lutram": 4}[pe_type]
        return cls(pe_type=pe_type, **{"wbits": wbits, **kw})

    @property
    def macs_per_cycle(self) -> int:
        return self.p * self.p

    def rtl_parameters(self) -> dict[str, int]:
        """Verilog parameters of ``pf_accel``."""
        return {
            "PE_TYPE": PE_TYPES[self.pe_type],
            "P": self.p,
            "DATA_W": self.data_w,
            "WBITS": self.wbits,
            "B2": self.b2,
            "ABITS": self.abits,
            "ADEPTH": self.adepth,
            "WDEPTH": self.wdepth,
            "MDEPTH": self.mdepth,
            "OF_DEPTH": self.of_depth,
        }

    def registers(self) -> tuple[int, int]:
        """The PE_CONFIG and BUF_CONFIG register values this overlay reports (spec 8)."""
        pe = (
            PE_TYPES[self.pe_type]
            | self.p << 4
            | self.wbits << 12
            | self.abits << 16
            | self.b2 << 20
            | (1 if self.data_w == 128 else 0) << 24
        )
        log2 = lambda v: int(v).bit_length() - 1  # noqa: E731
        buf = (
            log2(self.adepth)
            | log2(self.wdepth) << 8
            | log2(self.mdepth) << 16
            | log2(self.of_depth) << 24
        )
        return pe, buf

    @classmethod
    def from_registers(cls, pe_config: int, buf_config: int) -> OverlayConfig:
        types = {v: k for k, v in PE_TYPES.items()}
        if pe_config & 0xF not in types:
            raise ValueError(f"PE_CONFIG 0x{pe_config:08x} names an unknown PE type")
        return cls(
            pe_type=types[pe_config & 0xF],
            p=(pe_config >> 4) & 0xFF,
            wbits=(pe_config >> 12) & 0xF,
            abits=(pe_config >> 16) & 0xF,
            b2=(pe_config >> 20) & 0xF,
            data_w=128 if (pe_config >> 24) & 0xF else 64,
            adepth=1 << (buf_config & 0xFF),
            wdepth=1 << ((buf_config >> 8) & 0xFF),
            mdepth=1 << ((buf_config >> 16) & 0xFF),
            of_depth=1 << ((buf_config >> 24) & 0xFF),
        )

    def to_json(self) -> dict[str, int | str]:
        return asdict(self)


@dataclass(frozen=True)
class LayerGeometry:
    """A conv/gemm layer as the engine sees it: channels-last images, 2-D kernels."""

    h: int
    w: int
    c: int
    m: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    pt: int
    pl: int
    depthwise: bool

    @property
    def macs(self) -> int:
        per = self.kh * self.kw * (1 if self.depthwise else self.c)
        return self.oh * self.ow * self.m * per


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def geometry(layer: IntLayer, in_shape: tuple[int, ...]) -> LayerGeometry:
    """The engine geometry of a conv/gemm layer for an input of shape ``in_shape``."""
    if layer.op == "gemm":
        k = int(in_shape[1])
        m = int(layer.params["bias"].shape[0])
        return LayerGeometry(1, 1, k, m, 1, 1, 1, 1, 1, 1, 0, 0, False)
    if layer.op != "conv":
        raise UnsupportedLayer(f"layer {layer.name}: op {layer.op} does not run on the overlay")
    a = layer.attrs
    if len(a["kernel"]) != 2:
        raise UnsupportedLayer(f"layer {layer.name}: only 2-D convolutions run on the overlay")
    if any(d != 1 for d in a["dilations"]):
        raise UnsupportedLayer(f"layer {layer.name}: dilated convolution")
    c, h, w = (int(v) for v in in_shape[1:])
    m = int(layer.params["bias"].shape[0])
    group = int(a["group"])
    depthwise = group > 1
    if depthwise and not (group == c == m):
        raise UnsupportedLayer(f"layer {layer.name}: grouped (not depthwise) convolution")
    kh, kw = (int(v) for v in a["kernel"])
    sh, sw = (int(v) for v in a["strides"])
    pt, pl, pb, pr = (int(v) for v in a["pads"])
    oh = (h + pt + pb - kh) // sh + 1
    ow = (w + pl + pr - kw) // sw + 1
    if a.get("ceil_mode"):
        raise UnsupportedLayer(f"layer {layer.name}: ceil_mode")
    if max(kh, kw, sh, sw, pt, pl) > 15:
        raise UnsupportedLayer(f"layer {layer.name}: kernel, stride or padding above 15")
    return LayerGeometry(h, w, c, m, oh, ow, kh, kw, sh, sw, pt, pl, depthwise)


def _shift_split(layer: IntLayer) -> tuple[int, list[int], list[int]]:
    terms = layer.attrs.get("terms", [])
    t1 = list(terms[0]) if terms else []
    t2 = list(terms[1]) if len(terms) > 1 else []
    b2 = (len(t2) + 1).bit_length() - 1 if t2 else 0
    return b2, t1, t2


def check_supported(
    layer: IntLayer, in_spec: TensorSpec, in_shape: tuple[int, ...], cfg: OverlayConfig
) -> LayerGeometry:
    """The layer's geometry if it runs on ``cfg``; raises :class:`UnsupportedLayer` with
    the reason otherwise."""
    geo = geometry(layer, in_shape)
    a, p = layer.attrs, layer.params
    scheme = a.get("weight_scheme", "int8")
    k = int(a.get("weight_bits", 8))
    name = layer.name
    if scheme not in SCHEMES_OF[cfg.pe_type]:
        raise UnsupportedLayer(f"layer {name}: {scheme} weights on a {cfg.pe_type} overlay")
    if cfg.pe_type == "int8" and k > cfg.wbits:
        raise UnsupportedLayer(f"layer {name}: {k}-bit weights on {cfg.wbits}-bit PEs")
    if cfg.pe_type == "shift":
        b2 = _shift_split(layer)[0]
        if b2 > cfg.b2 or (k - 1 - b2) > cfg.wbits - 1 - cfg.b2:
            raise UnsupportedLayer(f"layer {name}: shift split does not fit the PEs")
    if cfg.pe_type.startswith("plut"):
        if k - 1 > cfg.wbits - 1:
            raise UnsupportedLayer(f"layer {name}: {k}-bit codes on {cfg.wbits}-bit PEs")
        if cfg.pe_type == "plut-lutram" and in_spec.bits > cfg.abits:
            raise UnsupportedLayer(
                f"layer {name}: {in_spec.bits}-bit activations on {cfg.abits}-bit tables"
            )
        if cfg.pe_type == "plut" and int(np.max(p["levels"])) > 255:
            raise UnsupportedLayer(f"layer {name}: P-LUT levels above 8 bits")
    if "table" in p and p["table"].ndim != 1:
        raise UnsupportedLayer(f"layer {name}: per-channel activation table")
    if int(a.get("bias_shift", 0)) > 31:
        raise UnsupportedLayer(f"layer {name}: bias shift above 31")
    cg, mg = _ceil(geo.c, cfg.p), _ceil(geo.m, cfg.p)
    blocks = mg * geo.kh * geo.kw * (1 if geo.depthwise else cg)
    if geo.h * geo.w * cg > cfg.adepth or blocks > cfg.wdepth or mg > cfg.mdepth:
        raise UnsupportedLayer(f"layer {name}: exceeds the overlay's buffers")
    if max(geo.h, geo.w, geo.c, geo.m) >= 1 << 16:
        raise UnsupportedLayer(f"layer {name}: a dimension above 65535")
    return geo


# --------------------------------------------------------------------------- packing
def _words(bits: np.ndarray | bytes, data_w: int) -> np.ndarray:
    """Bytes to uint64 words, zero-padded to whole stream words."""
    raw = np.frombuffer(bytes(bits), dtype=np.uint8)
    step = data_w // 8
    pad = (-raw.size) % step
    return np.concatenate([raw, np.zeros(pad, np.uint8)]).view("<u8")


def _blocks(fields: np.ndarray, bits: int, per_block: int, data_w: int) -> np.ndarray:
    """Rows of ``per_block`` fields, each row packed densely and padded to whole words."""
    fields = np.asarray(fields, dtype=np.int64).reshape(-1, per_block)
    row_bits = per_block * bits
    words = _ceil(row_bits, data_w) * data_w // 64
    if row_bits % 8 == 0 and bits in (8, 16, 64):
        dt = {8: "<u1", 16: "<u2", 64: "<u8"}[bits]
        raw = fields.astype(np.int64).astype(np.uint64).astype(dt).view(np.uint8)
        raw = raw.reshape(fields.shape[0], -1)
    else:
        packed = [pack_fields(r, bits, 64).view(np.uint8) for r in fields]
        raw = np.stack(packed)[:, : _ceil(row_bits, 8)]
    out = np.zeros((fields.shape[0], words * 8), np.uint8)
    out[:, : raw.shape[1]] = raw[:, : words * 8]
    return out.reshape(-1).view("<u8")


def descriptor(
    layer: IntLayer,
    geo: LayerGeometry,
    in_spec: TensorSpec,
    out_spec: TensorSpec,
    batch: int,
) -> np.ndarray:
    """The 16 descriptor fields (uint32) of a layer run (spec 9.2)."""
    a, p = layer.attrs, layer.params
    scheme = a.get("weight_scheme", "int8")
    k = int(a.get("weight_bits", 8))
    table = "table" in p
    zp = int(a["mid_zero_point"]) if table else int(out_spec.zero_point)
    b2, t1, t2 = _shift_split(layer) if scheme in ("pot", "upot") else (0, [], [])
    d = np.zeros(DESCRIPTOR_FIELDS, dtype=np.uint64)
    s9 = lambda v: int(v) & 0x1FF  # noqa: E731
    d[0] = DESCRIPTOR_MAGIC
    d[1] = (
        int(geo.depthwise)
        | int(table) << 1
        | int(scheme in ("int8", "uniform")) << 2
        | int(in_spec.dtype == "int8") << 3
        | k << 4
        | b2 << 8
        | int(in_spec.bits) << 12
        | int(a.get("bias_shift", 0)) << 16
    )
    d[2] = geo.h | geo.w << 16
    d[3] = geo.c | geo.m << 16
    d[4] = geo.oh | geo.ow << 16
    d[5] = geo.kh | geo.kw << 4 | geo.sh << 8 | geo.sw << 12 | geo.pt << 16 | geo.pl << 20
    d[6] = s9(a.get("pad_value", in_spec.zero_point)) | s9(zp) << 16
    d[7] = s9(a["lo"]) | s9(a["hi"]) << 16
    d[8] = s9(in_spec.qmin)
    d[9] = batch
    d[10] = sum(e << (4 * i) for i, e in enumerate(t1))
    d[11] = sum(e << (4 * i) for i, e in enumerate(t2))
    if scheme == "plut":
        lev = np.zeros(16, np.uint64)
        levels = np.asarray(p["levels"], np.int64)[:16]
        lev[: levels.size] = levels
        for i in range(4):
            d[12 + i] = sum(int(lev[4 * i + j]) << (8 * j) for j in range(4))
    return d.astype(np.uint32)


def _lanes(a: np.ndarray, axis: int, p: int) -> np.ndarray:
    """Zero-pad ``axis`` to a multiple of ``p`` and split it into (groups, p)."""
    n = a.shape[axis]
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, (-n) % p)
    a = np.pad(a, pad)
    shape = (*a.shape[:axis], a.shape[axis] // p, p, *a.shape[axis + 1 :])
    return a.reshape(shape)


def weight_stream(layer: IntLayer, geo: LayerGeometry, cfg: OverlayConfig) -> np.ndarray:
    """The weight tiles as stream words (spec 9.3)."""
    p = layer.params
    k = int(layer.attrs.get("weight_bits", 8))
    src = p["weight"] if "weight" in p else p["weight_codes"]
    w = np.asarray(src, dtype=np.int64).reshape(geo.m, -1, geo.kh, geo.kw)  # (M, C/g, kh, kw)
    mask = (1 << k) - 1
    w = w & mask  # two's complement or codes, k bits
    if geo.depthwise:
        t = _lanes(w[:, 0], 0, cfg.p)  # (MG, P, kh, kw)
        t = t.transpose(0, 2, 3, 1)  # (MG, kh, kw, P)
        return _blocks(t, k, cfg.p, cfg.data_w)
    t = _lanes(_lanes(w, 0, cfg.p), 2, cfg.p)  # (MG, P, CG, P, kh, kw)
    t = t.transpose(0, 4, 5, 2, 1, 3)  # (MG, kh, kw, CG, P_out, P_in)
    return _blocks(t, k, cfg.p * cfg.p, cfg.data_w)


def requant_stream(layer: IntLayer, geo: LayerGeometry, cfg: OverlayConfig) -> np.ndarray:
    p = layer.params
    bias = np.asarray(p["bias"], np.int64) & 0xFFFFFFFF
    rec = bias | np.asarray(p["mult"], np.int64) << 32 | np.asarray(p["shift"], np.int64) << 48
    rec = np.broadcast_to(rec, (geo.m,))
    return _blocks(_lanes(rec, 0, cfg.p), 64, cfg.p, cfg.data_w)


def table_streams(layer: IntLayer, in_spec: TensorSpec, cfg: OverlayConfig) -> list[np.ndarray]:
    p = layer.params
    out = []
    if "table" in p:
        out.append(_blocks(np.asarray(p["table"], np.int64) & 0xFF, 8, 256, cfg.data_w))
    if cfg.pe_type == "plut-lutram":
        k = int(layer.attrs["weight_bits"])
        t = np.asarray(p["product_table"], np.int64)[: 1 << (k - 1), : 1 << in_spec.bits]
        out.append(_blocks(t.reshape(-1) & 0xFFFF, 16, t.size, cfg.data_w))
    return out


def activation_stream(x: np.ndarray, geo: LayerGeometry, cfg: OverlayConfig) -> np.ndarray:
    """Images (N, C, H, W) or (N, K) as stream words: per pixel, per channel group."""
    x = np.asarray(x).reshape(x.shape[0], geo.c, geo.h, geo.w)
    t = _lanes(np.moveaxis(x, 1, -1).astype(np.int64) & 0xFF, 3, cfg.p)  # (N,H,W,CG,P)
    return _blocks(t, 8, cfg.p, cfg.data_w)


def descriptor_words(
    layer: IntLayer,
    geo: LayerGeometry,
    in_spec: TensorSpec,
    out_spec: TensorSpec,
    batch: int,
    cfg: OverlayConfig,
) -> np.ndarray:
    """Section 1 of the packet: the descriptor as stream words."""
    if not 1 <= batch < 1 << 16:
        raise ValueError(f"batch {batch} out of range 1..65535")
    return _blocks(descriptor(layer, geo, in_spec, out_spec, batch), 32, 16, cfg.data_w)


def parameter_words(
    layer: IntLayer, geo: LayerGeometry, in_spec: TensorSpec, cfg: OverlayConfig
) -> np.ndarray:
    """Sections 2-5 of the packet (requant, tables, weights): fixed per layer, so an
    artifact stores them once."""
    return np.concatenate(
        [
            requant_stream(layer, geo, cfg),
            *table_streams(layer, in_spec, cfg),
            weight_stream(layer, geo, cfg),
        ]
    )


def layer_packet(
    layer: IntLayer,
    x: np.ndarray,
    in_spec: TensorSpec,
    out_spec: TensorSpec,
    cfg: OverlayConfig,
) -> tuple[np.ndarray, LayerGeometry]:
    """The whole input packet of one run on a batch ``x`` of input codes, as uint64
    words (a 128-bit word is two of them, low first), and the layer geometry."""
    geo = check_supported(layer, in_spec, (1, *x.shape[1:]), cfg)
    parts = [
        descriptor_words(layer, geo, in_spec, out_spec, x.shape[0], cfg),
        parameter_words(layer, geo, in_spec, cfg),
        activation_stream(x, geo, cfg),
    ]
    return np.concatenate(parts), geo


def activation_words(geo: LayerGeometry, batch: int, cfg: OverlayConfig) -> int:
    """Number of 64-bit words of the activation section (section 6) for ``batch`` images."""
    per_block = _ceil(cfg.p * 8, cfg.data_w) * cfg.data_w // 64
    return batch * geo.h * geo.w * _ceil(geo.c, cfg.p) * per_block


def output_words(geo: LayerGeometry, batch: int, cfg: OverlayConfig) -> int:
    """Number of 64-bit words of the output packet."""
    per_group = _ceil(cfg.p * 8, cfg.data_w) * cfg.data_w // 64
    return batch * geo.oh * geo.ow * _ceil(geo.m, cfg.p) * per_group


def parse_output(
    words: np.ndarray, geo: LayerGeometry, batch: int, out_spec: TensorSpec, cfg: OverlayConfig
) -> np.ndarray:
    """Output packet words to codes (N, M, OH, OW) (or (N, M) for a 1x1 FC output)."""
    mg = _ceil(geo.m, cfg.p)
    per_group = _ceil(cfg.p * 8, cfg.data_w) * cfg.data_w // 8
    raw = np.asarray(words, dtype="<u8").view(np.uint8)
    raw = raw.reshape(batch, geo.oh, geo.ow, mg, per_group)[..., : cfg.p]
    codes = raw.reshape(batch, geo.oh, geo.ow, mg * cfg.p)[..., : geo.m]
    codes = codes.view(np.int8) if out_spec.dtype == "int8" else codes
    return np.ascontiguousarray(np.moveaxis(codes, -1, 1)).astype(out_spec.np_dtype)


def cycle_model(
    geo: LayerGeometry,
    batch: int,
    cfg: OverlayConfig,
    table: bool,
    k: int,
    abits: int = 0,
) -> dict[str, int]:
    """Analytic cycles of one run (spec 9.6): the loader moves one word per cycle, the
    array does one P x P step per cycle, output groups drain at one word per cycle, and
    image i+1 loads into the second activation bank while image i computes."""
    dw = cfg.data_w
    cg, mg = _ceil(geo.c, cfg.p), _ceil(geo.m, cfg.p)
    cgw = 1 if geo.depthwise else cg
    taps = geo.kh * geo.kw
    nwo = _ceil(cfg.p * 8, dw)
    wblk = _ceil((cfg.p if geo.depthwise else cfg.p * cfg.p) * k, dw)
    load = _ceil(512, dw) + 1 + mg * _ceil(cfg.p * 64, dw) + mg * taps * cgw * wblk
    if table:
        load += 2048 // dw
    if cfg.pe_type == "plut-lutram":
        entries = 1 << (k - 1 + abits)
        load += _ceil(entries * 16, dw) + entries
    act = activation_words(geo, 1, cfg) * 64 // dw
    compute = geo.oh * geo.ow * mg * max(taps * cgw, nwo) + 12
    total = load + act + 1 + (batch - 1) * (max(compute - 5, act) + 1) + compute + 3
    return {
        "load": load,
        "act": act * batch,
        "compute": compute * batch,
        "total": total,
        "ideal": _ceil(geo.macs, cfg.macs_per_cycle) * batch,
    }
