"""The command line, run in-process and as the installed console script."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from builders import ModelBuilder
from plutflow.cli import main
from plutflow.intmodel import IntModel


def test_demo_prints_accuracy_memory_and_layers(capsys) -> None:
    assert main(["demo", "--images", "300", "-q"]) == 0
    out = capsys.readouterr().out
    for text in (
        "float32 top-1",
        "integer (golden) top-1",
        "parameters:",
        "peak activations:",
        "/res_b/res_b.0/Conv",
        "global_avgpool",
        "simulated KV260 overlay: int8 PEs, 16x16 array",
        "images/s modelled",
        "bit-exact with golden on 32 images: yes",
    ):
        assert text in out


def test_quantize_eval_inspect(tmp_path, demo, capsys) -> None:
    out = tmp_path / "m.pfq"
    calib = f"{demo.data}:calib_images"
    assert (
        main(
            [
                "quantize",
                str(demo.model),
                "--calib",
                calib,
                "--preprocess",
                str(demo.meta),
                "--num-calib",
                "128",
                "-o",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    model = IntModel.load(out)
    assert model.meta["calibration_images"] == 128
    assert model.meta["preprocess"]["mean"] == [0.286]
    res = tmp_path / "r.json"
    assert (
        main(
            [
                "eval",
                str(out),
                "--data",
                str(demo.data),
                "--limit",
                "400",
                "--reference",
                str(demo.model),
                "--json",
                str(res),
            ]
        )
        == 0
    )
    result = json.loads(res.read_text())
    assert result["images"] == 400 and result["agreement_with_reference"] > 97
    assert abs(result["top1"] - result["reference_top1"]) < 2
    assert main(["inspect", str(out), "--markdown"]) == 0
    assert "| /fc/Gemm | gemm |" in capsys.readouterr().out
    assert main(["inspect", str(demo.model)]) == 0
    assert "Conv +Relu" in capsys.readouterr().out


def test_errors_exit_2_with_a_message(tmp_path, capsys) -> None:
    b = ModelBuilder((None, 3, 4, 4))
    model = b.build(b.node("Erf", ["x"]))
    path = tmp_path / "bad.onnx"
    path.write_bytes(model.SerializeToString())
    np.save(tmp_path / "calib.npy", np.zeros((4, 4, 4, 3), np.uint8))
    assert (
        main(
            [
                "quantize",
                str(path),
                "--calib",
                str(tmp_path / "calib.npy"),
                "-o",
                str(tmp_path / "o.pfq"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "node 'Erf_1' (op Erf)" in err
    assert not (tmp_path / "o.pfq").exists()
    (tmp_path / "broken.pfq").write_bytes(b"PK\x03\x04broken")
    assert main(["inspect", str(tmp_path / "broken.pfq")]) == 2
    assert "not a valid plutflow model" in capsys.readouterr().err


def test_free_height_and_width_with_input_shape_and_inferred_preprocessing(
    tmp_path, capsys
) -> None:
    """A fully convolutional model exported with symbolic H and W, fed RGB images with
    no preprocessing config: the error names --input-shape; with it, the model quantizes
    (3 channels inferred from the model), evaluates, and warns about unlike data."""
    b = ModelBuilder((None, 3, "H", "W"))
    y = b.node("Relu", [b.conv("x", 3, 4, pads=[1, 1, 1, 1])])
    y = b.node("Resize", [y, "", b.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    y = b.node("ReduceMean", [b.conv(y, 4, 2, pads=[1, 1, 1, 1])], axes=[2, 3], keepdims=0)
    path = tmp_path / "fcn.onnx"
    path.write_bytes(b.build(y).SerializeToString())
    rng = np.random.default_rng(0)
    np.save(tmp_path / "calib.npy", rng.integers(0, 256, (8, 12, 20, 3), dtype=np.uint8))
    out = tmp_path / "fcn.pfq"
    args = ["quantize", str(path), "--calib", str(tmp_path / "calib.npy"), "-o", str(out)]
    assert main(args) == 2
    assert "--input-shape" in capsys.readouterr().err
    assert main([*args, "--input-shape", "x=1x3x12x20"]) == 0
    err = capsys.readouterr().err
    assert "inferred from the model input (3 channel(s), NCHW, size 12x20" in err
    assert main(["eval", str(out), "--data", str(tmp_path / "calib.npy")]) == 0
    res = capsys.readouterr()
    assert "does not look like" not in res.err
    assert "8 images, no labels; predicted classes (first 10): [" in res.out
    np.save(tmp_path / "dark.npy", rng.integers(0, 20, (8, 12, 20, 3), dtype=np.uint8) * 0)
    assert main(["eval", str(out), "--data", str(tmp_path / "dark.npy")]) == 0
    assert "does not look like the calibration data" in capsys.readouterr().err
    assert main([*args, "--input-shape", "x=1x3x12"]) == 2
    assert "rank 4" in capsys.readouterr().err
    assert main([*args, "--input-shape", "y=1x3x12x20"]) == 2
    assert "inputs are x" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["quantize", "eval", "inspect", "demo"])
def test_console_script_help(command: str) -> None:
    exe = Path(sys.executable).with_name("plutflow")
    res = subprocess.run([str(exe), command, "--help"], capture_output=True, text=True, check=True)
    assert "usage: plutflow " + command in res.stdout
    assert len(res.stdout.splitlines()) > 5


def test_quantize_with_schemes_rules_and_auto_bits(tmp_path, demo, capsys) -> None:
    calib = f"{demo.data}:calib_images"
    out = tmp_path / "m.pfq"
    args = [
        "quantize",
        str(demo.model),
        "--calib",
        calib,
        "--preprocess",
        str(demo.meta),
        "--num-calib",
        "64",
        "-q",
        "-o",
        str(out),
    ]
    assert main([*args, "--scheme", "upot:4:8", "--rule", "/down2*=plut:3:4"]) == 0
    layers = IntModel.load(out).meta["quantizer"]["layers"]
    assert layers["/stem/stem.0/Conv"] == "W8A8 int8"
    assert layers["/res_a/res_a.0/Conv"] == "W4A8 upot"
    assert layers["/down2/down2.0/Conv"] == "W3A4 plut"
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "W3A4 plut" in text and "product tables" in text
    assert main([*args, "--scheme", "pot:4:8", "--auto-bits", "15000"]) == 0
    layers = IntModel.load(out).meta["quantizer"]["layers"]
    assert any(v.startswith(("W2", "W3")) for v in layers.values())
    assert main([*args, "--scheme", "plut:4:8"]) == 2
    assert "at most 4 bits" in capsys.readouterr().err


def test_a_log_gets_no_progress_bars(tmp_path, demo) -> None:
    """Progress bars only on a terminal: a redirected run's log holds the result lines."""
    exe = Path(sys.executable).with_name("plutflow")
    out = tmp_path / "m.pfq"
    args = [str(exe), "quantize", str(demo.model), "--calib", f"{demo.data}:calib_images",
            "--num-calib", "16", "--preprocess", str(demo.meta), "-o", str(out)]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, check=True)
    assert "calibrating" not in res.stderr and "\r" not in res.stderr, res.stderr
    assert "quantized" in res.stdout and out.exists()


def test_output_into_a_closed_pipe_is_quiet(tmp_path, demo, monkeypatch) -> None:
    """``plutflow inspect MODEL | head -1``: when the reader has left, exit 0 instead of a
    BrokenPipeError traceback."""
    import os
    import sys

    from plutflow.api import quantize_model

    path = quantize_model(demo.model, demo.calib_set()[:16], progress=False).save(
        tmp_path / "m.pfq"
    )
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone: every write fails with EPIPE
    closed = open(write_end, "w", buffering=1)  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stdout", closed)
    try:
        assert main(["inspect", str(path), "--markdown"]) == 0
    finally:
        monkeypatch.undo()
        with contextlib.suppress(OSError):
            closed.close()


def test_sigterm_unwinds_like_ctrl_c(tmp_path) -> None:
    """A terminated command runs its cleanup (finally blocks) and says so in one line."""
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import sys, time\n"
        "import plutflow.cli as cli\n"
        "def slow(args):\n"
        "    try:\n"
        "        print('ready', flush=True); time.sleep(60)\n"
        "    finally:\n"
        f"        open({str(tmp_path / 'cleaned')!r}, 'w').close()\n"
        "import plutflow.cli.model as model\n"
        "model.cmd_inspect = slow\n"
        "sys.exit(cli.main(['inspect', 'x.pfq']))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and (tmp_path / "cleaned").exists()
    assert err.strip() == "plutflow: interrupted"


def test_every_option_has_help_text() -> None:
    import argparse

    from plutflow.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    bare = [
        f"{name} {a.option_strings or a.dest}"
        for name, p in sub.choices.items()
        for a in p._actions
        if not isinstance(a, argparse._HelpAction) and not a.help
    ]
    assert bare == []


def test_plots_without_matplotlib_name_the_extra(monkeypatch) -> None:
    import sys

    from plutflow.errors import PlutflowError
    from plutflow.report.plots import pyplot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    with pytest.raises(PlutflowError, match=r"pip install 'plutflow\[report\]'"):
        pyplot()


def test_modelled_throughput_says_which_side_dominates() -> None:
    from plutflow.cli.runtime import dominant

    assert dominant(1e-4, 3e-4) == "the host layers take 75 % of the time"
    assert dominant(2e-3, 0.0) == "the overlay takes 100 % of the time"
