"""The overlay's cycle model: how long a program takes, descriptor by descriptor
(``docs/spec.md`` 9.8).

The engine is three stages in a pipeline (``overlay_src/rtl/pf_engine.v``): the loader
fetches descriptor j+1, checks it and loads its operands while the compute stage runs
descriptor j, and the store path writes outputs as they leave the datapath. This model
follows that schedule with the memory model of the simulator (a fixed read latency and
a beat efficiency) and the engine's fixed costs, which are measured on the RTL and kept in
:data:`ENGINE`. ``tests/test_cycles.py`` checks it against the simulated RTL; the
benchmark reports the ratio on whole networks.

What it leaves out: write back-pressure (the writer keeps up with one output beat per
cycle) and the exact interleaving of padding words with memory beats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from plutflow.overlay.config import OverlayConfig
from plutflow.overlay.emulator import Emulator
from plutflow.overlay.program import DESC_BYTES, Descriptor

#: Fixed costs of the engine in cycles, measured on the RTL (see the module docstring).
ENGINE: dict[str, int] = {
    "start": 5,  # ap_start to the first descriptor request
    "fetch": 2,  # request, FIFO and hand-over around the descriptor's read burst
    "check": 43,  # decode, 18 products through the multiplier, the checks, the hazard wait
    "burst": 4,  # cycles per read burst the splitter needs to issue it
    "load": 7,  # generator (started a cycle after the consumer), FIFO and mover around a load
    "hand": 12,  # loader to compute stage, sequencer setup
    "pipe": 44,  # a tile's last step to its last output, with a two-stage adder tree
    "done": 1,  # the last write response to ap_done
}
MAX_BURST = 256  # beats; bursts also stop at 4 KB pages
#: The PE array's adder trees (overlay_src/rtl/pf_tree.vh, set in pf_datapath.v): levels
#: per pipeline stage, and the last level in a stage of its own for trees of 4+ levels.
TREE_LPS, TREE_SPLIT = 2, True


def tree_stages(p: int) -> int:
    """Pipeline stages of a P-input adder tree (the mirror of ``pf_tree_stages``)."""
    levels = max(p - 1, 0).bit_length()
    if levels == 0:
        return 1
    return sum(
        1
        for lv in range(1, levels + 1)
        if lv % TREE_LPS == 0 or lv == levels or (TREE_SPLIT and levels >= 4 and lv == levels - 1)
    )


@dataclass
class MemoryModel:
    """The memory the overlay reads: read ``latency`` in cycles and the fraction of cycles
    a beat can move (``1 - gap / 1000`` of the simulator)."""

    latency: int = 40
    efficiency: float = 1.0

    @classmethod
    def of_sim(cls, latency: int, gap: int) -> MemoryModel:
        return cls(latency, 1.0 - gap / 1000.0)


#: The KV260 as the benchmarks model it: the overlay's 128-bit master on one HP port at
#: 250 MHz (4 GB/s peak) into the PS DDR4 (64-bit, 2400 MT/s, 19.2 GB/s shared with the
#: CPUs); 75 % of the port's peak sustained (3 GB/s) and a 256 ns (64-cycle) read latency.
KV260 = MemoryModel(latency=64, efficiency=0.75)


@dataclass
class DescriptorCost:
    """The modelled work of one descriptor."""

    kind: str
    note: str
    steps: int  # compute-stage steps (one array operation each)
    read_beats: int  # beats read from memory (parameters and operands)
    pad_words: int  # operand-A padding words the loader writes itself
    bursts: int
    out_beats: int  # beats written
    macs: int  # useful multiply-accumulates (lanes that carry a channel count as P)


@dataclass
class Estimate:
    """A program's modelled cycles, in total and per layer (``Descriptor.layer``)."""

    cycles: int
    per_descriptor: list[int] = field(default_factory=list)
    per_layer: dict[str, int] = field(default_factory=dict)
    costs: list[DescriptorCost] = field(default_factory=list)


def _bursts(offset: int, beats: int, p: int) -> int:
    """Bursts the splitter makes of one run (4 KB pages, at most MAX_BURST beats)."""
    n, off = 0, offset
    left = beats
    while left > 0:
        page = (4096 - off % 4096) // p
        take = min(left, page, MAX_BURST)
        n += 1
        left -= take
        off += take * p
    return n


def descriptor_cost(d: Descriptor, cfg: OverlayConfig) -> DescriptorCost:
    """Steps, memory beats and runs of one descriptor."""
    p = cfg.p
    oh, ow, omg, icg = d["OH"], d["OW"], d["OMG"], d["ICG"]
    kh, kw = d["KH"], d["KW"]
    cgn = icg if d.kind == "CONV" else 1
    steps = oh * ow * omg * kh * kw * cgn
    reads = pads = bursts = 0
    if d.has("LOAD_W"):
        beats = Emulator.param_beats(d)
        reads += beats
        bursts += _bursts(d["W_ADDR"], beats, p)
    if d.has("LOAD_A") and d["A_ROWS"]:
        rows, cols = d["A_ROWS"], d["A_COLS"]
        reads += rows * cols * icg
        pads += (d["IH"] * d["IW"] - rows * cols) * icg
        if d["A_PS"] == icg * p:  # a row is one run
            bursts += sum(_bursts(d["A_ADDR"] + r * d["A_RS"], cols * icg, p) for r in range(rows))
        else:
            bursts += rows * cols * _bursts(d["A_ADDR"], icg, p)
    if d.has("LOAD_B"):
        if d.has("B_BCAST"):
            reads += omg
            bursts += _bursts(d["B_ADDR"], omg, p)
        else:
            reads += oh * ow * omg
            runs = oh if d["B_PS"] == omg * p else oh * ow
            bursts += runs * max(1, _bursts(d["B_ADDR"], (ow if runs == oh else 1) * omg, p))
    out = oh * ow * omg if d.has("PSUM_LAST") else 0
    macs = steps * p * (p if d.kind == "CONV" else 1)
    return DescriptorCost(d.kind, d.note, steps, reads, pads, bursts, out, macs)


def estimate(
    descriptors: Sequence[Descriptor],
    cfg: OverlayConfig,
    memory: MemoryModel | None = None,
    engine: dict[str, int] | None = None,
) -> Estimate:
    """Modelled cycles of one overlay run of ``descriptors`` (ap_start to ap_done)."""
    mem = memory or MemoryModel()
    e = {**ENGINE, **(engine or {})}
    p = cfg.p
    lat, eff = mem.latency, max(mem.efficiency, 1e-3)
    desc_beats = DESC_BYTES // p
    est = Estimate(0)
    loader = e["start"]  # when the loader may fetch the next descriptor
    compute_done = e["start"]  # when the compute stage is free
    store_done = 0  # every output so far acknowledged
    bank_busy: dict[tuple[str, int], int] = {}  # buffer bank -> when its reader finishes
    prev_done = 0
    for d in descriptors:
        c = descriptor_cost(d, cfg)
        est.costs.append(c)
        fetched = loader + e["fetch"] + lat + desc_beats / eff
        ready = fetched + e["check"]
        # hazards: a BARRIER waits for every output; a bank is not overwritten while read
        if d.has("BARRIER"):
            ready = max(ready, store_done, compute_done)
        ab = int(d.has("ABANK"))
        if d.has("LOAD_A"):
            ready = max(ready, bank_busy.get(("a", ab), 0))
        if d.has("LOAD_B"):
            ready = max(ready, bank_busy.get(("a", 1 - ab), 0))
        if d.has("LOAD_W"):
            ready = max(ready, bank_busy.get(("w", int(d.has("WBANK"))), 0))
        mem_time = (lat + max(c.read_beats / eff, e["burst"] * c.bursts)) if c.read_beats else 0
        load = e["load"] + max(mem_time, c.read_beats + c.pad_words)
        loaded = ready + load
        start = max(loaded, compute_done) + e["hand"]
        done = start + c.steps + e["pipe"] + tree_stages(p) - 2
        # the next descriptor is fetched once this one is handed over
        loader = start
        compute_done = done
        if c.out_beats:
            store_done = max(store_done, done + lat // 2 + 2)
        bank_busy[("a", ab)] = done
        if d.kind in ("ADD", "MUL"):
            bank_busy[("a", 1 - ab)] = done
        if d.kind == "CONV" or d.has("LOAD_W"):
            bank_busy[("w", int(d.has("WBANK")))] = done
        cyc = round(max(done, store_done) - prev_done)
        est.per_descriptor.append(cyc)
        est.per_layer[d.layer] = est.per_layer.get(d.layer, 0) + cyc
        prev_done = max(done, store_done)
    est.cycles = round(max(compute_done, store_done) + e["done"])
    return est


def program_estimate(prog, cfg: OverlayConfig, memory: MemoryModel | None = None) -> Estimate:
    """Modelled cycles of every overlay run of a compiled :class:`Program` (one run per
    overlay segment), summed, with the cycles of each layer."""
    total = Estimate(0)
    for seg in prog.segments:
        if seg.kind != "overlay":
            continue
        e = estimate(prog.descriptors[seg.first : seg.first + seg.count], cfg, memory)
        total.cycles += e.cycles
        total.per_descriptor += e.per_descriptor
        total.costs += e.costs
        for k, v in e.per_layer.items():
            total.per_layer[k] = total.per_layer.get(k, 0) + v
    return total
