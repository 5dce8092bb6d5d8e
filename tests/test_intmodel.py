"""The .pfq file: integrity checks and clear errors on bad files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from plutflow.errors import ArtifactError
from plutflow.intmodel import IntLayer, IntModel, TensorSpec


def tiny_model() -> IntModel:
    spec = TensorSpec((None, 4), "int8", 0, 0.1)
    table = np.arange(-128, 128, dtype=np.int16).clip(-128, 127).astype(np.int8)
    return IntModel(
        "tiny",
        ["x"],
        ["y"],
        {"x": spec, "y": spec},
        [IntLayer("t", "table", ["x"], ["y"], {}, {"table": table})],
    )


def read_entries(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_entries(path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in entries.items():
            zf.writestr(n, d)


def test_round_trip(tmp_path) -> None:
    m = tiny_model()
    loaded = IntModel.load(m.save(tmp_path / "m.pfq"))
    assert loaded.to_json() == m.to_json()
    assert np.array_equal(loaded.layers[0].params["table"], m.layers[0].params["table"])


def test_truncated_file(tmp_path) -> None:
    path = tiny_model().save(tmp_path / "m.pfq")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        IntModel.load(path)


def test_tampered_array_fails_checksum(tmp_path) -> None:
    path = tiny_model().save(tmp_path / "m.pfq")
    entries = read_entries(path)
    key = "layer/0/table.npy"
    entries[key] = entries[key][:-1] + bytes([entries[key][-1] ^ 1])
    write_entries(path, entries)
    with pytest.raises(ArtifactError, match="checksum mismatch in array layer/0/table"):
        IntModel.load(path)


def test_newer_version_and_wrong_format(tmp_path) -> None:
    path = tiny_model().save(tmp_path / "m.pfq")
    entries = read_entries(path)
    desc = json.loads(entries["__model__.json"])
    for change, message in (({"version": 99}, "version 99"), ({"format": "x"}, "not a plutflow")):
        write_entries(path, {**entries, "__model__.json": json.dumps({**desc, **change}).encode()})
        with pytest.raises(ArtifactError, match=message):
            IntModel.load(path)


def test_float_arrays_are_refused(tmp_path) -> None:
    m = tiny_model()
    m.layers[0].params["table"] = m.layers[0].params["table"].astype(np.float32)
    with pytest.raises(ArtifactError, match="must be integer"):
        m.save(tmp_path / "m.pfq")
    assert not (tmp_path / "m.pfq").exists()


def test_missing_and_non_zip(tmp_path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        IntModel.load(tmp_path / "nope.pfq")
    (tmp_path / "text.pfq").write_text("hello")
    with pytest.raises(ArtifactError, match="not a valid"):
        IntModel.load(tmp_path / "text.pfq")


def test_samples_round_trip_and_bad_descriptions(tmp_path) -> None:
    """Sample inputs travel with the model; a description that names a missing array or a
    sample that does not fit the inputs is one clear error, not a traceback."""
    import hashlib

    m = tiny_model()
    m.samples = {"x": np.arange(8, dtype=np.int8).reshape(2, 4)}
    path = m.save(tmp_path / "m.pfq")
    assert np.array_equal(IntModel.load(path).samples["x"], m.samples["x"])
    entries = read_entries(path)
    desc = json.loads(entries["__model__.json"])
    for key, value in (("samples", ["nope"]), ("constants", ["ghost"])):
        bad = {**desc, key: value}
        write_entries(tmp_path / "bad.pfq", {**entries, "__model__.json": json.dumps(bad).encode()})
        with pytest.raises(ArtifactError, match="bad description"):
            IntModel.load(tmp_path / "bad.pfq")
    wrong = np.zeros((2, 5), np.int8)
    digests = {**desc["sha256"], "sample/x": hashlib.sha256(wrong.tobytes()).hexdigest()}
    write_entries(
        tmp_path / "bad.pfq",
        {**entries, "sample/x.npy": _npy(wrong),
         "__model__.json": json.dumps({**desc, "sha256": digests}).encode()},
    )  # fmt: skip
    with pytest.raises(ArtifactError, match="sample 'x' does not fit"):
        IntModel.load(tmp_path / "bad.pfq")


def _npy(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()
