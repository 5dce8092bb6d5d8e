"""Whole-network execution: the plan's steps lowered into one program of integer rows that
a single compiled function runs (docs/fast.md section 5).

A :class:`Program` is built per input shape. Each fast step of the plan lowers itself
(``Step.lower``) into rows ``[op, out, in_a, in_b, args...]`` of an int64 table over
numbered slots (tensors and temporaries); constants (packed weights, epilogue vectors,
tap offsets, tables) sit in typed lists indexed from the rows. When the program is built
its slots are placed in buffers that it keeps between runs (slots whose lifetimes do not
overlap share one). A tensor that its only reader wants padded is written by its
producer into the interior of a padded buffer whose border a row fills first, so no
padding copy runs. :func:`execute_vnni` / :func:`execute_generic` then run the rows in a loop
without returning to Python. The program covers the plan's longest prefix of steps that
can lower; the rest run step by step (:class:`~plutflow.fast.plan.Env`).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from numba import njit, types
from numba.core import caching
from numba.typed import List

from plutflow.fast import kernels as fk
from plutflow.fast import tiles

# opcodes (column 0 of a row)
PAD_NCHW, PAD_NHWC, GEMM, LUT, DW, MAXPOOL, AVGPOOL = 1, 2, 3, 4, 5, 6, 7
GLOBAL_POOL, ADD, MUL, REQUANT_INTO, TABLE, FLATTEN, SOFTMAX, BORDER = 8, 9, 10, 11, 12, 13, 14, 15
#: columns of a row: op, out slot, two input slots (-1: none), then the op's arguments
WIDTH = 28
HEADER = 4

#: the buffer number of a program's single input (passed to the runner as an argument)
INPUT = -2
#: a padded layout: (pad code byte, padded height, padded width, top, left, channel stride)
Layout = tuple[int, int, int, int, int, int]


class Lowering:
    """What a step's ``lower`` writes into: shapes, slots, layouts, constants and rows.

    ``want(name, shape)`` (set by the executor) is the padded layout the only reader of
    tensor ``name`` would take, or None.
    """

    def __init__(self, want: Callable[[str, tuple[int, ...]], Layout | None] | None = None):
        self.want = want or (lambda name, shape: None)
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.slots: dict[str, int] = {}
        self.padded: dict[str, Layout] = {}
        self.rows: list[list[int]] = []
        #: bytes per slot
        self.size: list[int] = []
        #: model input -> the slot its golden-layout codes are placed in
        self.inputs: dict[str, int] = {}
        self.consts: dict[str, list[np.ndarray]] = {k: [] for k in _CONST_TYPES}

    # ------------------------------------------------------------------ tensors
    def nhwc(self, name: str) -> tuple[int, ...]:
        """The engine-layout shape of a tensor already in the program."""
        return self.shapes[name]

    def has(self, name: str) -> bool:
        return name in self.slots

    def src(self, name: str) -> int:
        """The slot of an input tensor."""
        return self.slots[name]

    def _new_slot(self, size: int) -> int:
        self.size.append(int(size))
        return len(self.size) - 1

    def out(self, name: str, shape: tuple[int, ...]) -> int:
        """A new slot holding tensor ``name`` of ``shape``, plain layout."""
        slot = self._new_slot(int(np.prod(shape)))
        self.slots[name], self.shapes[name] = slot, tuple(shape)
        return slot

    def out_layout(self, name: str, shape: tuple[int, ...], fills_all: bool = False
                   ) -> tuple[int, tuple[int, ...]]:  # fmt: skip
        """A new slot for an (N, H, W, C) tensor its producer can write in any layout: the
        one its reader wants (:attr:`want`; its border is filled by a row emitted here),
        else plain. Returns the slot and the layout as the kernels take it: (height,
        width, top, left, channel stride). A producer that ``fills_all`` writes the whole
        buffer itself (no border row; channel padding allowed)."""
        n, h, w, c = shape
        lay = self.want(name, tuple(shape))
        if lay is None or (lay[5] != c and not fills_all):  # (channel padding: unfilled)
            return self.out(name, shape), (h, w, 0, 0, c)
        value, hp, wp, pt, pl, cp = lay
        slot = self._new_slot(n * hp * wp * cp)
        self.slots[name], self.shapes[name], self.padded[name] = slot, tuple(shape), lay
        if not fills_all:
            self.emit(BORDER, slot, (), (n, h, w, hp, wp, pt, pl, c, value))
        return slot, (hp, wp, pt, pl, cp)

    def alias(self, name: str, shape: tuple[int, ...], of: str) -> None:
        """``name`` is a view of ``of`` (same bytes, another shape; plain layout)."""
        self.slots[name], self.shapes[name] = self.slots[of], tuple(shape)

    def temp(self, size: int) -> int:
        """A slot of ``size`` bytes for a buffer only the step's own rows use."""
        return self._new_slot(size)

    def input(self, name: str, size: int) -> int:
        """The slot a model input's golden-layout codes are placed in at each run."""
        slot = self._new_slot(size)
        self.inputs[name] = slot
        return slot

    # ------------------------------------------------------------------ constants
    def const(self, kind: str, arr: np.ndarray) -> int:
        """The index of ``arr`` in the constant list ``kind`` (see :data:`_CONST_TYPES`)."""
        dtype, ndim = _CONST_TYPES[kind]
        arr = np.ascontiguousarray(arr, dtype)
        if not arr.flags.writeable:  # a broadcast view: numba's lists hold writable arrays
            arr = arr.copy()
        if arr.ndim != ndim:
            raise ValueError(f"constant of kind {kind} must be {ndim}-D")
        self.consts[kind].append(arr)
        return len(self.consts[kind]) - 1

    # ------------------------------------------------------------------ rows
    def emit(self, op: int, out: int, ins: tuple[int, ...], args) -> None:
        """Append a row writing slot ``out`` and reading ``ins`` (at most two slots)."""
        ins = (*ins, -1, -1)[:2]
        row = [op, out, *ins, *(int(a) for a in args)]
        if len(row) > WIDTH:
            raise ValueError(f"row of {len(row)} columns (at most {WIDTH})")
        self.rows.append(row + [0] * (WIDTH - len(row)))


#: constant lists: kind -> (dtype, dimensions)
_CONST_TYPES = {
    "i8": (np.int8, 1),
    "i64": (np.int64, 1),
    "i64m": (np.int64, 2),
    "i16m": (np.int16, 2),
    "u8m": (np.uint8, 2),
}
_NB_TYPES = {"i8": types.int8, "i64": types.int64, "i16m": types.int16, "u8m": types.uint8,
             "i64m": types.int64}  # fmt: skip


def _typed_list(arrays: list[np.ndarray], dtype, ndim: int) -> List:
    out = List.empty_list(types.Array(dtype, ndim, "C"))
    for a in arrays:
        out.append(a)
    return out


def place(lw: Lowering, exports: list[str]) -> tuple[np.ndarray, list[np.ndarray], dict]:
    """Slots into buffers: the rows rewritten to buffer numbers, the buffers (inputs'
    entries empty, filled at each run) and each slot's buffer. A slot lives from its
    first row to its last (to the end when exported); slots whose lives do not overlap
    share a buffer, the one freed last first (likely still in cache)."""
    n_rows = len(lw.rows)
    first, last = {}, {}
    for k, row in enumerate(lw.rows):
        for slot in (row[1], row[2], row[3]):
            if slot >= 0:
                first.setdefault(slot, k)
                last[slot] = k
    for name in exports:
        last[lw.slots[name]] = n_rows
    inputs = set(lw.inputs.values())
    where: dict[int, int] = {}
    sizes: list[int] = []
    free_at: list[int] = []  # per buffer: the row after which it is free
    for slot in sorted(first, key=first.get):
        if slot in inputs:  # a buffer of its own, set at each run
            where[slot] = len(sizes)
            sizes.append(-1)
            free_at.append(n_rows + 1)
            continue
        free = [b for b in range(len(sizes)) if sizes[b] >= 0 and free_at[b] < first[slot]]
        fits = [b for b in free if sizes[b] >= lw.size[slot]]
        b = max(fits or free, key=lambda i: free_at[i], default=None)
        if b is None:
            b = len(sizes)
            sizes.append(0)
            free_at.append(0)
        sizes[b] = max(sizes[b], lw.size[slot])
        free_at[b] = last[slot]
        where[slot] = b
    code = np.array(lw.rows, np.int64).reshape(-1, WIDTH)
    for col in (1, 2, 3):
        code[:, col] = [where.get(int(s), -1) if s >= 0 else -1 for s in code[:, col]]
    bufs = [_EMPTY if n < 0 else np.empty(n, np.uint8) for n in sizes]
    check_placement(lw.rows, where, {s: lw.size[s] for s in where}, [b.size for b in bufs],
                    inputs)  # fmt: skip
    return code, bufs, where


def check_placement(rows, where, sizes, buf_sizes, inputs) -> None:
    """Every row reads the slot it names, not another one placed in the same buffer since
    (the kernels do not check bounds or ownership, so a placement bug must fail here)."""
    owner = {where[s]: s for s in inputs}
    written = set(inputs)
    for k, row in enumerate(rows):
        out, *ins = (int(v) for v in row[1:HEADER])
        for slot in (*(s for s in ins if s >= 0), *([out] if out in written else [])):
            held = owner.get(where[slot])
            if held != slot:
                raise AssertionError(
                    f"program row {k} (op {row[0]}) reads slot {slot}, whose buffer holds {held}"
                )
        owner[where[out]] = out
        written.add(out)
    for slot, b in where.items():
        if slot not in inputs and sizes[slot] > buf_sizes[b]:
            raise AssertionError(f"slot {slot} ({sizes[slot]} bytes) in a smaller buffer")


class Program:
    """The lowered prefix of a plan for one input shape, its buffers and its runner."""

    def __init__(self, lw: Lowering, exports: list[str], n_steps: int, path: str) -> None:
        self.n_steps, self.exports = n_steps, exports
        self.shapes, self.padded = lw.shapes, lw.padded
        self.code, bufs, where = place(lw, exports)
        self.inputs = {name: where[slot] for name, slot in lw.inputs.items()}
        #: a single input is passed to the runner as an argument (buffer number -2)
        self._single = None
        if len(self.inputs) == 1:
            ((self._single, b),) = self.inputs.items()
            self.code[:, 1:HEADER][self.code[:, 1:HEADER] == b] = INPUT
            self.inputs = {}
        self.consts = [
            _typed_list(lw.consts[k], _NB_TYPES[k], _CONST_TYPES[k][1]) for k in _CONST_TYPES
        ]
        self._arrays = bufs  # the same memory as the runner's list, read without numba
        self.bufs = _typed_list(bufs, types.uint8, 1)
        self._exports = [(name, where[lw.slots[name]], lw.shapes[name], lw.padded.get(name))
                         for name in exports]  # fmt: skip
        self.execute = execute_vnni if path == "vnni512" else execute_generic
        self._lock = threading.Lock()

    def run(self, golden: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run on the inputs' golden-layout codes; the exported tensors (copies), engine
        layout. Runs of one program take turns (they share its buffers)."""
        inp = _EMPTY
        if self._single is not None:
            inp = np.ascontiguousarray(golden[self._single]).view(np.uint8).reshape(-1)
        with self._lock:
            for name, b in self.inputs.items():
                self.bufs[b] = np.ascontiguousarray(golden[name]).view(np.uint8).reshape(-1)
            self.execute(self.code, self.bufs, inp, *self.consts)
            return {name: _export(self._arrays[b], shape, lay)
                    for name, b, shape, lay in self._exports}  # fmt: skip


def _export(buf: np.ndarray, shape: tuple[int, ...], lay: Layout | None) -> np.ndarray:
    """A copy of a tensor of ``shape`` held in ``buf`` (plain, or in padded layout)."""
    if lay is None:
        return buf[: math.prod(shape)].reshape(shape).copy()
    n, h, w, c = shape
    _, hp, wp, pt, pl, cp = lay
    full = buf[: n * hp * wp * cp].reshape(n, hp, wp, cp)
    return np.ascontiguousarray(full[:, pt : pt + h, pl : pl + w, :c])


_EMPTY = np.empty(0, np.uint8)


# ---------------------------------------------------------------------- the runner
@njit(inline="always", nogil=True)
def _execute(code, bufs, inp, i8s, i64s, i64m, i16m, u8m, gemm, depthwise):
    for k in range(code.shape[0]):
        p = code[k]
        op, y, a = p[0], bufs[p[1]], p[HEADER:]
        x = inp if p[2] == INPUT else bufs[p[2]]
        if op == PAD_NCHW:
            fk.pad_nchw(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], y)
        elif op == PAD_NHWC:
            fk.pad_nhwc(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], y)
        elif op == GEMM:
            gemm(a[0], a[1], a[2], x, a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10],
                 i64s[a[11]], a[12], i8s[a[13]], a[14], a[15], i64m[a[16]], i64s[a[17]], a[18],
                 a[19], y, i64s[a[20]])  # fmt: skip
        elif op == LUT:
            fk.lookup_channels(y[: a[1]], u8m[a[0]])
        elif op == DW:
            depthwise(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], i64s[a[8]], i16m[a[9]],
                      i64m[a[10]], i64s[a[11]], y, i64s[a[12]])  # fmt: skip
        elif op == MAXPOOL:
            fk.max_pool(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], i64s[a[8]], y)
        elif op == AVGPOOL:
            fk.avg_pool(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], i64s[a[8]], a[9],
                        i64s[a[10]], a[11], a[12], a[13], a[14], a[15], y)  # fmt: skip
        elif op == GLOBAL_POOL:
            fk.global_pool(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], y)
        elif op == ADD:
            n = a[0]
            fk.add(x[:n], bufs[p[3]][:n], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                   a[9], y[:n])  # fmt: skip
        elif op == MUL:
            fk.mul(x, bufs[p[3]], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9],
                   a[10], a[11], a[12], y)  # fmt: skip
        elif op == REQUANT_INTO:
            fk.requant_into(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], y, a[9],
                            a[10])  # fmt: skip
        elif op == TABLE:
            fk.lookup_into(x[: a[0]], u8m[a[1]], y[: a[0]])
        elif op == FLATTEN:
            fk.nhwc_to_nchw(x, a[0], a[1], a[2], y)
        elif op == SOFTMAX:
            fk.softmax(x, a[0], a[1], i64s[a[2]], a[3], y)
        elif op == BORDER:
            fk.fill_border(y, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])


@njit(nogil=True)
def execute_vnni(code, bufs, inp, i8s, i64s, i64m, i16m, u8m):
    """Run a program's rows with the AVX-512 VNNI GEMM tiles (``inp``: the single input)."""
    _execute(
        code, bufs, inp, i8s, i64s, i64m, i16m, u8m, tiles.conv_gemm_vnni, tiles.depthwise_avx512
    )


@njit(nogil=True)
def execute_generic(code, bufs, inp, i8s, i64s, i64m, i16m, u8m):
    """Run a program's rows with the portable GEMM tiles."""
    _execute(code, bufs, inp, i8s, i64s, i64m, i16m, u8m, tiles.conv_gemm_generic, tiles.depthwise)


# ---------------------------------------------------------------------- caching
#: the files whose compiled code the runners contain: a change to any recompiles them
_SOURCES = (Path(fk.__file__), Path(tiles.__file__), Path(__file__))


class _BundleStamp:
    """A source stamp over every file the runners link (numba's own stamp covers only the
    runner's file, so a changed kernel would load stale code)."""

    def get_source_stamp(self):
        digest = hashlib.sha256()
        for path in _SOURCES:
            digest.update(path.read_bytes())
        return digest.hexdigest()


_LOCATORS = [
    type(f"Bundle{cls.__name__}", (_BundleStamp, cls), {})
    for cls in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                caching.UserWideCacheLocator)
]  # fmt: skip


class _BundleCacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = _LOCATORS


class _BundleCache(caching.FunctionCache):
    _impl_class = _BundleCacheImpl


for _runner in (execute_vnni, execute_generic):
    _runner._cache = _BundleCache(_runner.py_func)
