"""Hostile and damaged ``.pfq``/``.pfa`` files: every one loads or raises a
PlutflowError (printed by the CLI as one ``plutflow: error:`` line), none leaks another
exception or allocates what its headers claim before checking it."""

from __future__ import annotations

import io
import json
import struct
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plutflow.calib.sources import read_array
from plutflow.errors import PlutflowError
from plutflow.intmodel import IntModel
from plutflow.intmodel import archive as arc
from plutflow.runtime import Artifact

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
import defects
from defects import npy_header


@pytest.fixture(scope="module")
def pfq(demo) -> bytes:
    from plutflow.api import quantize_model

    return quantize_model(demo.model, demo.calib_set()[:32], progress=False).to_bytes()


@pytest.fixture(scope="module")
def pfa(pfq, tmp_path_factory) -> bytes:
    import plutflow

    path = tmp_path_factory.mktemp("pfa") / "m.pfa"
    plutflow.compile(IntModel.from_bytes(pfq), overlay="int8", array=8).save(path)
    return path.read_bytes()


def load(kind: str, data: bytes, tmp_path) -> None:
    if kind == "pfq":
        IntModel.from_bytes(data, "fuzz.pfq")
    else:
        path = tmp_path / "fuzz.pfa"
        path.write_bytes(data)
        Artifact.load(path)


def must_be_clean(kind: str, data: bytes, tmp_path) -> None:
    try:
        load(kind, data, tmp_path)
    except PlutflowError as exc:
        assert "\n" not in str(exc).strip(), str(exc)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(["pfq", "pfa"]), st.data())
def test_byte_mutations(pfq, pfa, tmp_path, kind, data) -> None:
    """Flips, truncations, insertions and overwrites anywhere in the file."""
    blob = bytearray(pfq if kind == "pfq" else pfa)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(blob) - 1))
        how = data.draw(st.sampled_from(["flip", "cut", "insert", "zero", "ff"]))
        if how == "flip":
            blob[where] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "cut":
            del blob[where:]
            if not blob:
                break
        elif how == "insert":
            blob[where:where] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            n = data.draw(st.integers(1, 8))
            blob[where : where + n] = (b"\0" if how == "zero" else b"\xff") * n
    must_be_clean(kind, bytes(blob), tmp_path)


def rezip(blob: bytes, change) -> bytes:
    """The zip with each member's bytes passed through ``change(name, raw)``, deflated."""
    return defects.rezip(blob, change, deflate=True)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(["pfq", "pfa"]), st.data())
def test_description_mutations(pfq, pfa, tmp_path, kind, data) -> None:
    """Valid zips whose JSON has keys removed, values of the wrong type or shape."""
    name = "__model__.json" if kind == "pfq" else "manifest.json"

    def change(member: str, raw: bytes) -> bytes:
        if member != name:
            return raw
        desc = json.loads(raw)
        for _ in range(data.draw(st.integers(1, 3))):
            node, path = desc, []
            while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
                key = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict)
                                                else list(range(len(node)))))  # fmt: skip
                path.append((node, key))
                node = node[key]
            if not path:
                continue
            parent, key = path[-1]
            if isinstance(parent, dict) and data.draw(st.booleans()):
                del parent[key]
            else:
                parent[key] = data.draw(JSON_VALUES)
        return json.dumps(desc).encode()

    blob = pfq if kind == "pfq" else pfa
    if kind == "pfa":  # the description is inside the artifact's model member too
        blob = rezip(blob, lambda m, raw: raw)
    must_be_clean(kind, rezip(blob, change), tmp_path)


@pytest.mark.parametrize(
    "attack",
    ["huge_shape", "object_dtype", "float_dtype", "deep_json", "json_list", "bomb",
     "encrypted_flag", "unknown_method", "no_description", "empty_zip", "duplicate"],
)  # fmt: skip
def test_structural_attacks(pfq, tmp_path, monkeypatch, attack) -> None:
    first_array = next(n for n in zipfile.ZipFile(io.BytesIO(pfq)).namelist() if n.endswith(".npy"))
    if attack == "huge_shape":
        blob = rezip(pfq, lambda m, raw: npy_header((1 << 40,)) if m == first_array else raw)
    elif attack in ("object_dtype", "float_dtype"):
        dtype = "|O" if attack == "object_dtype" else "<f8"
        blob = rezip(pfq, lambda m, raw: npy_header((1,), dtype) + b"\0" * 8
                     if m == first_array else raw)  # fmt: skip
    elif attack == "deep_json":
        blob = rezip(pfq, lambda m, raw: b"[" * 100_000 + b"]" * 100_000
                     if m == "__model__.json" else raw)  # fmt: skip
    elif attack == "json_list":
        blob = rezip(pfq, lambda m, raw: b"[1, 2]" if m == "__model__.json" else raw)
    elif attack == "bomb":  # a member that inflates past the cap
        monkeypatch.setattr(arc, "MAX_MEMBER_BYTES", 1 << 20)
        blob = rezip(pfq, lambda m, raw: raw + b"\0" * (4 << 20) if m == first_array else raw)
    elif attack in ("encrypted_flag", "unknown_method"):
        blob = bytearray(pfq)
        at = blob.find(b"PK\x01\x02")  # the first central directory entry
        if attack == "encrypted_flag":
            blob[at + 8] |= 1
        else:
            blob[at + 10 : at + 12] = struct.pack("<H", 99)
        blob = bytes(blob)
    elif attack == "no_description":
        blob = rezip(pfq, lambda m, raw: None if m == "__model__.json" else raw)
    elif attack == "empty_zip":
        out = io.BytesIO()
        zipfile.ZipFile(out, "w").close()
        blob = out.getvalue()
    else:  # a layer reading a tensor nothing defines

        def change(m, raw):
            if m != "__model__.json":
                return raw
            desc = json.loads(raw)
            desc["layers"][0]["inputs"] = ["nowhere"]
            return json.dumps(desc).encode()

        blob = rezip(pfq, change)
    with pytest.raises(PlutflowError) as err:
        IntModel.from_bytes(blob, "attack.pfq")
    assert "\n" not in str(err.value)


def test_read_npy_checks_before_allocating() -> None:
    with pytest.raises(PlutflowError, match="does not match"):
        arc.read_npy(npy_header((1 << 40,), "<i8"), "x")
    good = io.BytesIO()
    np.save(good, np.arange(6, dtype=np.int16).reshape(2, 3))
    assert arc.read_npy(good.getvalue(), "x").shape == (2, 3)


def test_odd_escapes_in_an_npy_header_print_no_warning(tmp_path) -> None:
    # numpy parses the header as a Python literal; '\\O' makes Python warn (a
    # SyntaxWarning on stderr from 3.12) unless the loaders silence it
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (2,), '\\O': 1}"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00\x01"
    (tmp_path / "odd.npy").write_bytes(blob)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(PlutflowError):
            arc.read_npy(blob, "x")
        with pytest.raises(PlutflowError):
            read_array(tmp_path / "odd.npy")
    assert [str(w.message) for w in caught] == []


def test_output_never_overwrites_an_input(tmp_path, pfq, demo, capsys) -> None:
    from plutflow.cli import main

    path = tmp_path / "m.pfq"
    path.write_bytes(pfq)
    for argv in (["compile", str(path), "-o", str(path)],
                 ["export", str(path), "-o", str(path)],
                 ["quantize", str(demo.model), "--calib", f"{demo.data}:calib_images",
                  "--preprocess", str(demo.meta), "-o", str(demo.model)]):  # fmt: skip
        assert main(argv) == 2
        assert "is the input" in capsys.readouterr().err
    assert path.read_bytes() == pfq  # the source is intact


def test_atomic_writes_leave_nothing_behind(tmp_path, pfq) -> None:
    from plutflow.outputs import write_atomic

    model = IntModel.from_bytes(pfq)
    with pytest.raises(PlutflowError, match="is a directory"):
        model.save(tmp_path)
    with pytest.raises(PlutflowError, match="does not exist"):
        model.save(tmp_path / "missing" / "m.pfq")
    target = tmp_path / "m.pfq"
    write_atomic(target, b"old")
    model.save(target)
    assert IntModel.load(target).name == model.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pfq"]  # no temp files


@pytest.mark.parametrize(
    ("case", "message"),
    [("bad_yaml", "is not valid YAML"), ("bad_json", "is not valid JSON"),
     ("zero_size", "size must be"), ("huge_size", "size must be"),
     ("non_string_key", "unknown preprocessing keys"), ("empty_std", "must not be empty"),
     ("corrupt_npz", "cannot read"), ("string_labels", "labels must be"),
     ("short_labels", "2 labels for 4 images"), ("no_images", "holds no images")],
)  # fmt: skip
def test_bad_data_and_configs_are_one_line(tmp_path, pfq, capsys, case, message) -> None:
    from plutflow.cli import main

    model = tmp_path / "m.pfq"
    model.write_bytes(pfq)
    np.save(tmp_path / "imgs.npy", np.zeros((4, 28, 28), np.uint8))
    argv = ["eval", str(model), "--data", str(tmp_path / "imgs.npy")]
    files = {"bad_yaml": ("p.yaml", "size: [28, 28\nscale: 1"),
             "bad_json": ("p.json", '{"size": [28, 28],'),
             "zero_size": ("p.json", '{"size": [0, 0], "channels": 1}'),
             "huge_size": ("p.json", '{"size": [60000, 60000], "channels": 1}'),
             "non_string_key": ("p.yaml", "size: [28, 28]\n1.5: x\n"),
             "empty_std": ("p.json", '{"size": [28, 28], "channels": 1, "std": []}')}  # fmt: skip
    if case in files:
        name, text = files[case]
        (tmp_path / name).write_text(text)
        argv += ["--preprocess", str(tmp_path / name)]
    elif case == "corrupt_npz":
        (tmp_path / "c.npz").write_bytes(b"PK\x03\x04garbage")
        argv[3] = str(tmp_path / "c.npz")
    elif case == "no_images":
        np.save(tmp_path / "imgs.npy", np.zeros((0, 28, 28), np.uint8))
    else:
        labels = np.array(list("abcd")) if case == "string_labels" else np.array([1, 2])
        np.save(tmp_path / "l.npy", labels)
        argv += ["--labels", str(tmp_path / "l.npy")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()  # notes may come first
    assert err[-1].startswith("plutflow: error:") and message in err[-1]
    assert all(line.startswith("plutflow: ") for line in err)  # no traceback


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_overflowing_float_model_is_refused_by_name(demo) -> None:
    """A float model that overflows to inf on the calibration data names the tensor."""
    from plutflow.api import quantize_model
    from plutflow.errors import CalibrationError
    from plutflow.ir import import_onnx

    graph = import_onnx(demo.model)
    conv = next(n for n in graph.nodes if n.op == "Conv")
    w = graph.constants[conv.inputs[1]]
    graph.constants[conv.inputs[1]] = (w * np.float32(1e38)).astype(np.float32)
    with pytest.raises(CalibrationError, match="overflows or produces NaN"):
        quantize_model(graph, demo.calib_set()[:16], progress=False)


def test_decompression_bombs_stop_at_the_cap(tmp_path, monkeypatch) -> None:
    """A small gzip idx that inflates past the cap, and an image with too many pixels."""
    import gzip

    from PIL import Image

    from plutflow.calib import sources
    from plutflow.errors import CalibrationError

    monkeypatch.setattr(sources, "MAX_DATA_BYTES", 1 << 20)
    bomb = tmp_path / "x-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + (4096).to_bytes(4, "big") + (32).to_bytes(4, "big") * 2
    bomb.write_bytes(gzip.compress(header + bytes(4096 * 32 * 32)))
    assert bomb.stat().st_size < 64 << 10
    with pytest.raises(CalibrationError, match="more than"):
        sources.read_idx(bomb)
    monkeypatch.setattr(sources, "MAX_IMAGE_PIXELS", 1000)
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (100, 100)).save(folder / "big.png")  # 10,000 pixels, twice the limit
    with pytest.raises(CalibrationError, match="cannot decode image"):
        sources.read_image_folder(folder, None, 1)
