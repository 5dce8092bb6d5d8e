"""The first hour, before and after (``make bench``): a fresh-clone session through the
README as it appears in a log (not a terminal), and every item of the first-hour review
run on the tree it was found on and on today's.

Two fresh checkouts are made with ``git worktree`` under ``build/first_hour``: ``old`` at
:data:`OLD_COMMIT` (the tree the review used) and ``new`` at HEAD. Each runs with this
repository's ``.venv`` (its dependencies) and its own code (``PYTHONPATH``), its own
simulator build cache (``PLUTFLOW_ROOT``: so the first simulator build is part of the
session, as on a fresh clone) and stdout/stderr to a pipe. The HTML report of the new
session is rendered by headless Chromium into ``docs/report_screenshot.png``.

Writes bench/results/first_hour.{json,md} and bench/results/first_hour_{old,new}.log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "build" / "first_hour"
VENV_BIN = Path(sys.executable).parent
#: The tree the first-hour review ran on: the landing of stop 8 (308 tests, 7 minutes).
OLD_COMMIT = "6bfdb57"
CHROMIUM = "/usr/bin/chromium"

DATA = "host/plutflow/data"
ONNX = f"{DATA}/fashion_mnist_demo.onnx"
NPZ = f"{DATA}/fashion_mnist_test2000.npz"
PRE = f"{DATA}/fashion_mnist_demo.json"


@dataclass
class Run:
    """One command of a session: what was typed, what a log got, how it ended."""

    command: str
    exit_code: int
    output: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()


def checkout(name: str, commit: str) -> Path:
    """A fresh worktree of ``commit`` at build/first_hour/``name`` (made again each run)."""
    path = WORK / name
    if path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=True)
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
                   check=True, capture_output=True)  # fmt: skip
    return path


class Session:
    """Commands run as a user of ``tree`` would, from a scratch directory ``cwd``."""

    def __init__(self, tree: Path, cwd: Path) -> None:
        self.tree, self.cwd = tree, cwd
        self.runs: list[Run] = []

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLUTFLOW_")}
        env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
                   PYTHONPATH=str(self.tree / "host"), PLUTFLOW_ROOT=str(self.tree),
                   OMP_NUM_THREADS="1", MPLBACKEND="Agg", TERM="dumb")  # fmt: skip
        env.update(extra or {})
        return env

    def run(self, argv: list[str], shown: str | None = None, env: dict | None = None,
            record: bool = True, timeout: float = 1800) -> Run:  # fmt: skip
        """Run ``argv`` (``plutflow`` means this tree's CLI), output as a log sees it."""
        if argv[0] == "plutflow":
            argv = [sys.executable, "-m", "plutflow", *argv[1:]]
        t0 = time.monotonic()
        proc = subprocess.run(argv, cwd=self.cwd, env=self.env(env), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout)  # fmt: skip
        out = proc.stdout.decode(errors="replace")
        run = Run(shown or " ".join(argv), proc.returncode, out, time.monotonic() - t0)
        if record:
            self.runs.append(run)
        return run

    def transcript(self) -> str:
        return "".join(f"$ {r.command}\n{r.output}" for r in self.runs)


def readme_session(s: Session) -> None:
    """The README's commands on the bundled model, in order."""
    t = s.tree
    steps = [
        ["plutflow", "demo"],
        ["plutflow", "quantize", f"{t}/{ONNX}", "--calib", f"{t}/{NPZ}:calib_images",
         "--preprocess", f"{t}/{PRE}", "-o", "demo.pfq"],
        ["plutflow", "inspect", "demo.pfq"],
        ["plutflow", "compile", "demo.pfq", "-o", "demo.pfa"],
        ["plutflow", "run", "demo.pfa", "--backend", "sim", "--data", f"{t}/{NPZ}",
         "--limit", "32"],
        ["plutflow", "compare", "demo.pfa", "--backends", "golden", "sim", "--data",
         f"{t}/{NPZ}", "--limit", "8"],
        ["plutflow", "report", "demo.pfa", "--data", f"{t}/{NPZ}", "--limit", "32",
         "--reference", f"{t}/{ONNX}", "--html", "--out", "report"],
    ]  # fmt: skip
    for argv in steps:
        s.run(argv, shown=" ".join(a.replace(str(t) + "/", "") for a in argv))
    nb = t / "boards" / "kv260" / "notebooks" / "quickstart.ipynb"
    s.run([str(VENV_BIN / "jupyter-execute"), str(nb)],
          shown="PLUTFLOW_BACKEND=sim jupyter-execute boards/kv260/notebooks/quickstart.ipynb",
          env={"PLUTFLOW_BACKEND": "sim"})  # fmt: skip


@dataclass
class Item:
    """One finding of the review: the command that shows it and the lines to quote."""

    area: str
    finding: str
    argv: list[str]
    quote: str = ""  # regex of the lines to quote; "" quotes the first and last lines
    env: dict | None = None


#: runs a notebook as Jupyter does and prints its stderr outputs and progress widgets
NOTEBOOK_CHECK = (
    "import nbformat; from nbclient import NotebookClient; "
    "nb = nbformat.read('{nb}', as_version=4); "
    "NotebookClient(nb, timeout=900, kernel_name='python3').execute(); "
    "outs = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs]; "
    "err = [o['text'].strip()[:200] for o in outs if o.get('name') == 'stderr']; "
    "print('stderr of the cells:', err or 'none'); "
    "print('progress widgets:', sum('application/vnd.jupyter.widget-view+json' "
    "in o.get('data', {{}}) for o in outs))"
)


def items(t: Path) -> list[Item]:
    """The review's findings, each as a command on the session's files."""
    npz = f"{t}/{NPZ}"
    no_mpl = str(WORK / "no_matplotlib")
    return [
        Item("waits", "run/compare/report build Verilator without a word; the demo's ticker "
             "says the build is cached while it builds", ["<session>", "demo"],
             r"build|cached|Verilator"),
        Item("waits", "tqdm bars in a log: hundreds of copies on one line",
             ["<session>", "demo"], r"\r|calibrat|run on"),
        Item("waits", "no command to list or prune the simulator build cache",
             ["plutflow", "cache"]),
        Item("errors", "a .pfa given to eval", ["plutflow", "eval", "demo.pfa", "--data", npz,
                                                "--limit", "8"]),
        Item("errors", "a .pfq given to run", ["plutflow", "run", "demo.pfq", "--data", npz,
                                               "--limit", "8"]),
        Item("errors", "an .onnx given to compile", ["plutflow", "compile", f"{t}/{ONNX}",
                                                     "-o", "x.pfa"]),
        Item("errors", "the pynq backend off a board, from a notebook (Python API)",
             [sys.executable, "-c", "from plutflow.runtime import Accelerator, Artifact; "
              "Accelerator(Artifact.load('demo.pfa'), 'pynq', bitfile='x.bit')"],
             r"Error|error|PLUTFLOW_BACKEND"),
        Item("tracebacks", "compile --array 6", ["plutflow", "compile", "demo.pfq", "-o",
                                                 "x6.pfa", "--overlay", "int8", "--array", "6"]),
        Item("tracebacks", "report without matplotlib", ["plutflow", "report", "demo.pfa",
             "--data", npz, "--limit", "4", "--out", "report-nompl"],
             r"rror|matplotlib", env={"PYTHONPATH": f"{no_mpl}{os.pathsep}{t}/host"}),
        Item("silent", "a --rule that matches no layer",
             ["plutflow", "quantize", f"{t}/{ONNX}", "--calib", f"{npz}:calib_images",
              "--num-calib", "64", "--rule", "nothing*=upot:4:8", "-o", "r.pfq"]),
        Item("numbers", "demo --scheme plut:4:4: modelled images/s with host layers",
             ["plutflow", "demo", "--scheme", "plut:4:4", "--images", "200", "--sim-images",
              "8"], r"images/s|top-1 on|layers on the overlay|host per image"),
        Item("numbers", "inspect X.pfq: the format header", ["plutflow", "inspect", "demo.pfq"],
             r"format|quantizer|^\S"),
        Item("numbers", "--auto-bits 20000: the budget and the reported size",
             ["plutflow", "quantize", f"{t}/{ONNX}", "--calib", f"{npz}:calib_images",
              "--preprocess", f"{t}/{PRE}", "--num-calib", "128", "--auto-bits", "20000", "-o",
              "ab.pfq"], r"quantized|error"),
        Item("numbers", "eval without labels", ["plutflow", "eval", "demo.pfq", "--data",
                                                "images.npy", "--limit", "8"]),
        Item("setup", "help text of every option", ["plutflow", "compile", "--help"],
             r"--array|--overlay"),
        Item("numbers", "the demo's simulator top-1: 32 images, printed without the count",
             ["<session>", "demo"], r"top-1"),
        Item("report", "title, sections and notes of the HTML report made outside the "
             "repository (the float accuracy and resources vanished silently)",
             [sys.executable, "-c", "import re; t = open('report/report.html').read(); "
              "print(*re.findall(r'<h[12]>(.*?)</h[12]>', t), sep=' | '); "
              "print(*re.findall(r'<p>(.*?)</p>', t)[:4], sep=' | ')"]),
        Item("setup", "notebooks show TqdmWarning: IProgress not found",
             [sys.executable, "-c", NOTEBOOK_CHECK.format(
                 nb=t / "boards" / "kv260" / "notebooks" / "quickstart.ipynb")],
             r"stderr of the cells|progress widgets|rror", env={"PLUTFLOW_BACKEND": "sim"}),
        Item("setup", "README: running the notebooks on a host, building other bitstreams",
             ["grep", "-n", "-E", "jupyter-execute|OVERLAY=", f"{t}/README.md"]),
        Item("setup", "install prints setuptools' deprecation box for the license table",
             [sys.executable, "-c", "import tomllib; print('license =', tomllib.load(open("
              f"'{t}/pyproject.toml', 'rb'))['project']['license'])"]),
    ]  # fmt: skip


def quote(run: Run, pattern: str, limit: int = 4, width: int = 240) -> str:
    """The lines of ``run`` that show the finding (at most ``limit``, each cut to
    ``width``; carriage returns shown as ``\\r``)."""
    text = run.output.replace("\r", "\\r")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return "(no output)"
    if pattern:
        lines = [ln for ln in lines if re.search(pattern, ln)] or lines[-2:]
    elif len(lines) > 2:
        lines = [lines[0], lines[-1]]
    cut = [ln if len(ln) <= width else ln[:width] + f"... ({len(ln):,} chars)" for ln in lines]
    more = f" (+{len(lines) - limit} more)" if len(lines) > limit else ""
    return " / ".join(cut[:limit]) + more


def stats(s: Session) -> dict:
    text = s.transcript()
    lines = text.splitlines()
    return {
        "commands": len(s.runs),
        "lines": len(lines),
        "bytes": len(text.encode()),
        "longest_line": max(len(ln) for ln in lines),
        "carriage_returns": text.count("\r"),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "failed_commands": [r.command for r in s.runs if r.exit_code != 0],
        "seconds": round(sum(r.seconds for r in s.runs), 1),
    }


def screenshot(html: Path, png: Path) -> str:
    """Render ``html`` in headless Chromium (Debian's) into ``png``; '' or why not."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} missing (apt-get install chromium)"
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
             "--window-size=1200,3300", f"--screenshot={png}", html.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    if proc.returncode != 0 or not png.exists():
        return f"chromium failed ({proc.returncode}): {proc.stderr.strip()[-300:]}"
    return ""


def main() -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    no_mpl = WORK / "no_matplotlib" / "matplotlib"
    no_mpl.mkdir(parents=True, exist_ok=True)
    (no_mpl / "__init__.py").write_text("raise ImportError(\"No module named 'matplotlib'\")\n")
    trees = {"old": checkout("old", OLD_COMMIT), "new": checkout("new", "HEAD")}
    commits = {k: subprocess.run(["git", "-C", str(v), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()
               for k, v in trees.items()}  # fmt: skip
    sessions, found = {}, {}
    for name, tree in trees.items():
        cwd = WORK / f"{name}-session"
        shutil.rmtree(cwd, ignore_errors=True)
        cwd.mkdir()
        s = Session(tree, cwd)
        print(f"{name} ({commits[name]}): README session", flush=True)
        readme_session(s)
        sessions[name] = s
        (RESULTS / f"first_hour_{name}.log").write_text(s.transcript())
        import numpy as np

        with np.load(tree / NPZ) as z:
            np.save(cwd / "images.npy", z["images"][:8])
        found[name] = []
        for item in items(tree):
            if item.argv[0] == "<session>":
                run = next(r for r in s.runs if r.command.split()[1:2] == item.argv[1:2])
            else:
                run = s.run(item.argv, env=item.env, record=False, timeout=900)
            found[name].append({"exit": run.exit_code, "quote": quote(run, item.quote)})
    shot = screenshot(WORK / "new-session" / "report" / "report.html",
                      ROOT / "docs" / "report_screenshot.png")  # fmt: skip
    report = {
        "old_commit": commits["old"],
        "new_commit": commits["new"],
        "transcript": {k: stats(v) for k, v in sessions.items()},
        "items": [
            {
                **asdict(it),
                "argv": " ".join(a.replace(str(trees["new"]) + "/", "") for a in it.argv),
                "old": found["old"][i],
                "new": found["new"][i],
            }
            for i, it in enumerate(items(trees["new"]))
        ],
        "screenshot": "docs/report_screenshot.png" if not shot else None,
        "screenshot_problem": shot or None,
    }
    (RESULTS / "first_hour.json").write_text(json.dumps(report, indent=1) + "\n")
    (RESULTS / "first_hour.md").write_text(markdown(report))
    print((RESULTS / "first_hour.md").read_text())
    return 0


def markdown(r: dict) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    t = r["transcript"]
    keys = [("commands", "commands"), ("lines", "lines in the log"),
            ("bytes", "bytes"), ("longest_line", "longest line (chars)"),
            ("carriage_returns", "carriage returns"), ("tracebacks", "tracebacks"),
            ("seconds", "wall seconds (first simulator build included)")]  # fmt: skip
    out = [
        "# The first hour, before and after (bench/first_hour.py)",
        "",
        f"A fresh checkout of the tree the first-hour review used ({r['old_commit']}) and "
        f"of today's ({r['new_commit']}) each run the README's session on the bundled model "
        "(demo, quantize, inspect, compile, run and compare on the simulator, the HTML "
        "report, the quickstart notebook with `jupyter-execute`), with output to a pipe as "
        "in a log or CI, each with an empty simulator build cache. Full logs: "
        "[first_hour_old.log](first_hour_old.log), [first_hour_new.log](first_hour_new.log).",
        "",
        "| transcript | before | after |",
        "|---|---|---|",
        *[f"| {label} | {t['old'][k]:,} | {t['new'][k]:,} |" for k, label in keys],
        f"| commands that failed | {len(t['old']['failed_commands'])} | "
        f"{len(t['new']['failed_commands'])} |",
        "",
        "## Every finding, run on both trees",
        "",
        "Each row is a command run on both checkouts after their sessions (so the session's "
        "files exist); 'before' and 'after' quote the lines of its output that show the "
        "finding (cut at 240 characters, `\\r` for a carriage return), with the exit code.",
        "",
        "| area | finding | command | before (exit) | after (exit) |",
        "|---|---|---|---|---|",
    ]
    for it in r["items"]:
        old, new = it["old"], it["new"]
        out.append(f"| {it['area']} | {cell(it['finding'])} | `{cell(it['argv'])}` | "
                   f"({old['exit']}) {cell(old['quote'])} | ({new['exit']}) "
                   f"{cell(new['quote'])} |")  # fmt: skip
    out += ["", "## The HTML report in a browser", ""]
    if r["screenshot"]:
        shot = "[docs/report_screenshot.png](../../docs/report_screenshot.png)"
        out += [f"Today's `plutflow report --html` of the session, rendered by headless "
                f"Chromium (Debian's): {shot}."]  # fmt: skip
    else:
        out += [f"No screenshot: {r['screenshot_problem']}."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
