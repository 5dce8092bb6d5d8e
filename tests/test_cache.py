"""``plutflow cache``: the build cache's entries are classified from their stamps (current,
stale, incomplete, unstamped), test result folders and orphaned locks are found, and
``--prune`` removes all but the current builds."""

from __future__ import annotations

import json

from plutflow.overlay.simbuild import build_cache


def test_entries_are_classified_and_pruned(tmp_path, monkeypatch) -> None:
    h = build_cache()
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.v").write_text("module a; endmodule\n")
    root = tmp_path / "sim"
    root.mkdir()

    def cocotb_build(params: dict) -> str:
        key = h.build_key([src / "a.v"], "a", params)
        d = root / f"a-{key}"
        d.mkdir()
        (d / "Vtop.mk").write_text("x" * 100)
        (d / "plutflow-build.json").write_text(
            json.dumps({"toplevel": "a", "sources": [str(src / "a.v")], "parameters": params})
        )
        return d.name

    old4, old8 = cocotb_build({"P": 4}), cocotb_build({"P": 8})
    (src / "a.v").write_text("module a; wire w; endmodule\n")  # the sources change
    current = cocotb_build({"P": 4})  # rebuilt for today's sources
    (root / "a-0123456789abcdef").mkdir()  # an old build without a stamp
    (root / "a-0123456789abcdef" / "Vtop.mk").write_text("")
    (root / "a-x1y2z3w4").mkdir()  # a test's result folder
    (root / "a-x1y2z3w4" / "results.xml").write_text("<testsuites/>")
    (root / "pf_sim-0000000000000000").mkdir()  # an interrupted library build
    (root / "gone.lock").write_text("")  # its build was removed by hand
    states = {e["path"].name: (e["kind"], e["state"]) for e in h.cache_entries(root)}
    assert states == {
        current: ("cocotb build", "current"),
        old4: ("cocotb build", "stale"),
        old8: ("cocotb build", "stale"),
        "a-0123456789abcdef": ("cocotb build", "unstamped"),
        "a-x1y2z3w4": ("test results", "leftover"),
        "pf_sim-0000000000000000": ("simulator library", "incomplete"),
        "gone.lock": ("lock", "orphaned"),
    }
    removed = {e["path"].name for e in h.prune_cache(root=root)}
    assert removed == set(states) - {current}
    assert sorted(p.name for p in root.iterdir()) == [current]
    assert [e["path"].name for e in h.prune_cache(everything=True, root=root)] == [current]
    assert list(root.iterdir()) == []


def test_cache_command_lists_and_prunes(tmp_path, monkeypatch, capsys) -> None:
    import plutflow.overlay.simbuild as simbuild
    from plutflow.cli import main

    h = build_cache()
    monkeypatch.setattr(h, "BUILD", tmp_path)
    monkeypatch.setattr(simbuild, "build_cache", lambda: h)
    (tmp_path / "pf_accel-a1b2c3d4").mkdir()
    (tmp_path / "pf_accel-a1b2c3d4" / "results.xml").write_text("x" * 2048)
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert "1 entries" in out and "test results, leftover" in out
    assert main(["cache", "--prune"]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
