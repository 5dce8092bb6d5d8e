"""The vendor-free timing check: the path analyzer on small synthesized circuits (logic
depth, carry chains, DSP register packing, fanout), and the small overlay configuration
meeting 250 MHz with the margin (a new long combinational path fails here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "overlay_src"))

from sta import MODEL, Analyzer, Netlist  # noqa: E402
from timing import resources, synthesize  # noqa: E402

CIRCUITS = """
module chain(input clk, input [5:0] a, output reg y);
    reg [5:0] r; reg [5:0] s;
    always @(posedge clk) begin r <= a; s <= {s[4:0], ^r}; y <= ^(r & s) ^ &r ^ |s; end
endmodule
module deep(input clk, input [63:0] a, input [63:0] b, output reg [63:0] y);
    reg [63:0] ra, rb;
    always @(posedge clk) begin ra <= a; rb <= b; y <= (ra * rb) + (ra ^ rb); end
endmodule
module mac(input clk, input [15:0] a, input [15:0] b, output reg [31:0] p);
    reg [15:0] ra, rb; reg [31:0] m;
    always @(posedge clk) begin ra <= a; rb <= b; m <= ra * rb; p <= m; end
endmodule
"""


@pytest.fixture(scope="module")
def netlists(tmp_path_factory) -> dict[str, Netlist]:
    import json

    src = ROOT / "build" / "timing" / "test_circuits.v"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(CIRCUITS)
    rel = str(src.relative_to(ROOT))
    out = {}
    for top in ("chain", "deep", "mac"):
        net = synthesize(top, {}, f"test-{top}", [rel])
        out[top] = Netlist(json.loads(net.read_text()), top)
    return out


def test_deeper_logic_is_slower(netlists) -> None:
    shallow = Analyzer(netlists["chain"], 4.0).worst_arrival()
    deep = Analyzer(netlists["deep"], 4.0).worst_arrival()
    assert 0.5 < shallow < 2.5
    assert deep > 4.0  # a 64-bit multiply-add in one cycle misses 250 MHz
    paths = Analyzer(netlists["deep"], 4.0).worst(3)
    assert paths[0].arrival >= paths[-1].arrival
    assert paths[0].source.startswith(("ra", "rb")) and paths[0].sink.startswith("y")


def test_registers_around_a_multiplier_pack_into_the_dsp(netlists) -> None:
    """yosys leaves the registers in the fabric; the analyzer packs them as Vivado does, so
    the product is a DSP-internal A->P path."""
    an = Analyzer(netlists["mac"], 4.0)
    assert any(c["type"] == "DSP48E2" for c in netlists["mac"].cells.values())
    assert an.worst_arrival() <= MODEL["dsp_a_to_p"] + MODEL["uncertainty"] + 1e-9
    res = resources(netlists["mac"])
    assert res["DSP"] == 1 and res["FF"] >= 32


def test_small_configuration_meets_250_mhz() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "overlay_src" / "timing.py"), "--small", "--check",
         "--no-write"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert "small: worst path" in res.stdout, res.stdout + res.stderr
    assert res.returncode == 0, res.stdout[-3000:]
