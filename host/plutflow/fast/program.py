"""Whole-network execution: the plan's steps lowered into one program of integer rows that
a single compiled function runs (docs/fast.md section 5).

A :class:`Program` is built per input shape. Each fast step of the plan lowers itself
(``Step.lower``) into rows ``[op, out, out_size, in_a, in_b, args...]`` of an int64 table;
activations live in numbered slots of a typed list of uint8 buffers, and constants
(packed weights, epilogue vectors, tap offsets, tables) in typed lists indexed from the
rows. :func:`execute_vnni` / :func:`execute_generic` run the rows in a loop without
returning to Python: no per-layer dispatch, allocation by the compiled code, and a slot
freed right after its last reader. The program covers the plan's longest prefix of steps
that can lower; the rest run step by step (:class:`~plutflow.fast.plan.Env`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numba import njit, types
from numba.core import caching
from numba.typed import List

from plutflow.fast import kernels as fk
from plutflow.fast import tiles

# opcodes (column 0 of a row)
PAD_NCHW, PAD_NHWC, GEMM, LUT, DW, MAXPOOL, AVGPOOL = 1, 2, 3, 4, 5, 6, 7
GLOBAL_POOL, ADD, MUL, REQUANT_INTO, TABLE, FLATTEN, SOFTMAX, FREE = 8, 9, 10, 11, 12, 13, 14, 15
#: columns of a row: op, out slot, bytes to allocate for it (0: none), two input slots, args
WIDTH = 26
HEADER = 5


class Lowering:
    """What a step's ``lower`` writes into: shapes, slots, constants and rows."""

    def __init__(self) -> None:
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.slots: dict[str, int] = {}
        self.sizes: dict[str, int] = {}
        self.rows: list[list[int]] = []
        #: model input -> the slot its golden-layout codes are placed in
        self.inputs: dict[str, int] = {}
        self.last_use: dict[int, int] = {}
        self.n_slots = 0
        self.consts: dict[str, list[np.ndarray]] = {k: [] for k in _CONST_TYPES}

    # ------------------------------------------------------------------ tensors
    def nhwc(self, name: str) -> tuple[int, ...]:
        """The engine-layout shape of a tensor already in the program."""
        return self.shapes[name]

    def has(self, name: str) -> bool:
        return name in self.slots

    def src(self, name: str) -> int:
        """The slot of an input tensor (read by the row emitted next)."""
        slot = self.slots[name]
        self.last_use[slot] = len(self.rows)
        return slot

    def _new_slot(self) -> int:
        self.n_slots += 1
        return self.n_slots - 1

    def out(self, name: str, shape: tuple[int, ...]) -> int:
        """A new slot for tensor ``name`` of ``shape`` (the row that fills it says how many
        bytes to allocate: at least the tensor's)."""
        slot = self._new_slot()
        self.slots[name], self.shapes[name] = slot, tuple(shape)
        self.sizes[name] = int(np.prod(shape))
        self.last_use[slot] = len(self.rows)
        return slot

    def alias(self, name: str, shape: tuple[int, ...], of: str) -> None:
        """``name`` is a view of ``of`` (same bytes, another shape)."""
        self.slots[name], self.shapes[name] = self.slots[of], tuple(shape)
        self.sizes[name] = int(np.prod(shape))

    def temp(self) -> int:
        """A slot for a buffer only the step's own rows use (freed after them)."""
        slot = self._new_slot()
        self.last_use[slot] = len(self.rows)
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
    def emit(self, op: int, out: int, out_size: int, ins: tuple[int, ...], args) -> None:
        """Append a row; ``ins`` are slots from :meth:`src` (at most two)."""
        ins = (*ins, -1, -1)[:2]
        row = [op, out, out_size, *ins, *(int(a) for a in args)]
        if len(row) > WIDTH:
            raise ValueError(f"row of {len(row)} columns (at most {WIDTH})")
        for slot in (out, *ins):
            if slot >= 0:
                self.last_use[slot] = len(self.rows)
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


class Program:
    """The lowered prefix of a plan for one input shape, and its compiled runner."""

    def __init__(self, lw: Lowering, exports: list[str], n_steps: int, path: str) -> None:
        self.n_steps, self.inputs, self.exports = n_steps, dict(lw.inputs), exports
        self.shapes, self.sizes, self.slots = lw.shapes, lw.sizes, lw.slots
        kept = {lw.slots[name] for name in exports}
        frees: dict[int, list[int]] = {}
        for slot, last in lw.last_use.items():
            if slot not in kept:
                frees.setdefault(last, []).append(slot)
        rows = []
        for i, row in enumerate(lw.rows):
            rows.append(row)
            rows.extend([FREE, s, 0, -1, -1] + [0] * (WIDTH - HEADER) for s in frees.get(i, ()))
        self.code = np.array(rows, np.int64).reshape(-1, WIDTH)
        _check_liveness(self.code, set(self.inputs.values()))
        self.consts = [
            _typed_list(lw.consts[k], _NB_TYPES[k], _CONST_TYPES[k][1]) for k in _CONST_TYPES
        ]
        self.bufs = _typed_list([_EMPTY] * lw.n_slots, types.uint8, 1)
        self.execute = execute_vnni if path == "vnni512" else execute_generic

    def run(self, golden: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run on the inputs' golden-layout codes; the exported tensors, engine layout."""
        for name, slot in self.inputs.items():
            self.bufs[slot] = np.ascontiguousarray(golden[name]).view(np.uint8).reshape(-1)
        self.execute(self.code, self.bufs, *self.consts)
        return {
            name: self.bufs[self.slots[name]][: self.sizes[name]].reshape(self.shapes[name])
            for name in self.exports
        }


_EMPTY = np.empty(0, np.uint8)


def _check_liveness(code: np.ndarray, inputs: set[int]) -> None:
    """Every slot a row reads or writes in place holds a buffer then (the kernels do not
    check bounds, so a lowering bug must fail here, not read freed memory)."""
    live = set(inputs)
    for k, row in enumerate(code):
        op, out, size, *ins = (int(v) for v in row[:HEADER])
        if op == FREE:
            live.discard(out)
            continue
        if size > 0:
            live.add(out)
        missing = [s for s in (out, *ins) if s >= 0 and s not in live]
        if missing:
            raise AssertionError(f"program row {k} (op {op}) uses unfilled slots {missing}")


# ---------------------------------------------------------------------- the runner
@njit(inline="always", nogil=True)
def _execute(code, bufs, i8s, i64s, i64m, i16m, u8m, gemm):
    empty = np.empty(0, np.uint8)
    for k in range(code.shape[0]):
        p = code[k]
        op, o = p[0], p[1]
        if op == FREE:
            bufs[o] = empty
            continue
        if p[2] > 0:
            bufs[o] = np.empty(p[2], np.uint8)
        y, x, a = bufs[o], bufs[p[3]], p[HEADER:]
        if op == PAD_NCHW:
            fk.pad_nchw(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], y)
        elif op == PAD_NHWC:
            fk.pad_nhwc(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], y)
        elif op == GEMM:
            gemm(a[0], a[1], a[2], x, a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10],
                 i64s[a[11]], a[12], i8s[a[13]], a[14], a[15], i64m[a[16]], i64s[a[17]], a[18],
                 a[19], a[20], y)  # fmt: skip
        elif op == LUT:
            fk.lookup_channels(y[: a[1]], u8m[a[0]])
        elif op == DW:
            tiles.depthwise(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], i64s[a[8]],
                            i16m[a[9]], i64m[a[10]], i64s[a[11]], y)  # fmt: skip
        elif op == MAXPOOL:
            fk.max_pool(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], i64s[a[8]], y)
        elif op == AVGPOOL:
            fk.avg_pool(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], i64s[a[8]], a[9],
                        i64s[a[10]], a[11], a[12], a[13], a[14], a[15], y)  # fmt: skip
        elif op == GLOBAL_POOL:
            fk.global_pool(x, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], y)
        elif op == ADD:
            n = a[0]
            fk.add(x[:n], bufs[p[4]][:n], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                   a[9], y[:n])  # fmt: skip
        elif op == MUL:
            fk.mul(x, bufs[p[4]], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9],
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


@njit(nogil=True)
def execute_vnni(code, bufs, i8s, i64s, i64m, i16m, u8m):
    """Run a program's rows with the AVX-512 VNNI GEMM tiles."""
    _execute(code, bufs, i8s, i64s, i64m, i16m, u8m, tiles.conv_gemm_vnni)


@njit(nogil=True)
def execute_generic(code, bufs, i8s, i64s, i64m, i16m, u8m):
    """Run a program's rows with the portable GEMM tiles."""
    _execute(code, bufs, i8s, i64s, i64m, i16m, u8m, tiles.conv_gemm_generic)


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
