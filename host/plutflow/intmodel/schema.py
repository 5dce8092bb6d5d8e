"""The declared schema of every integer op (docs/spec.md section 3), and the check of a
model against it.

Each op lists its attributes (with the ranges docs/spec.md allows), its parameters (dtype
kind, shape relative to the layer, value range) and how many inputs it reads.
:func:`validate` runs when a model is built, loaded and compiled, so nothing outside the
spec reaches golden, the packers or the RTL; an understated ``acc_bound`` is recomputed
and refused. Every failure is one :class:`~plutflow.errors.ArtifactError` line naming
the layer, the field and the range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from plutflow.arith import code_range, decode_sign_magnitude
from plutflow.errors import ArtifactError

INT32 = (-(2**31), 2**31 - 1)
WEIGHT_SCHEMES = ("int8", "uniform", "pot", "upot", "plut")


# ---------------------------------------------------------------- weight accessors
# The one place that knows which parameter holds a conv/gemm's weights and the defaults
# of its scheme attributes; golden, the fast engine, lowering, the packers, the export
# and the reports read through these.


def weight_scheme(layer) -> str:
    """The layer's weight scheme (``int8`` when absent)."""
    return layer.attrs.get("weight_scheme", "int8")


def weight_bits(layer) -> int:
    """The layer's weight width in bits (8 when absent)."""
    return int(layer.attrs.get("weight_bits", 8))


def stored_weights(layer) -> np.ndarray:
    """What the layer stores: integer ``weight`` or sign-magnitude ``weight_codes``."""
    p = layer.params
    return p["weight"] if "weight" in p else p["weight_codes"]


def integer_weights(layer) -> np.ndarray:
    """The layer's integer weights (int64), decoded from sign-magnitude codes if need
    be (docs/spec.md 6.1)."""
    p = layer.params
    if "weight" in p:
        return np.asarray(p["weight"], np.int64)
    return decode_sign_magnitude(p["weight_codes"], np.asarray(p["levels"]), weight_bits(layer))


class _Check:
    """Checks of one layer; every message names the layer."""

    def __init__(self, model, layer) -> None:
        self.model, self.layer = model, layer
        self.a, self.p = layer.attrs, layer.params

    def fail(self, what: str) -> None:
        raise ArtifactError(f"layer '{self.layer.name}' ({self.layer.op}): {what}")

    def spec(self, i: int = 0, out: bool = False):
        return self.model.tensors[(self.layer.outputs if out else self.layer.inputs)[i]]

    # ------------------------------------------------------------ attributes
    def int(self, key: str, lo: int, hi: int, default: Any = ...) -> int:
        if key not in self.a:
            if default is ...:
                self.fail(f"attribute '{key}' is missing")
            return default
        v = self.a[key]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            self.fail(f"attribute '{key}' = {v!r} is not an integer in [{lo}, {hi}]")
        return v

    def ints(self, key: str, n: int, lo: int, hi: int) -> list[int]:
        v = self.a.get(key)
        if (
            not isinstance(v, list)
            or len(v) != n
            or not all(isinstance(e, int) and not isinstance(e, bool) and lo <= e <= hi for e in v)
        ):
            self.fail(f"attribute '{key}' = {v!r} is not {n} integers in [{lo}, {hi}]")
        return v

    def clamp(self, mid: bool = False) -> tuple[int, int]:
        """``lo``/``hi`` inside the output's code range (or int8, before a table)."""
        qmin, qmax = code_range("int8") if mid else (self.spec(out=True).qmin,
                                                     self.spec(out=True).qmax)  # fmt: skip
        lo, hi = self.int("lo", qmin, qmax), self.int("hi", qmin, qmax)
        if lo > hi:
            self.fail(f"lo {lo} > hi {hi}")
        return lo, hi

    def window(self) -> int:
        nd = len(self.a.get("kernel") or [])
        if nd == 0:
            self.fail("attribute 'kernel' is missing")
        self.ints("kernel", nd, 1, 1 << 12)
        self.ints("strides", nd, 1, 1 << 12)
        self.ints("dilations", nd, 1, 1 << 12)
        self.ints("pads", 2 * nd, 0, 1 << 12)
        return nd

    # ------------------------------------------------------------ parameters
    def array(self, key: str, shape: tuple | None = None, lo: int | None = None,
              hi: int | None = None, required: bool = True) -> np.ndarray | None:  # fmt: skip
        arr = self.p.get(key)
        if arr is None:
            if required:
                self.fail(f"parameter '{key}' is missing")
            return None
        if arr.dtype.kind not in "iub":
            self.fail(f"parameter '{key}' has dtype {arr.dtype}")
        if shape is not None and tuple(arr.shape) != tuple(shape):
            self.fail(f"parameter '{key}' has shape {arr.shape}, expected {tuple(shape)}")
        if arr.size and lo is not None and int(arr.min()) < lo:
            self.fail(f"parameter '{key}' holds {int(arr.min())} < {lo}")
        if arr.size and hi is not None and int(arr.max()) > hi:
            self.fail(f"parameter '{key}' holds {int(arr.max())} > {hi}")
        return arr

    def requant(self, m: int | None) -> None:
        """Per-channel (``m``) or scalar ``mult``/``shift`` parameters or attributes."""
        for key, lo, hi in (("mult", 0, 2**31 - 1), ("shift", 0, 62)):
            if key in self.p:
                self.array(key, (m,) if m is not None else None, lo, hi)
            else:
                self.int(key, lo, hi)

    def table(self, m: int | None, mid: bool) -> None:
        """An optional activation table of output codes, (K,) or (m, K)."""
        t = self.p.get("table")
        if t is None:
            return
        out = self.spec(out=True)
        self.array("table", None, out.qmin, out.qmax)
        k = 256 if mid else 2 ** self.spec().bits
        if t.shape not in ((k,), (m, k)) and not (t.ndim == 1 and t.shape[0] == 256):
            self.fail(f"table has shape {t.shape}, expected ({k},) or ({m}, {k})")
        if mid:
            self.int("mid_zero_point", *code_range("int8"))


def _weights(c: _Check, nd: int) -> np.ndarray:
    """The layer's integer weights (decoded), after checking their encoding."""
    a = c.a
    scheme = a.get("weight_scheme", "int8")
    if scheme not in WEIGHT_SCHEMES:
        c.fail(f"weight_scheme {scheme!r} is not one of {WEIGHT_SCHEMES}")
    bits = c.int("weight_bits", 1, 8, 8)
    in_spec = c.spec()
    if "weight" in c.p:
        if "weight_codes" in c.p:
            c.fail("both 'weight' and 'weight_codes' are present")
        lim = 2 ** (bits - 1)
        w = c.array("weight", None, -lim, lim - 1)
        if w.ndim != nd + 2:
            c.fail(f"weight has {w.ndim} dims, expected {nd + 2}")
        return w.astype(np.int64)
    codes = c.array("weight_codes", None, 0, 2**bits - 1)
    levels = c.array("levels", (2 ** (bits - 1),), 0, 2**14)
    if codes.ndim != nd + 2:
        c.fail(f"weight_codes has {codes.ndim} dims, expected {nd + 2}")
    w = decode_sign_magnitude(codes, levels, bits)
    if scheme == "plut":
        k = in_spec.qmax - in_spec.qmin + 1
        c.array("product_table", (2**bits, k), *INT32)
    return w


def _conv_gemm(c: _Check, conv: bool) -> None:
    nd = c.window() if conv else 0
    in_spec = c.spec()
    w = _weights(c, nd)
    m = w.shape[0]
    if conv:
        group = c.int("group", 1, 1 << 16)
        if m % group or (
            isinstance(in_spec.shape[1], int) and in_spec.shape[1] != w.shape[1] * group
        ):
            c.fail(f"weight shape {w.shape} does not fit {group} group(s) of the input "
                   f"{in_spec.shape}")  # fmt: skip
        c.int("pad_value", in_spec.qmin, in_spec.qmax)
    elif isinstance(in_spec.shape[-1], int) and in_spec.shape[-1] != w.shape[1]:
        c.fail(f"weight shape {w.shape} does not fit the input {in_spec.shape}")
    f = c.int("bias_shift", 0, 30, 0)
    bound = c.int("acc_bound", 0, INT32[1])
    amax = max(abs(in_spec.qmin), abs(in_spec.qmax))
    if "product_table" in c.p:
        t = np.abs(c.p["product_table"].astype(np.int64))
        codes = c.p["weight_codes"].reshape(m, -1)
        need = int(t.max(axis=1)[codes].sum(axis=1).max(initial=0))
    else:
        need = amax * int(np.abs(w.reshape(m, -1)).sum(axis=1).max(initial=0))
    if bound < need:
        c.fail(f"acc_bound {bound} understates the sums' bound {need}")
    bias = c.array("bias", (m,), *INT32)
    if (bound << f) + int(np.abs(bias.astype(np.int64)).max(initial=0)) > INT32[1]:
        c.fail(f"acc_bound * 2**{f} + max|bias| passes 2**31")
    c.requant(m)
    mid = "table" in c.p
    c.clamp(mid)
    c.table(m, mid)


def _pool(c: _Check, average: bool) -> None:
    c.window()
    c.int("ceil_mode", 0, 1, 0)
    if average:
        c.int("count_include_pad", 0, 1)
        c.int("shift", 0, 62)
        c.array("mult", None, 0, 2**31 - 1)
        c.clamp()


def _elementwise(c: _Check, op: str) -> None:
    if op == "add":
        for key in ("mult_a", "mult_b"):
            c.int(key, -(2**31) + 1, 2**31 - 1)
        c.int("shift", 0, 62)
    else:
        c.requant(None)
    c.clamp()


def _concat(c: _Check) -> None:
    mults, shifts = c.a.get("mults"), c.a.get("shifts")
    n = len(c.layer.inputs)
    if not isinstance(mults, list) or not isinstance(shifts, list) or not (
            len(mults) == len(shifts) == n):  # fmt: skip
        c.fail("mults and shifts must list one entry per input")
    for m, s in zip(mults, shifts, strict=True):
        if m is None and s is None:
            continue
        if not (isinstance(m, int) and 0 <= m < 2**31 and isinstance(s, int) and 0 <= s <= 62):
            c.fail(f"requantization ({m!r}, {s!r}) is out of range")
    c.int("axis", -8, 8)


CHECKS: dict[str, tuple[int | None, Callable[[_Check], None]]] = {
    "conv": (1, lambda c: _conv_gemm(c, True)),
    "gemm": (1, lambda c: _conv_gemm(c, False)),
    "maxpool": (1, lambda c: _pool(c, False)),
    "avgpool": (1, lambda c: _pool(c, True)),
    "global_avgpool": (1, lambda c: (c.requant(None), c.clamp())),
    "add": (2, lambda c: _elementwise(c, "add")),
    "mul": (2, lambda c: _elementwise(c, "mul")),
    "concat": (None, _concat),
    "table": (
        1,
        lambda c: (
            c.table(None, False) if "table" in c.p else c.fail("parameter 'table' is missing")
        ),
    ),
    "reshape": (1, lambda c: c.a.get("shape") is not None or c.fail("no 'shape'")),
    "flatten": (1, lambda c: c.int("axis", 0, 8)),
    "transpose": (1, lambda c: c.a.get("perm") is not None or c.fail("no 'perm'")),
    "slice": (1, lambda c: isinstance(c.a.get("slices"), list) or c.fail("no 'slices'")),
    "pad": (
        1,
        lambda c: (
            c.a.get("mode") in ("constant", "reflect", "edge", "wrap")
            or c.fail(f"pad mode {c.a.get('mode')!r}")
        ),
    ),
    "resize_nearest": (1, lambda c: isinstance(c.a.get("index"), dict) or c.fail("no 'index'")),
    "softmax": (1, lambda c: (c.array("exp_table", (256,), 0, INT32[1]), c.int("axis", -8, 8))),
}


def validate(model) -> None:
    """Refuse ``model`` (an :class:`IntModel`) unless every layer fits its op's schema."""
    for layer in model.layers:
        entry = CHECKS.get(layer.op)
        if entry is None:
            raise ArtifactError(f"layer '{layer.name}': unknown op {layer.op!r}")
        arity, check = entry
        if (arity is not None and len(layer.inputs) != arity) or len(layer.outputs) != 1:
            raise ArtifactError(f"layer '{layer.name}' ({layer.op}): {len(layer.inputs)} "
                                f"inputs and {len(layer.outputs)} outputs")  # fmt: skip
        try:
            check(_Check(model, layer))
        except ArtifactError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ArtifactError(f"layer '{layer.name}' ({layer.op}): malformed: "
                                f"{type(exc).__name__}: {exc}") from exc  # fmt: skip
