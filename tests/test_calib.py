"""Calibration data sources, preprocessing and observers."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from plutflow.calib import OBSERVERS, Preprocess, TensorStats, choose_range, load_images, read_idx
from plutflow.calib.calibrate import collect_stats
from plutflow.errors import CalibrationError
from plutflow.ir import import_onnx


def write_idx(path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def test_idx_round_trip_and_corruption(tmp_path, rng) -> None:
    arr = rng.integers(0, 256, (5, 4, 3)).astype(np.uint8)
    for name in ("a-idx3-ubyte", "b-idx3-ubyte.gz"):
        write_idx(tmp_path / name, arr)
        assert np.array_equal(read_idx(tmp_path / name), arr)
    raw = (tmp_path / "a-idx3-ubyte").read_bytes()
    (tmp_path / "short-idx3-ubyte").write_bytes(raw[:-7])
    with pytest.raises(CalibrationError, match="truncated"):
        read_idx(tmp_path / "short-idx3-ubyte")
    (tmp_path / "bad-idx3-ubyte").write_bytes(b"\x01\x02" + raw[2:])
    with pytest.raises(CalibrationError, match="magic"):
        read_idx(tmp_path / "bad-idx3-ubyte")


def test_image_folder_resize_and_channels(tmp_path, rng) -> None:
    (tmp_path / "sub").mkdir()
    for i, size in enumerate([(20, 30), (10, 12), (8, 8)]):
        img = rng.integers(0, 256, (*size, 3)).astype(np.uint8)
        Image.fromarray(img).save(tmp_path / ("sub" if i else ".") / f"im{i}.png")
    imgs = load_images(tmp_path, size=(16, 16), channels=1)
    assert imgs.shape == (3, 16, 16, 1) and imgs.dtype == np.uint8
    with pytest.raises(CalibrationError, match="differ in size"):
        load_images(tmp_path, size=None, channels=3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationError, match="no images"):
        load_images(tmp_path / "empty")


def test_npy_npz_sources(tmp_path, rng) -> None:
    arr = rng.integers(0, 256, (4, 6, 6)).astype(np.uint8)
    np.save(tmp_path / "a.npy", arr)
    np.savez(tmp_path / "b.npz", images=arr, labels=np.arange(4))
    np.savez(tmp_path / "c.npz", foo=arr, bar=arr)
    assert np.array_equal(load_images(tmp_path / "a.npy"), arr)
    assert np.array_equal(load_images(tmp_path / "b.npz"), arr)
    assert np.array_equal(load_images(f"{tmp_path}/c.npz:bar"), arr)
    with pytest.raises(CalibrationError, match="say which"):
        load_images(tmp_path / "c.npz")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CalibrationError, match="cannot read"):
        load_images(tmp_path / "obj.npy")
    with pytest.raises(CalibrationError, match="not found"):
        load_images(tmp_path / "missing.npy")


def test_preprocess_layouts(tmp_path) -> None:
    raw = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    pre = Preprocess(channels=3, scale=1.0, mean=[1, 2, 3], std=[2, 2, 2], layout="NCHW")
    out = pre.apply(raw)
    assert out.shape == (2, 3, 4, 4) and out.dtype == np.float32
    assert out[1, 2, 3, 1] == (raw[1, 3, 1, 2] - 3) / 2
    nhwc = Preprocess(channels=3, scale=1.0, layout="NHWC").apply(raw)
    assert nhwc.shape == (2, 4, 4, 3)
    cfg = tmp_path / "pre.yaml"
    cfg.write_text("size: [8, 8]\nchannels: 1\nmean: 0.5\nstd: 0.25\n")
    pre = Preprocess.from_file(cfg)
    assert pre.size == (8, 8) and pre.mean == [0.5]
    assert pre.apply(raw[..., :1]).shape == (2, 1, 8, 8)
    cfg.write_text("sizes: [8, 8]\n")
    with pytest.raises(CalibrationError, match="unknown preprocessing keys"):
        Preprocess.from_file(cfg)
    with pytest.raises(CalibrationError, match="channels"):
        Preprocess(channels=1).apply(raw)


def test_observers_order(rng) -> None:
    stats = TensorStats()
    data = np.concatenate([rng.normal(size=100_000), [40.0, -35.0]]).astype(np.float32)
    for chunk in np.array_split(data, 10):
        stats.update(chunk, rng)
    ranges = {m: choose_range(stats, m) for m in OBSERVERS}
    assert ranges["minmax"] == (-35.0, 40.0)
    assert 3.0 < ranges["percentile"][1] < 40.0 and -35.0 < ranges["percentile"][0] < -3.0
    assert 0 < ranges["mse"][1] < 40.0  # clipping the outliers lowers the MSE
    relu = TensorStats()
    relu.update(np.abs(data), rng)
    assert choose_range(relu, "percentile")[0] == 0.0
    with pytest.raises(ValueError, match="unknown observer"):
        choose_range(stats, "magic")


def test_bad_calibration_inputs_are_refused(tmp_path) -> None:
    """A NaN pixel, a std of 0, a typo in FILE.npz:KEY and a negative count are each one
    clear error (not a useless model, not the wrong array, not silently fewer images)."""
    import subprocess
    import sys
    from pathlib import Path

    from plutflow.calib.calibrate import check_finite
    from plutflow.calib.sources import read_array

    x = np.ones((2, 1, 4, 4), np.float32)
    x[1, 0, 2, 3] = np.nan
    with pytest.raises(CalibrationError, match="1 NaN or infinite values"):
        check_finite(x, "calibration images")
    with pytest.raises(CalibrationError, match="std non-zero"):
        Preprocess.from_dict({"std": 0})
    with pytest.raises(CalibrationError, match="finite"):
        Preprocess.from_dict({"scale": float("nan")})
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 4, 4)), calib_images=np.ones((2, 4, 4)))
    with pytest.raises(CalibrationError, match="no array 'calib_imgs'; it holds"):
        read_array(tmp_path / "d.npz", "calib_imgs")
    assert read_array(tmp_path / "d.npz", "calib_images").max() == 1
    exe = Path(sys.executable).with_name("plutflow")
    res = subprocess.run([str(exe), "eval", "m.pfq", "--data", "d.npz", "--limit", "-3"],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 2 and "must be at least 1, not -3" in res.stderr


@pytest.mark.parametrize("model", ["demo", "mobile_like"])
def test_onnxruntime_calibration_sees_what_the_reference_sees(demo, model) -> None:
    """The float pass on onnxruntime observes the same tensors (every fused activation
    of mobile_like included) with the same statistics as the numpy reference."""
    from plutflow.calib.ort_float import runner

    if model == "demo":
        graph, x = import_onnx(demo.model), demo.calib_set()[:96]
    else:
        graph = import_onnx(Path(__file__).parent / "data" / "mobile_like.onnx")
        x = np.random.default_rng(0).normal(size=(40, 3, 32, 32)).astype(np.float32)
    assert runner(graph) is not None
    ref = collect_stats(graph, x, batch_size=32, progress=False, runtime="numpy")
    got = collect_stats(graph, x, batch_size=32, progress=False, runtime="onnxruntime")
    assert list(got) == list(ref)
    for name, st in ref.items():
        span = max(st.hi - st.lo, 1e-6)
        assert abs(got[name].lo - st.lo) <= 1e-4 * span and abs(got[name].hi - st.hi) <= 1e-4 * span
        assert got[name].seen == st.seen
        a, b = np.sort(np.concatenate(st.sample)), np.sort(np.concatenate(got[name].sample))
        assert a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-4 * span), name


def test_graphs_onnxruntime_cannot_take_use_the_reference() -> None:
    from plutflow.calib.ort_float import runner
    from plutflow.errors import CalibrationError

    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 4, 6, 6])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 4, 6, 6])
    pad = onnx.numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "p")
    node = onnx.helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect")
    proto = onnx.helper.make_model(onnx.helper.make_graph([node], "g", [x], [y], [pad]),
                                   opset_imports=[onnx.helper.make_opsetid("", 17)])  # fmt: skip
    graph = import_onnx(proto)
    assert runner(graph) is None
    data = np.random.default_rng(1).normal(size=(3, 4, 6, 6)).astype(np.float32)
    assert set(collect_stats(graph, data, progress=False)) == {"x", "y"}  # on the reference
    with pytest.raises(CalibrationError, match="cannot run on onnxruntime"):
        collect_stats(graph, data, progress=False, runtime="onnxruntime")
