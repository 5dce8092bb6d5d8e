"""Every defect of the hardening review (issue 13) as a reproducer run end to end.

Each :class:`Defect` builds its hostile or careless input in a fresh directory, runs it
the way a user would (the ``plutflow`` command in this process, a subprocess when a
signal, a file-size limit or a fresh interpreter is part of the input, the library call
when the defect lives below the CLI) and returns what happened: the exit code, the line
the user saw, the files left behind and anything else measured. ``tests/test_defects.py``
asserts every row; ``bench/hardening.py`` prints the table into
``bench/results/hardening.{json,md}``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def _tests_on_path() -> None:
    """tests/ importable: some reproducers reuse the tests' builders (graphs, the PYNQ
    stand-in's artifact)."""
    tests = str(HERE.parent / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


@dataclass
class Outcome:
    """What a user saw: the exit code (``None`` for a library call), the last line printed
    (or the error raised), whether a traceback or a Python warning appeared, the new
    files left behind."""

    code: int | None
    said: str
    traceback: bool = False
    left: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class Defect:
    key: str
    area: str
    input: str
    old: str
    code: int | None  # the exit code expected now (None: a library call)
    expect: str  # a regular expression the line the user sees must match
    run: Callable[[Case], Outcome]
    left: tuple[str, ...] = ()  # files a successful run is meant to write
    note: str = ""  # a regular expression the measured note must match

    def check(self, out: Outcome) -> list[str]:
        """What is wrong with ``out`` (empty when the defect is fixed)."""
        bad = []
        if out.code != self.code:
            bad.append(f"exit code {out.code}, expected {self.code}")
        if not re.search(self.expect, out.said):
            bad.append(f"said {out.said!r}, expected /{self.expect}/")
        if out.traceback:
            bad.append("a traceback was printed")
        if sorted(out.left) != sorted(self.left):
            bad.append(f"left behind {out.left}, expected {list(self.left)}")
        if self.note and not re.search(self.note, out.note):
            bad.append(f"measured {out.note!r}, expected /{self.note}/")
        return bad


DEFECTS: dict[str, Defect] = {}


def defect(
    key: str,
    area: str,
    input: str,
    old: str,
    code: int | None = 2,
    expect: str = r"^plutflow: error: ",
    left: tuple[str, ...] = (),
):
    def register(fn: Callable[[Case], Outcome]) -> Callable[[Case], Outcome]:
        DEFECTS[key] = Defect(key, area, input, old, code, expect, fn, left)
        return fn

    return register


class Shared:
    """Inputs several cases start from, built once."""

    def __init__(self, work: Path) -> None:
        self.work = work

    @cached_property
    def demo(self):
        from plutflow.assets import DemoAssets

        return DemoAssets()

    @cached_property
    def model(self):
        from plutflow.api import quantize_model

        demo = self.demo
        return quantize_model(
            demo.model, demo.calib_set()[:32], preprocess=demo.preprocess(), progress=False
        )

    @cached_property
    def pfq(self) -> bytes:
        return self.model.to_bytes()

    @cached_property
    def pfa(self) -> Path:
        from plutflow.board.selftest import bundled_artifact

        return bundled_artifact().save(self.work / "demo.pfa")

    @cached_property
    def sshd(self):
        from sshd_loopback import LoopbackSshd  # beside this module

        d = self.work / "ssh"
        d.mkdir()
        self._sshd = LoopbackSshd(d)
        return self._sshd.__enter__()

    def close(self) -> None:
        if "sshd" in self.__dict__:
            self._sshd.__exit__()


class Case:
    """One defect's directory and the ways to run plutflow on it."""

    def __init__(self, directory: Path, shared: Shared) -> None:
        self.dir, self.shared = directory, shared
        directory.mkdir(parents=True, exist_ok=True)
        self._before: set[str] | None = None

    def path(self, name: str) -> Path:
        return self.dir / name

    def write(self, name: str, data: bytes | str) -> Path:
        p = self.dir / name
        if isinstance(data, str):
            p.write_text(data)
        else:
            p.write_bytes(data)
        return p

    def pfq(self, model=None, name: str = "m.pfq") -> Path:
        return self.write(name, self.shared.pfq if model is None else model.to_bytes())

    def images(self, n: int = 4, name: str = "imgs.npy") -> Path:
        np.save(self.dir / name, np.zeros((n, 28, 28), np.uint8))
        return self.dir / name

    def snapshot(self) -> None:
        """Call after writing the inputs: what appears after this is 'left behind'."""
        self._before = set(self._files())

    def _files(self) -> list[str]:
        return sorted(str(p.relative_to(self.dir)) for p in self.dir.rglob("*"))

    def left(self) -> list[str]:
        before = self._before or set()
        return [f for f in self._files() if f not in before]

    def cli(self, *argv: object, note: str = "") -> Outcome:
        """``plutflow ARGV`` in this process."""
        from plutflow.cli import main

        if self._before is None:
            self.snapshot()
        out, err = io.StringIO(), io.StringIO()
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(record=True) as caught,  # what stderr would show
        ):
            warnings.simplefilter("always")  # then Python's defaults for a program:
            for quiet in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                          ResourceWarning):  # fmt: skip
                warnings.filterwarnings("ignore", category=quiet)
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
        shown = "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
        return self._outcome(code, out.getvalue(), err.getvalue() + shown, note)

    def proc(
        self,
        *argv: object,
        env: dict | None = None,
        signal_after: float | Callable[[], bool] | None = None,
        sig: int = signal.SIGTERM,
        file_limit: int | None = None,
        timeout: float = 300,
        note: str = "",
    ) -> Outcome:
        """``python -m plutflow ARGV`` in a fresh process; optionally signalled after
        ``signal_after`` seconds (or once ``signal_after()`` holds), or with writes capped
        at ``file_limit`` bytes."""
        if self._before is None:
            self.snapshot()

        def limits() -> None:
            # a user's Ctrl-C reaches the command even when this harness runs with
            # SIGINT ignored (nohup, a background job of a non-interactive shell, some CI)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if file_limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

        p = subprocess.Popen(
            [sys.executable, "-m", "plutflow", *map(str, argv)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=self.dir,
            preexec_fn=limits,
        )
        if callable(signal_after):
            deadline = time.monotonic() + 120
            while not signal_after() and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
        elif signal_after is not None:
            time.sleep(signal_after)
        if signal_after is not None:
            p.send_signal(sig)
        out, err = p.communicate(timeout=timeout)
        return self._outcome(p.returncode, out, err, note)

    def api(self, call: Callable[[], object], note: str = "") -> Outcome:
        """A library call: the error it raised (one line), or what it returned."""
        from plutflow.errors import PlutflowError

        if self._before is None:
            self.snapshot()
        try:
            result = call()
        except PlutflowError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}", False, self.left(), note)
        return Outcome(None, f"returned {result}", False, self.left(), note)

    def _outcome(self, code: int, out: str, err: str, note: str) -> Outcome:
        lines = [ln for ln in (out if code == 0 else err).splitlines() if ln.strip()]
        lines = lines or [ln for ln in (err + out).splitlines() if ln.strip()] or [""]
        said = lines[-1]
        noise = "Traceback" in err or "Warning: " in err  # one clear line, nothing else
        return Outcome(code, said, noise, self.left(), note)


def rezip(
    blob: bytes, change: Callable[[str, bytes], bytes | None], deflate: bool = False
) -> bytes:
    """The zip ``blob`` with every member passed through ``change`` (None drops it),
    compressed as before or, with ``deflate``, deflated."""
    out = io.BytesIO()
    how = zipfile.ZIP_DEFLATED if deflate else None
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            raw = change(info.filename, src.read(info))
            if raw is not None:
                dst.writestr(info, raw, compress_type=how)
    return out.getvalue()


def npy_header(shape: tuple, dtype: str = "<i1") -> bytes:
    """The bytes of an ``.npy`` version 1.0 header for ``shape`` and ``dtype``."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def first_array(blob: bytes) -> str:
    return next(n for n in zipfile.ZipFile(io.BytesIO(blob)).namelist() if n.endswith(".npy"))


def out_of_spec(c: Case, change: Callable) -> Outcome:
    """``plutflow compile`` of the demo model with one field of its second conv changed."""
    model = copy.deepcopy(c.shared.model)
    layer = [lay for lay in model.layers if lay.op == "conv"][1]
    change(layer)
    return c.cli("compile", c.pfq(model), "-o", c.path("m.pfa"))


def set_param(key: str, value: int) -> Callable:
    def change(layer) -> None:
        layer.params[key] = np.array(layer.params[key], np.int64)
        layer.params[key].flat[0] = value

    return change


def quantize_argv(c: Case, calib: object, *extra: object) -> list:
    demo = c.shared.demo
    return [
        "quantize",
        demo.model,
        "--calib",
        calib,
        "--num-calib",
        "16",
        "-q",
        *extra,
        "-o",
        c.path("out.pfq"),
    ]


# --- silent wrong results -----------------------------------------------------------

SILENT = "silent wrong result"


@defect(
    "nan_pixel",
    SILENT,
    "one NaN pixel in the calibration images (.npy)",
    "exit 0, every activation scale ~4e-11, top-1 94 % -> 16 %",
    expect="NaN or infinite",
)
def _(c: Case) -> Outcome:
    with np.load(c.shared.demo.data) as z:
        x = z["calib_images"][:16].astype(np.float32)
    x[3, 5, 7] = np.nan
    np.save(c.path("nan.npy"), x)
    return c.cli(*quantize_argv(c, c.path("nan.npy"), "--preprocess", c.shared.demo.meta))


@defect(
    "nan_scale",
    SILENT,
    "`scale: .nan` in the preprocessing config",
    "exit 0, a useless model",
    expect="finite",
)
def _(c: Case) -> Outcome:
    c.write("pre.yaml", "size: [28, 28]\nchannels: 1\nscale: .nan\n")
    demo = c.shared.demo
    return c.cli(*quantize_argv(c, f"{demo.data}:calib_images", "--preprocess", c.path("pre.yaml")))


@defect(
    "std_zero_quantize",
    SILENT,
    "`std: 0` in the config, quantize",
    "traceback (ZeroDivisionError)",
    expect="std non-zero",
)
def _(c: Case) -> Outcome:
    c.write("pre.yaml", "size: [28, 28]\nchannels: 1\nstd: 0\n")
    demo = c.shared.demo
    return c.cli(*quantize_argv(c, f"{demo.data}:calib_images", "--preprocess", c.path("pre.yaml")))


@defect(
    "std_zero_eval",
    SILENT,
    "`std: 0` in the config, eval",
    "exit 0, garbage accuracy",
    expect="std non-zero",
)
def _(c: Case) -> Outcome:
    c.write("pre.yaml", "size: [28, 28]\nchannels: 1\nstd: 0\n")
    return c.cli("eval", c.pfq(), "--data", c.images(), "--preprocess", c.path("pre.yaml"))


SPEC = [
    ("negative_m0", "negative multiplier M0", set_param("mult", -1), "'mult' holds -1"),
    ("big_m0", "multiplier M0 of 2^31 (past its field)", set_param("mult", 2**31), "'mult' holds"),
    ("negative_n", "negative shift n", set_param("shift", -2), "'shift' holds -2"),
    ("weight_bits", "a 4-bit layer's weight of 100", None, "'weight' holds 100"),
    ("big_bias", "a bias of 2^40 (past int32)", set_param("bias", 2**40), "'bias' holds"),
    ("lo_hi", "clamp lo 5 > hi 3", lambda lay: lay.attrs.update(lo=5, hi=3), "lo 5 > hi 3"),
    (
        "acc_bound",
        "acc_bound understated (5)",
        lambda lay: lay.attrs.update(acc_bound=5),
        "understates",
    ),
]


def _spec_case(change: Callable | None) -> Callable[[Case], Outcome]:
    def run(c: Case) -> Outcome:
        if change is not None:
            return out_of_spec(c, change)
        from plutflow.api import QuantOptions, quantize_model

        demo = c.shared.demo
        model = quantize_model(
            demo.model, demo.calib_set()[:16], QuantOptions(scheme="uniform:4:8"), progress=False
        )
        layer = [lay for lay in model.layers if lay.op == "conv"][1]
        set_param("weight", 100)(layer)
        return c.cli("compile", c.pfq(model), "-o", c.path("m.pfa"))

    return run


for _key, _text, _change, _msg in SPEC:
    defect(
        f"spec_{_key}",
        SILENT,
        f"compile a .pfq with {_text}",
        "compiled; golden and the RTL disagree",
        expect=re.escape(_msg),
    )(_spec_case(_change))


def _golden_case(change: Callable) -> Callable[[Case], Outcome]:
    def run(c: Case) -> Outcome:
        model = copy.deepcopy(c.shared.model)
        change(model)
        return c.cli("eval", c.pfq(model), "--data", c.images())

    return run


def _nan_scale(model) -> None:
    model.tensors[model.inputs[0]].scale = float("nan")


def _zero_bits(model) -> None:
    spec = model.tensors[model.layers[0].outputs[0]]
    spec.bits = 0


for _key, _text, _change, _msg in [
    ("golden_nan_scale", "a NaN tensor scale", _nan_scale, "scale"),
    ("golden_zero_bits", "a tensor of 0 bits", _zero_bits, "0 bits"),
    ("golden_no_layers", "an empty layer list", lambda m: setattr(m, "layers", []), "no layers"),
]:
    defect(
        _key,
        SILENT,
        f"eval a .pfq with {_text}",
        "golden ran it: 0-10 % accuracy, exit 0",
        expect=_msg,
    )(_golden_case(_change))


@defect(
    "npz_key_typo",
    SILENT,
    "`--calib data.npz:calib_imgs` (typo)",
    "calibrated silently on the `images` array (the test set)",
    expect="no array 'calib_imgs'",
)
def _(c: Case) -> Outcome:
    demo = c.shared.demo
    return c.cli(*quantize_argv(c, f"{demo.data}:calib_imgs", "--preprocess", demo.meta))


@defect(
    "negative_limit",
    SILENT,
    "`eval --limit -3`",
    "silently dropped 3 images",
    expect="must be at least 1, not -3",
)
def _(c: Case) -> Outcome:
    return c.cli("eval", c.pfq(), "--data", c.images(), "--limit", "-3")


@defect(
    "negative_num_calib",
    SILENT,
    "`quantize --num-calib -5`",
    "silently dropped 5 images",
    expect="must be at least 1, not -5",
)
def _(c: Case) -> Outcome:
    demo = c.shared.demo
    return c.cli(
        "quantize",
        demo.model,
        "--calib",
        f"{demo.data}:calib_images",
        "--num-calib",
        "-5",
        "-o",
        c.path("out.pfq"),
    )


# --- loaders: tracebacks from damaged .pfq / .pfa ------------------------------------

LOADER = "traceback: model loader"


def _inspect(c: Case, blob: bytes, name: str = "bad.pfq") -> Outcome:
    return c.cli("inspect", c.write(name, blob))


def _with_eocd(blob: bytes, patch: Callable[[bytearray, int], None]) -> bytes:
    b = bytearray(blob)
    patch(b, b.rfind(b"PK\x05\x06"))
    return bytes(b)


def _central(blob: bytes, patch: Callable[[bytearray, int], None]) -> bytes:
    b = bytearray(blob)
    patch(b, b.find(b"PK\x01\x02"))
    return bytes(b)


def _deflate_damage(blob: bytes) -> bytes:
    b = bytearray(rezip(blob, lambda m, raw: raw, deflate=True))
    at = b.find(b"PK\x03\x04")
    start = at + 30 + struct.unpack_from("<H", b, at + 26)[0]
    b[start : start + 8] = b"\xff" * 8  # an invalid deflate block
    return bytes(b)


def _json_member(change: Callable[[dict], object]) -> Callable[[bytes], bytes]:
    def apply(blob: bytes) -> bytes:
        def member(name: str, raw: bytes) -> bytes:
            if name != "__model__.json":
                return raw
            desc = json.loads(raw)
            result = change(desc)
            return json.dumps(desc if result is None else result).encode()

        return rezip(blob, member)

    return apply


def _shape_member(blob: bytes) -> bytes:
    name = first_array(blob)
    return rezip(blob, lambda m, raw: npy_header((1,), "<f8") + b"\0" * 8 if m == name else raw)


LOADER_CASES = [
    (
        "bad_central_directory",
        "central directory offset past the end",
        "OSError (seek)",
        lambda b: _with_eocd(b, lambda x, at: struct.pack_into("<I", x, at + 16, 1 << 31)),
    ),
    ("zlib_error", "a member whose deflate stream is corrupt", "zlib.error", _deflate_damage),
    (
        "unknown_method",
        "compression method 99",
        "NotImplementedError",
        lambda b: _central(b, lambda x, at: struct.pack_into("<H", x, at + 10, 99)),
    ),
    (
        "encrypted",
        "the encrypted-member flag set",
        "RuntimeError",
        lambda b: _central(b, lambda x, at: x.__setitem__(at + 8, x[at + 8] | 1)),
    ),
    (
        "deep_json",
        "description of 100,000 nested lists",
        "RecursionError",
        lambda b: rezip(
            b, lambda m, raw: b"[" * 100_000 + b"]" * 100_000 if m == "__model__.json" else raw
        ),
    ),
    (
        "json_types",
        "`layers` a string, a tensor's shape a dict",
        "TypeError / KeyError",
        _json_member(lambda d: d.update(layers="conv")),
    ),
    ("json_list", "the description a JSON list", "AttributeError", _json_member(lambda d: [1, 2])),
    ("wrong_dtype", "a weight array of float64", "UFuncTypeError / IndexError", _shape_member),
]


def _loader_case(build: Callable[[bytes], bytes]) -> Callable[[Case], Outcome]:
    return lambda c: _inspect(c, build(c.shared.pfq))


for _key, _text, _old, _build in LOADER_CASES:
    defect(f"pfq_{_key}", LOADER, f"`inspect` a .pfq with {_text}", f"traceback ({_old})")(
        _loader_case(_build)
    )


@defect(
    "pfa_damaged",
    LOADER,
    "`run` a .pfa whose manifest is cut in half",
    "traceback (KeyError / JSONDecodeError)",
)
def _(c: Case) -> Outcome:
    blob = c.shared.pfa.read_bytes()
    bad = rezip(blob, lambda m, raw: raw[: len(raw) // 2] if m == "manifest.json" else raw)
    return c.cli("run", c.write("bad.pfa", bad), "--backend", "emu", "--data", c.images())


# --- ONNX import ---------------------------------------------------------------------

ONNX = "traceback: ONNX import"


def _onnx_case(build_key: str) -> Callable[[Case], Outcome]:
    def run(c: Case) -> Outcome:
        _tests_on_path()
        import onnx

        from test_import_structure import CASES

        onnx.save(CASES[build_key][0](), c.path("bad.onnx"))
        np.save(c.path("x.npy"), np.zeros((4, 2, 4, 4), np.float32))
        return c.cli(
            "quantize",
            c.path("bad.onnx"),
            "--calib",
            c.path("x.npy"),
            "-q",
            "-o",
            c.path("out.pfq"),
        )

    return run


for _key, _text, _old, _msg in [
    ("cycle", "a cycle (Add -> Relu -> Add)", "accepted; quantize died with KeyError", "cycle"),
    ("self_loop", "a node reading its own output", "accepted; KeyError", "cycle"),
    (
        "dangling_output",
        "a graph output nothing produces",
        "accepted; KeyError",
        "produces this graph output",
    ),
    (
        "bad_init_dims",
        "an initializer whose dims disagree with its data",
        "traceback",
        "does not match dims",
    ),
    ("if_subgraph", "an `If` node with subgraphs", "traceback", "control flow"),
    (
        "conv_channels",
        "a Conv whose weight has 5 input channels for 2",
        "traceback",
        "input channels",
    ),
    ("nan_weight", "NaN weights", "misreported as 'depends on the batch size'", "NaN or infinite"),
]:
    defect(f"onnx_{_key}", ONNX, f"quantize an ONNX model with {_text}", _old, expect=_msg)(
        _onnx_case(_key)
    )


@defect(
    "onnx_out_of_order",
    ONNX,
    "quantize an ONNX model whose nodes are out of order",
    "accepted; quantize died with KeyError",
    code=0,
    expect=r"quantized",
    left=("out.pfq",),
)
def _(c: Case) -> Outcome:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((3, 1, 1, 1), np.float32) * 0.1, "w")
    nodes = [
        helper.make_node("Relu", ["t"], ["y"], name="second"),
        helper.make_node("Conv", ["x", "w"], ["t"], name="first", kernel_shape=[1, 1]),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, c.path("m.onnx"))
    x = np.random.default_rng(0).uniform(0, 1, (8, 1, 4, 4)).astype(np.float32)
    np.save(c.path("x.npy"), x)
    c.write("pre.json", '{"data_layout": "NCHW", "scale": 1}')
    c.snapshot()
    return c.cli(
        "quantize",
        c.path("m.onnx"),
        "--calib",
        c.path("x.npy"),
        "--preprocess",
        c.path("pre.json"),
        "-q",
        "-o",
        c.path("out.pfq"),
    )


@defect(
    "onnx_external_symlink",
    ONNX,
    "an ONNX model whose external data is a symlink to a file outside its folder",
    "onnx < 1.21 read the outside file into the weights",
    expect="symbolic link|outside",
)
def _(c: Case) -> Outcome:
    from onnx import TensorProto, helper, numpy_helper

    secret = c.write("secret.bin", np.arange(6, dtype=np.float32).tobytes())
    folder = c.path("model")
    folder.mkdir()
    w = numpy_helper.from_array(np.zeros((3, 2, 1, 1), np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="w.bin")
    (folder / "w.bin").symlink_to(secret)
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    (folder / "m.onnx").write_bytes(m.SerializeToString())
    np.save(c.path("x.npy"), np.zeros((4, 2, 4, 4), np.float32))
    return c.cli(
        "quantize", folder / "m.onnx", "--calib", c.path("x.npy"), "-q", "-o", c.path("out.pfq")
    )


@defect(
    "onnx_16k_nodes",
    ONNX,
    "import a chain of 16,000 nodes",
    "46 s (quadratic in the node count)",
    code=None,
    expect=r"returned 16000 nodes",
)
def _(c: Case) -> Outcome:
    from onnx import TensorProto, helper

    from plutflow.ir import import_onnx

    n = 16_000
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(n)]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, None)],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    t0 = time.perf_counter()
    out = c.api(lambda: f"{len(import_onnx(m, optimize=False).nodes)} nodes")
    out.note = f"{time.perf_counter() - t0:.2f} s"
    return out


# --- data and configs ----------------------------------------------------------------

DATA = "traceback: data or config"


def _eval_with(c: Case, *extra: object, data: Path | None = None) -> Outcome:
    return c.cli("eval", c.pfq(), "--data", data or c.images(), *extra)


def _config_case(name: str, text: str) -> Callable[[Case], Outcome]:
    return lambda c: _eval_with(c, "--preprocess", c.write(name, text))


for _key, _text, _file, _body, _msg in [
    ("bad_yaml", "a malformed YAML config", "p.yaml", "size: [28, 28\nscale: 1", "not valid YAML"),
    ("bad_json", "a malformed JSON config", "p.json", '{"size": [28, 28],', "not valid JSON"),
    ("zero_size", "`size: [0, 0]`", "p.json", '{"size": [0, 0], "channels": 1}', "size must be"),
    (
        "huge_size",
        "`size: [60000, 60000]` (4 GB per image batch)",
        "p.json",
        '{"size": [60000, 60000], "channels": 1}',
        "size must be",
    ),
]:
    _area = "memory" if _key == "huge_size" else DATA
    _old = "allocated 4 GB" if _key == "huge_size" else "traceback"
    defect(f"config_{_key}", _area, f"eval with {_text}", _old, expect=_msg)(
        _config_case(_file, _body)
    )


@defect(
    "npy_strings",
    DATA,
    "eval on an .npy of strings",
    "traceback",
    expect="must be numbers, not dtype",
)
def _(c: Case) -> Outcome:
    np.save(c.path("s.npy"), np.full((2, 28, 28), "a"))
    return _eval_with(c, data=c.path("s.npy"))


@defect(
    "corrupt_npz", DATA, "eval on a corrupt .npz", "traceback (BadZipFile)", expect="cannot read"
)
def _(c: Case) -> Outcome:
    return _eval_with(c, data=c.write("c.npz", b"PK\x03\x04garbage"))


@defect("string_labels", DATA, "labels that are strings", "traceback", expect="labels must be")
def _(c: Case) -> Outcome:
    np.save(c.path("l.npy"), np.array(list("abcd")))
    return _eval_with(c, "--labels", c.path("l.npy"))


@defect("short_labels", DATA, "2 labels for 4 images", "traceback", expect="2 labels for 4 images")
def _(c: Case) -> Outcome:
    np.save(c.path("l.npy"), np.array([1, 2]))
    return _eval_with(c, "--labels", c.path("l.npy"))


@defect(
    "no_images", DATA, "eval on 0 images", "traceback (ZeroDivisionError)", expect="holds no images"
)
def _(c: Case) -> Outcome:
    return _eval_with(c, data=c.images(0))


@defect(
    "pil_bomb",
    DATA,
    "a PNG of 1.1e8 pixels (past PIL's bomb limit) in the image folder",
    "traceback (DecompressionBombError)",
    expect="cannot decode image",
)
def _(c: Case) -> Outcome:
    folder = c.path("imgs")
    folder.mkdir()
    # a valid PNG header claiming 10,500 x 10,500 pixels; no pixel is decoded
    ihdr = struct.pack(">IIBBBBB", 10_500, 10_500, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    png = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )
    idat = zlib.compress(b"\0" * 16)
    png += (
        struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )
    (folder / "bomb.png").write_bytes(png + b"\0\0\0\0IEND\xaeB`\x82")
    return _eval_with(c, data=folder)


@defect(
    "batch_size_zero",
    DATA,
    "`eval --batch-size 0`",
    "traceback (ZeroDivisionError)",
    expect="must be at least 1, not 0",
)
def _(c: Case) -> Outcome:
    return _eval_with(c, "--batch-size", "0")


# --- memory ------------------------------------------------------------------------

MEMORY = "memory"


def _peak(c: Case, run: Callable[[], Outcome]) -> Outcome:
    """``run`` with the Python heap's peak (tracemalloc also sees numpy's buffers)."""
    import tracemalloc

    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = run()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    out.note = f"peak {peak / 2**20:.0f} MiB, {time.perf_counter() - t0:.1f} s"
    return out


@defect(
    "pfq_bomb",
    MEMORY,
    "a 1 MB .pfq whose weight member inflates to 1 GiB (checksum wrong)",
    "2.1 GB and 60 s before 'checksum mismatch'",
    expect="checksum mismatch",
)
def _(c: Case) -> Outcome:
    blob = c.shared.pfq
    name = first_array(blob)
    size = (1 << 30) - (1 << 24)  # under the member cap: the checksum is what refuses it
    body = npy_header((size,))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info, src.read(info))
                continue
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(info, "w", force_zip64=True) as fh:
                fh.write(body)
                zero = bytes(1 << 24)
                for _ in range(size >> 24):
                    fh.write(zero)
    path = c.write("bomb.pfq", out.getvalue())
    out = _peak(c, lambda: c.cli("inspect", path))
    out.note += f", file {path.stat().st_size / 2**20:.1f} MiB"
    return out


@defect(
    "pfq_member_6gib",
    MEMORY,
    "a .pfq member whose header claims 6 GiB",
    "MemoryError",
    expect="claims 6442450944 bytes",
)
def _(c: Case) -> Outcome:
    blob = c.shared.pfq
    return _peak(c, lambda: _inspect(c, _zip64_claim(blob, first_array(blob).encode(), 6 << 30)))


def _zip64_claim(blob: bytes, name: bytes, size: int) -> bytes:
    """``blob`` with member ``name``'s central directory entry claiming ``size`` bytes
    through a zip64 extra field."""
    b = bytearray(blob)
    at = b.find(b"PK\x01\x02")
    while at >= 0:
        n, m, k = struct.unpack_from("<HHH", b, at + 28)
        if bytes(b[at + 46 : at + 46 + n]) == name:
            struct.pack_into("<I", b, at + 24, 0xFFFFFFFF)
            extra = struct.pack("<HHQ", 1, 8, size)
            b[at + 46 + n : at + 46 + n] = extra
            struct.pack_into("<H", b, at + 30, m + len(extra))
            eocd = b.rfind(b"PK\x05\x06")
            cd_size = struct.unpack_from("<I", b, eocd + 12)[0]
            struct.pack_into("<I", b, eocd + 12, cd_size + len(extra))
            return bytes(b)
        at = b.find(b"PK\x01\x02", at + 46 + n + m + k)
    raise ValueError("member not found")


@defect(
    "npy_header_2_40",
    MEMORY,
    "an .npy whose header claims shape (2^40,)",
    "_ArrayMemoryError",
    expect="header promises shape",
)
def _(c: Case) -> Outcome:
    path = c.write("huge.npy", npy_header((1 << 40,), "|u1") + bytes(784))
    return _peak(c, lambda: _eval_with(c, data=path))


@defect(
    "idx_gz_bomb",
    MEMORY,
    "a 2 MB idx.gz that inflates to 2 GiB",
    "2 GiB allocated",
    expect="promises shape",
)
def _(c: Case) -> Outcome:
    n = (2 << 30) // 784
    header = bytes([0, 0, 8, 3]) + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    path = c.path("bomb-idx3-ubyte.gz")
    with open(path, "wb") as fh:
        fh.write(comp.compress(header))
        zero = bytes(1 << 24)
        for _ in range((n * 784) >> 24):
            fh.write(comp.compress(zero))
        fh.write(comp.flush())
    out = _peak(c, lambda: _eval_with(c, data=path))
    out.note += f", file {path.stat().st_size / 2**20:.1f} MiB"
    return out


# --- output paths ----------------------------------------------------------------

OUTPUT = "output path"


@defect(
    "compile_onto_input",
    OUTPUT,
    "`compile x.pfq -o x.pfq`",
    "destroyed the source",
    expect="is the input",
)
def _(c: Case) -> Outcome:
    path = c.pfq()
    out = c.cli("compile", path, "-o", path)
    out.note = "source intact" if path.read_bytes() == c.shared.pfq else "SOURCE CHANGED"
    return out


@defect(
    "quantize_onto_input",
    OUTPUT,
    "`quantize m.onnx -o m.onnx`",
    "destroyed the source",
    expect="is the input",
)
def _(c: Case) -> Outcome:
    demo = c.shared.demo
    src = c.write("m.onnx", demo.model.read_bytes())
    out = c.cli(
        "quantize",
        src,
        "--calib",
        f"{demo.data}:calib_images",
        "--preprocess",
        demo.meta,
        "-q",
        "-o",
        src,
    )
    out.note = "source intact" if src.read_bytes() == demo.model.read_bytes() else "SOURCE CHANGED"
    return out


@defect(
    "output_is_directory",
    OUTPUT,
    "`compile m.pfq -o DIR/` (an existing directory)",
    "traceback, PATH.tmp left",
    expect="is a directory",
)
def _(c: Case) -> Outcome:
    path = c.pfq()
    c.path("outdir").mkdir()
    return c.cli("compile", path, "-o", c.path("outdir"))


@defect(
    "output_missing_dir",
    OUTPUT,
    "`compile m.pfq -o missing/m.pfa`",
    "traceback",
    expect="does not exist",
)
def _(c: Case) -> Outcome:
    return c.cli("compile", c.pfq(), "-o", c.path("missing") / "m.pfa")


@defect(
    "output_disk_full",
    OUTPUT,
    "`compile` onto a disk that fills (writes capped at 64 KiB)",
    "traceback, PATH.tmp left",
    expect="cannot write|File too large",
)
def _(c: Case) -> Outcome:
    path = c.pfq()
    return c.proc("compile", path, "-o", c.path("m.pfa"), file_limit=64 << 10)


@defect(
    "concurrent_writers",
    OUTPUT,
    "two writers replacing one output 200 times each",
    "shared PATH.tmp: about 2 % of writes failed",
    code=None,
    expect=r"returned 0 failures",
    left=("m.pfq",),
)
def _(c: Case) -> Outcome:
    from plutflow.outputs import write_atomic

    target = c.path("m.pfq")
    blobs = [b"a" * 100_000, b"b" * 100_000]
    failures = []

    def writer(blob: bytes) -> None:
        for _ in range(200):
            try:
                write_atomic(target, blob)
            except Exception as exc:  # counted: any failure is the defect
                failures.append(exc)

    def both() -> str:
        threads = [threading.Thread(target=writer, args=(b,)) for b in blobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        whole = target.read_bytes() in blobs
        return f"{len(failures)} failures" + ("" if whole else ", TORN FILE")

    return c.api(both)


# --- deploy (against a real sshd on 127.0.0.1) ------------------------------------------

DEPLOY = "deploy"


def _deploy(
    c: Case, artifact: Path, remote_dir: str, *extra: object, python: str | None = None, **proc
) -> Outcome:
    target, _board = c.shared.sshd
    argv = [
        "deploy",
        artifact,
        "--board",
        target.board,
        "--port",
        target.port,
        "--identity",
        target.identity,
        "--known-hosts",
        target.known_hosts,
        "--remote-dir",
        remote_dir,
        "--backend",
        "sim",
        "--images",
        "1",
        "--remote-python",
        python or sys.executable,
        *extra,
    ]
    return c.proc(*argv, **proc) if proc else c.cli(*argv)


@defect(
    "deploy_remote_dir",
    DEPLOY,
    "`--remote-dir 'x; touch INJECTED'`",
    "ran by the board's shell (scp, OpenSSH < 9)",
    code=0,
    expect="deployment succeeded",
)
def _(c: Case) -> Outcome:
    _t, board = c.shared.sshd
    remote = board / "rd"
    out = _deploy(c, c.shared.pfa, f"{remote}; touch {board}/INJECTED")
    out.note = "injected!" if (board / "INJECTED").exists() else "no command ran; literal dir"
    return out


@defect(
    "deploy_local_option",
    DEPLOY,
    "an artifact named `-oProxyCommand=touch INJECTED.pfa`",
    "ran a local command",
    code=0,
    expect="deployment succeeded",
)
def _(c: Case) -> Outcome:
    _t, board = c.shared.sshd
    art = c.path("-oProxyCommand=touch INJECTED.pfa")
    art.write_bytes(c.shared.pfa.read_bytes())
    c.snapshot()
    out = _deploy(c, art, str(board / "lo"))
    out.note = "injected!" if c.path("INJECTED").exists() else "no local command ran"
    return out


@defect(
    "deploy_remote_python",
    DEPLOY,
    "`--remote-python 'python3; touch INJECTED'`",
    "pasted into the remote command",
    code=127,
    expect=r"FAILED \(self-test exit 127\)",
)
def _(c: Case) -> Outcome:
    _t, board = c.shared.sshd
    out = _deploy(
        c, c.shared.pfa, str(board / "rp"), python=f"{sys.executable}; touch {board}/INJECTED2"
    )
    out.note = "injected!" if (board / "INJECTED2").exists() else "one word: not found, nothing ran"
    return out


@defect(
    "deploy_interrupted_upload",
    DEPLOY,
    "an upload cut off half way (SIGINT during copy)",
    "the board's working artifact replaced by a truncated one",
    code=130,
    expect="interrupted",
)
def _(c: Case) -> Outcome:
    from plutflow.board.deploy import sha256

    _t, board = c.shared.sshd
    remote = board / "iu"
    first = _deploy(c, c.shared.pfa, str(remote))
    assert first.code == 0, first
    big = c.write("big.pfa", c.shared.pfa.read_bytes() + os.urandom(128 << 20))
    big = big.rename(c.path("demo.pfa"))  # same name as the working copy, 64 MiB more
    c.snapshot()
    uploading = remote / ".demo.pfa.uploading"

    at: list[int] = []

    def mid_upload() -> bool:  # some of the new bytes are on the board, not all
        with contextlib.suppress(OSError):
            at.append(uploading.stat().st_size)
            return 0 < at[-1] < big.stat().st_size
        return False

    out = _deploy(c, big, str(remote), signal_after=mid_upload, sig=signal.SIGINT)
    kept = sha256(remote / "demo.pfa") == sha256(c.shared.pfa)
    out.note = ("board copy intact" if kept else "BOARD COPY CHANGED") + (
        f" (interrupted with {at[-1] / 2**20:.0f} of {big.stat().st_size / 2**20:.0f} MiB sent)"
        if at
        else ""
    )
    return out


@defect(
    "deploy_timeout",
    DEPLOY,
    "a self-test that hangs past `--timeout 3`",
    "traceback; the remote self-test kept running",
    expect="stopped it on the board",
)
def _(c: Case) -> Outcome:
    _t, board = c.shared.sshd
    hang = c.write("hang.sh", "#!/bin/sh\nsleep 60 &\nwait\n")
    hang.chmod(0o755)
    c.snapshot()
    out = _deploy(c, c.shared.pfa, str(board / "to"), "--timeout", "3", python=str(hang))
    group = re.search(r"process group (\d+)", out.said)
    alive = group and subprocess.run(["pgrep", "-g", group[1]], capture_output=True).returncode == 0
    out.note = "STILL RUNNING on the board" if alive else "nothing left running on the board"
    return out


@defect(
    "deploy_no_ssh",
    DEPLOY,
    "deploy on a machine without `ssh`",
    "traceback",
    expect="ssh is not installed",
)
def _(c: Case) -> Outcome:
    return _deploy(c, c.shared.pfa, "x", env={"PATH": "/nonexistent"}, timeout=60)


@defect(
    "deploy_space_in_name",
    DEPLOY,
    "an artifact named `my model.pfa` (sha256sum output)",
    "checksum parsing split the name on spaces",
    code=0,
    expect="deployment succeeded",
)
def _(c: Case) -> Outcome:
    _t, board = c.shared.sshd
    art = c.write("my model.pfa", c.shared.pfa.read_bytes())
    c.snapshot()
    return _deploy(c, art, str(board / "sp"))


@defect(
    "deploy_tilde",
    DEPLOY,
    "`--remote-dir ~/plutflow-hardening-…`",
    "created a literal `~` directory",
    code=0,
    expect="deployment succeeded",
)
def _(c: Case) -> Outcome:
    import shutil

    name = f"plutflow-hardening-{os.getpid()}"
    out = _deploy(c, c.shared.pfa, f"~/{name}")
    home = Path.home() / name
    literal = Path("~").exists() or c.path("~").exists()
    out.note = ("literal ~ created" if literal else "") or (
        "went to $HOME" if (home / "demo.pfa").exists() else "NOT in $HOME"
    )
    shutil.rmtree(home, ignore_errors=True)
    return out


# --- simulator transport ------------------------------------------------------------

SIM = "simulator transport"


def _run_sim(c: Case, *extra: object, **proc) -> Outcome:
    np.save(c.path("imgs.npy"), np.zeros((50_000, 28, 28), np.uint8))  # minutes of simulation
    c.snapshot()
    return c.proc(
        "run", c.shared.pfa, "--backend", "sim", "--data", c.path("imgs.npy"), "-q", *extra, **proc
    )


@defect(
    "sim_build_error",
    SIM,
    "an RTL file that does not compile (server crash)",
    "'(no server log)': the log was deleted before it was read",
    code=None,
    expect=r"pf_engine\.v",
)
def _(c: Case) -> Outcome:
    import shutil

    from plutflow.overlay.config import OverlayConfig
    from plutflow.overlay.ports import SimPort
    from plutflow.overlay.simbuild import repo_root

    root = repo_root()
    shutil.copytree(root / "sim", c.path("tree/sim"), ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "overlay_src" / "rtl", c.path("tree/overlay_src/rtl"))
    broken = c.path("tree/overlay_src/rtl/pf_engine.v")
    broken.write_text(broken.read_text().replace("endmodule", "endmodul"))
    c.snapshot()
    old = os.environ.get("PLUTFLOW_ROOT")
    os.environ["PLUTFLOW_ROOT"] = str(c.path("tree"))
    try:
        out = c.api(lambda: SimPort(OverlayConfig.named("small"), 1 << 16))
    finally:
        os.environ.pop("PLUTFLOW_ROOT") if old is None else os.environ.update(PLUTFLOW_ROOT=old)
    out.said = next((ln for ln in out.said.splitlines() if "pf_engine.v" in ln), out.said)
    out.left = []  # the build directory of the broken tree (its own cache)
    return out


@defect(
    "sim_truncated_build",
    SIM,
    "a cached simulator library cut to half its size",
    "reused forever (crash on load)",
    code=None,
    expect="returned rebuilt",
)
def _(c: Case) -> Outcome:
    import shutil

    from plutflow.overlay.config import OverlayConfig
    from plutflow.overlay.simbuild import build_cache

    harness = build_cache()

    lib = harness.build_sim_lib(OverlayConfig.named("small").rtl_parameters())
    copy_dir = c.path("cache")
    copy_dir.mkdir()
    shutil.copy(lib, copy_dir / lib.name)
    shutil.copy(lib.parent / "ok.json", copy_dir / "ok.json")
    c.snapshot()

    def check() -> str:
        whole = harness._stamp_ok(copy_dir / lib.name, copy_dir / "ok.json")
        data = (copy_dir / lib.name).read_bytes()
        (copy_dir / lib.name).write_bytes(data[: len(data) // 2])
        cut = harness._stamp_ok(copy_dir / lib.name, copy_dir / "ok.json")
        return "rebuilt (the stamp's SHA-256 no longer matches)" if whole and not cut else "REUSED"

    return c.api(check)


@defect(
    "sim_sigterm",
    SIM,
    "SIGTERM to `run --backend sim` mid-run",
    "plutflow-sim-* temporary directories left behind",
    code=130,
    expect="interrupted",
)
def _(c: Case) -> Outcome:
    tmp = c.path("tmp")
    tmp.mkdir()
    out = _run_sim(c, env={"TMPDIR": str(tmp)}, signal_after=6)
    out.note = f"{len(list(tmp.iterdir()))} entries left in TMPDIR"
    return out


@defect(
    "sim_ctrl_c",
    SIM,
    "Ctrl-C (SIGINT) during `run --backend sim`",
    "a 23-35-line traceback",
    code=130,
    expect="^plutflow: interrupted$",
)
def _(c: Case) -> Outcome:
    return _run_sim(c, signal_after=6, sig=signal.SIGINT)


@defect(
    "sim_long_tmpdir",
    SIM,
    "TMPDIR of 150 characters (socket paths over 107 bytes)",
    "traceback",
    code=0,
    expect=r"simulation wall time",
)
def _(c: Case) -> Outcome:
    tmp = c.path("t" * 150)
    tmp.mkdir()
    np.save(c.path("few.npy"), np.zeros((4, 28, 28), np.uint8))
    c.snapshot()
    return c.proc(
        "run",
        c.shared.pfa,
        "--backend",
        "sim",
        "--data",
        c.path("few.npy"),
        "-q",
        env={"TMPDIR": str(tmp)},
    )


# --- board transport (PYNQ code path against the PYNQ stand-in over the RTL) -----------

BOARD = "board transport"


def _pynq_accel(pynq, **kw):
    from plutflow.overlay.pynq_port import open_board
    from plutflow.runtime import Accelerator, Artifact

    _tests_on_path()
    from test_pynq_port import artifact

    art: Artifact = artifact()
    port = open_board(
        "plutflow.bit", art.compiled.program(2).mem_size, art.overlay, pynq_module=pynq
    )
    return Accelerator(art, "pynq", port=port, max_batch=2, **kw)


@defect(
    "pynq_error_bit",
    BOARD,
    "a run that ends with an error status (clobbered descriptor)",
    "no reset: the overlay stayed wedged",
    code=None,
    expect="the overlay was reset",
)
def _(c: Case) -> Outcome:
    from plutflow.overlay.pynq_sim import make_pynq

    _tests_on_path()
    from test_pynq_port import OVERLAY, _images

    pynq = make_pynq(OVERLAY, 8 << 20, interrupt=False)

    def run() -> str:
        with _pynq_accel(pynq) as acc:
            acc.run(_images(1))
            prog = acc.executor.program(1)
            acc.port.mem_write(prog.prog_offset, np.zeros(4, np.uint8))
            acc.executor._loaded = 1
            acc.run(_images(1))
        return "no error"

    out = c.api(run)
    out.note = f"bitstream loads: {pynq.state['downloads']} (the second is the reset)"
    return out


@defect(
    "pynq_timeout",
    BOARD,
    "a run that never finishes (memory latency 10^6 cycles)",
    "no reset after the timeout",
    code=None,
    expect=r"did not finish within 0\.2 s",
)
def _(c: Case) -> Outcome:
    from plutflow.overlay.pynq_sim import make_pynq

    _tests_on_path()
    from test_pynq_port import OVERLAY, _images

    pynq = make_pynq(OVERLAY, 8 << 20, interrupt=False, latency=1_000_000)

    def run() -> str:
        with _pynq_accel(pynq, timeout_s=0.2) as acc:
            acc.run(_images(1))
        return "no error"

    out = c.api(run)
    out.note = f"bitstream loads: {pynq.state['downloads']} (the second is the reset)"
    return out


@defect(
    "pynq_allocate_fails",
    BOARD,
    "`pynq.allocate` raising (CMA exhausted)",
    "the PYNQ exception escaped unwrapped",
    code=None,
    expect="pynq.allocate of",
)
def _(c: Case) -> Outcome:
    from plutflow.overlay.pynq_port import PynqPort
    from plutflow.overlay.pynq_sim import make_pynq

    _tests_on_path()
    from test_pynq_port import OVERLAY

    pynq = make_pynq(OVERLAY, 1 << 20)

    def no_cma(*a, **k):
        raise RuntimeError("Failed to allocate memory! (CMA exhausted)")

    pynq.allocate = no_cma
    return c.api(lambda: PynqPort(object(), pynq, 4096))


@defect(
    "pynq_overlay_fails",
    BOARD,
    "`pynq.Overlay` raising (a .bit without its .hwh)",
    "the PYNQ exception escaped unwrapped",
    code=None,
    expect="cannot load the overlay",
)
def _(c: Case) -> Outcome:
    from plutflow.overlay.pynq_port import open_board
    from plutflow.overlay.pynq_sim import make_pynq

    _tests_on_path()
    from test_pynq_port import OVERLAY

    pynq = make_pynq(OVERLAY, 1 << 20)

    def no_hwh(self, bitfile: str, download: bool = True) -> None:
        raise OSError(f"No such file or directory: '{bitfile[:-4]}.hwh'")

    pynq.Overlay.__init__ = no_hwh
    return c.api(lambda: open_board("plutflow.bit", 1 << 16, OVERLAY, pynq_module=pynq))


@defect(
    "pynq_short_transfer",
    BOARD,
    "a descriptor that reads past the memory window",
    "no check against the transfer length",
    code=None,
    expect="outside the memory window",
)
def _(c: Case) -> Outcome:
    from plutflow.overlay.contract import CONTRACT
    from plutflow.overlay.pynq_sim import make_pynq

    _tests_on_path()
    from test_pynq_port import OVERLAY, _images

    pynq = make_pynq(OVERLAY, 8 << 20, interrupt=False)

    def run() -> str:
        with _pynq_accel(pynq) as acc:
            acc.run(_images(1))
            prog = acc.executor.program(1)
            at = prog.prog_offset + 128 * 3 + 4 * CONTRACT.fields["O_ADDR"].word
            acc.port.mem_write(at, np.array([acc.port.mem_size + 4096], "<u4"))
            acc.executor._loaded = 1  # the altered program stays in memory for this run
            acc.run(_images(1))
        return "no error"

    return c.api(run)


# --- cosmetic -----------------------------------------------------------------------

COSMETIC = "cosmetic"


@defect(
    "inspect_label",
    COSMETIC,
    "`inspect m.pfq`",
    "quantizer options under 'format v'",
    code=0,
    expect=r"^integer model '.*': 9 layers, schemes W8A8 int8$",
)
def _(c: Case) -> Outcome:
    path = c.pfq()
    c.snapshot()
    p = subprocess.run(
        [sys.executable, "-m", "plutflow", "inspect", str(path)], capture_output=True, text=True
    )
    labels = [ln for ln in p.stdout.splitlines() if "format v" in ln]
    return Outcome(
        p.returncode,
        p.stdout.splitlines()[0],
        "Traceback" in p.stderr,
        c.left(),
        f"{len(labels)} lines labelled 'format v'",
    )


@defect(
    "inspect_pipe",
    COSMETIC,
    "`plutflow inspect m.pfq --markdown | head -1`",
    "BrokenPipeError traceback",
    code=0,
    expect=r"^$|.",
)
def _(c: Case) -> Outcome:
    path = c.pfq()
    c.snapshot()
    p1 = subprocess.Popen(
        [sys.executable, "-m", "plutflow", "inspect", str(path), "--markdown"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    p1.stdout.close()  # the reader is gone
    err = p1.stderr.read().decode()
    p1.wait(timeout=60)
    return Outcome(
        p1.returncode,
        (err.strip().splitlines() or ["(nothing on stderr)"])[-1],
        "Traceback" in err,
        c.left(),
    )


@defect(
    "runtime_warnings",
    COSMETIC,
    "quantize the demo and eval it (stderr)",
    "numpy RuntimeWarnings on stderr",
    code=0,
    expect=r"^$",
    left=("out.pfq",),
)
def _(c: Case) -> Outcome:
    demo = c.shared.demo
    c.snapshot()
    q = c.proc(
        "quantize",
        demo.model,
        "--calib",
        f"{demo.data}:calib_images",
        "--num-calib",
        "64",
        "--preprocess",
        demo.meta,
        "-q",
        "-o",
        c.path("out.pfq"),
    )
    if q.code != 0:
        return q
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "plutflow",
            "eval",
            str(c.path("out.pfq")),
            "--data",
            str(demo.data),
            "--limit",
            "256",
        ],
        capture_output=True,
        text=True,
    )
    warn = [ln for ln in (p.stderr + q.said).splitlines() if "Warning" in ln]
    return Outcome(
        p.returncode,
        "; ".join(warn),
        "Traceback" in p.stderr,
        c.left(),
        "no warning on stderr" if not warn else f"{len(warn)} warnings",
    )


#: What the measured note must say, where the exit code and line are not the whole fix.
MEASURED = {
    "compile_onto_input": "^source intact$",
    "quantize_onto_input": "^source intact$",
    "deploy_remote_dir": "no command ran",
    "deploy_local_option": "no local command ran",
    "deploy_remote_python": "nothing ran",
    "deploy_interrupted_upload": "^board copy intact \\(interrupted with",
    "deploy_timeout": "^nothing left running",
    "deploy_tilde": r"^went to \$HOME$",
    "sim_sigterm": "^0 entries",
    "pynq_error_bit": "^bitstream loads: 2 ",
    "pynq_timeout": "^bitstream loads: 2 ",
    "inspect_label": "^0 lines",
    "runtime_warnings": "^no warning",
    "pfq_bomb": r"^peak \d{1,2} MiB",  # under 100 MiB
    "pfq_member_6gib": r"^peak \d{1,2} MiB",
    "npy_header_2_40": r"^peak \d{1,2} MiB",
    "idx_gz_bomb": r"^peak \d{1,2} MiB",
}
for _key, _pattern in MEASURED.items():
    DEFECTS[_key].note = _pattern


def run(key: str, work: Path, shared: Shared) -> Outcome:
    """Run defect ``key`` in its own directory under ``work``."""
    return DEFECTS[key].run(Case(work / key, shared))
