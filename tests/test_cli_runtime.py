"""CLI: compile, run, compare (with the first-mismatch report), report, selftest."""

from __future__ import annotations

import pytest

from plutflow.api import quantize_model
from plutflow.assets import DATA_DIR, DemoAssets
from plutflow.cli import main
from plutflow.runtime import Artifact

DATA = str(DATA_DIR / "fashion_mnist_test2000.npz")
SMALL = ["--overlay", "int8", "--array", "8"]


@pytest.fixture(scope="module")
def pfq(tmp_path_factory):
    a = DemoAssets()
    model = quantize_model(
        str(a.model), a.calib_set()[:64], preprocess=a.preprocess(), progress=False
    )
    return model.save(tmp_path_factory.mktemp("m") / "demo.pfq")


@pytest.fixture(scope="module")
def pfa(pfq, tmp_path_factory):
    out = tmp_path_factory.mktemp("a") / "demo.pfa"
    assert main(["compile", str(pfq), "-o", str(out), *SMALL]) == 0
    return out


def test_compile_prints_the_placement(pfq, tmp_path, capsys) -> None:
    out = tmp_path / "x.pfa"
    assert main(["compile", str(pfq), "-o", str(out), *SMALL]) == 0
    text = capsys.readouterr().out
    assert "9 of 9 layers on the overlay" in text
    assert "| /Add | add | ADD | - |" in text and "| /Flatten | flatten | view |" in text
    assert Artifact.load(out).overlay.p == 8


def test_run_golden_and_sim(pfa, tmp_path, capsys) -> None:
    js = tmp_path / "r.json"
    assert (
        main(
            [
                "run",
                str(pfa),
                "--backend",
                "golden",
                "--data",
                DATA,
                "--limit",
                "64",
                "-q",
                "--json",
                str(js),
            ]
        )
        == 0
    )
    assert "top-1 on these 64 images" in capsys.readouterr().out
    assert main(["run", str(pfa), "--backend", "sim", "--data", DATA, "--limit", "4", "-q"]) == 0
    out = capsys.readouterr().out
    assert "overlay cycles per image" in out and "MB read" in out


def test_compare_reports_the_first_mismatch(pfa, capsys, monkeypatch) -> None:
    assert main(["compare", str(pfa), "--data", DATA, "--limit", "2", "-q"]) == 0
    assert "golden vs sim: bit-exact on 2 images" in capsys.readouterr().out
    load = Artifact.load

    def corrupted(path):  # the first requant record's bias, bit 20, in the parameter region
        art = load(path)
        params = bytearray(art.compiled.params)
        params[2] ^= 1 << 4
        art.compiled.params = bytes(params)
        return art

    monkeypatch.setattr(Artifact, "load", corrupted)
    assert main(["compare", str(pfa), "--data", DATA, "--limit", "2", "-q"]) == 1
    out = capsys.readouterr().out
    assert "first mismatch in layer /stem/stem.0/Conv" in out
    assert "channel 0" in out and "expected" in out and "actual" in out


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_writes_tables_and_plots(pfa, tmp_path, capsys, fmt) -> None:
    out = tmp_path / "rep"
    args = [
        "report",
        str(pfa),
        "--backend",
        "golden",
        "--data",
        DATA,
        "--limit",
        "64",
        "-q",
        "--out",
        str(out),
        "--reference",
        str(DemoAssets().model),
    ]
    assert main(args + (["--html"] if fmt == "html" else [])) == 0
    page = (out / f"report.{fmt}").read_text()
    for text in ("float", "fake-quant", "golden (integer)", "Memory", "weight SQNR dB",
                 "W8A8 int8", f"plutflow report: {pfa.name}, "):  # fmt: skip
        assert text in page
    assert (out / "accuracy.png").stat().st_size > 1000
    assert (out / "memory.png").exists()


def test_report_plots_the_compiled_configurations_resources(tmp_path) -> None:
    from plutflow.report.run_report import ReportData, write_report

    data = ReportData(
        title="t", overlay={"pe_type": "int8", "p": 16}, accuracy={"golden": 90.0},
        memory={"integer": 1000}, evaluation=None,
        resources=[{"config": "int8", "LUT": 22570, "FF": 52476, "DSP": 321,
                    "BRAM36": 59.0, "URAM": 45}],
    )  # fmt: skip
    path = write_report(data, tmp_path, "html")
    page = path.read_text()
    assert "resources.png" in page and "Resource estimate of the int8 configuration" in page
    assert (tmp_path / "resources.png").stat().st_size > 1000
    assert "22,570 (19.3 %)" in page


def test_selftest_golden(capsys) -> None:
    assert main(["selftest", "--backend", "golden", "--images", "4"]) == 0
    out = capsys.readouterr().out
    assert "PASS 4 inputs bit-exact with golden" in out and "selftest passed" in out
    assert "INFO inputs: 4 the artifact's own sample inputs" in out
    assert "PASS golden on this host reproduces the outputs stored at compile time" in out


def test_the_wrong_kind_of_file_says_what_it_is(pfq, pfa, capsys) -> None:
    """A .pfa where a .pfq belongs (and the reverse, and an .onnx) names what the file
    is and what to do, instead of a zip error."""
    onnx_model = str(DemoAssets().model)
    cases = [
        (["eval", str(pfa), "--data", DATA], "is a plutflow artifact (.pfa), not an integer"),
        (["inspect", str(pfa)], "is a plutflow artifact (.pfa)"),
        (["compile", onnx_model, "-o", "x.pfa"], "is an ONNX model, not an integer model"),
        (
            ["run", str(pfq), "--data", DATA, "--backend", "golden"],
            "compile it first: plutflow compile",
        ),
    ]
    for args, words in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err


def test_report_layer_labels_are_unique_and_readable() -> None:
    from plutflow.report.run_report import short_labels

    torch_names = ["/features/features.0/features.0.0/Conv",
                   "/features/features.1/conv/conv.0/conv.0.0/Conv",
                   "/features/features.2/conv/conv.0/conv.0.0/Conv",
                   "/classifier/classifier.1/Gemm"]  # fmt: skip
    labels = short_labels(torch_names)
    assert len(set(labels)) == 4 and all(len(label) <= 22 for label in labels)
    assert labels[0] == "features.0.0/Conv" and labels[1].endswith("tures.1/conv.0.0/Conv")
    assert short_labels(["/stem/stem.0/Conv", "/Add", "/fc/Gemm"]) == ["Conv", "Add", "Gemm"]
    assert short_labels(["/stem/stem.0/Conv", "/down/down.0/Conv"]) == [
        "stem.0/Conv",
        "down.0/Conv",
    ]
    assert short_labels(["x", "x"]) == ["x#1", "x#2"]


def test_report_resources_are_the_compiled_configurations_or_say_why(tmp_path) -> None:
    import json

    from plutflow.cli.runtime import compiled_resources
    from plutflow.overlay.config import OverlayConfig

    cfg = OverlayConfig.for_pe("int8", p=8)
    rows = [{"config": "int8", "params": OverlayConfig.named("board").rtl_parameters(),
             "resources": {"LUT": 1}},
            {"config": "int8 P=8", "params": cfg.rtl_parameters(),
             "resources": {"LUT": 2}}]  # fmt: skip
    path = tmp_path / "timing.json"
    path.write_text(json.dumps(rows))
    assert compiled_resources(path, cfg) == ([{"config": "int8 P=8", "LUT": 2}], "")
    none, why = compiled_resources(path, OverlayConfig.for_pe("shift", p=8))
    assert none == [] and "no estimate for this configuration" in why
    assert "not found" in compiled_resources(tmp_path / "missing.json", cfg)[1]
