"""User-facing output besides results: ``plutflow: note: ...`` lines on stderr, never an
error, and progress that reads well wherever it is shown.

Progress (:func:`progress_bar`) takes one of three forms, chosen by where stderr goes:

- a terminal: a tqdm bar, redrawn in place;
- a Jupyter notebook: tqdm's notebook widget (``ipywidgets``, in the ``notebook`` extra);
- anything else (a log file, CI, a pipe): one line every ``PLUTFLOW_PROGRESS_INTERVAL``
  seconds (default 10) while the task runs, and a last line when it ends, if it ran long
  enough to print one; never a carriage return.

``progress=False`` (the commands' ``-q``) silences all three.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm import tqdm
from tqdm.std import TqdmWarning

LOG_INTERVAL_S = 10.0


def note(text: str | None) -> None:
    """Print ``text`` as a note on stderr (nothing for None or an empty string)."""
    if text:
        print(f"plutflow: note: {text}", file=sys.stderr, flush=True)


def log_interval() -> float:
    """Seconds between two progress lines in a log (``PLUTFLOW_PROGRESS_INTERVAL``)."""
    text = os.environ.get("PLUTFLOW_PROGRESS_INTERVAL", "")
    try:
        value = float(text) if text else LOG_INTERVAL_S
    except ValueError:
        return LOG_INTERVAL_S
    return value if value >= 0 else LOG_INTERVAL_S


def _duration(s: float) -> str:
    if s < 10:
        return f"{s:.1f} s"
    s = round(s)
    return f"{s} s" if s < 120 else f"{s // 60} min {s % 60:02d} s"


class LogProgress(tqdm):
    """A tqdm bar for logs: a whole line per report, at most one per interval, and a
    last line when it closes; nothing for a task shorter than the interval."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        interval = log_interval()
        kwargs.setdefault("file", sys.stderr)
        kwargs.update(mininterval=interval, miniters=0, delay=interval, dynamic_ncols=False)
        self._last = ""
        super().__init__(*args, **kwargs)

    def line(self) -> str:
        """The progress line: ``plutflow: DESC: N/TOTAL UNIT (P %), T elapsed, ~R left``."""
        d = self.format_dict
        n, total, unit = d["n"], d["total"], d["unit"]
        done = f"{n:,}/{total:,} {unit}" if total else f"{n:,} {unit}"
        if total:
            done += f" ({100 * n / total:.0f} %)"
        text = f"{done}, {_duration(d['elapsed'])} elapsed"
        rate = n / d["elapsed"] if d["elapsed"] > 0 else 0
        if total and 0 < n < total and rate > 0:
            text += f", ~{_duration((total - n) / rate)} left"
        desc = f"{self.desc}: " if self.desc else ""
        return f"plutflow: {desc}{text}"

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg == "":  # tqdm clearing its line: there is none to clear
            return False
        line = self.line()
        if line != self._last:  # the last update and close() may say the same
            self.fp.write(line + "\n")
            self.fp.flush()
            self._last = line
        return True

    def close(self) -> None:
        if not self.disable and self._last:
            self.display()  # the last line: where the task ended
        self.leave = False
        super().close()


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython already imported by the kernel)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_class(progress: bool = True) -> type[tqdm] | None:
    """The bar class for here and now: None when silenced, tqdm's notebook widget in
    a notebook with ipywidgets, a tqdm bar on a terminal, :class:`LogProgress` otherwise."""
    if not progress:
        return None
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm
        except ImportError:  # no widgets: lines, not tqdm's IProgress warning
            return LogProgress
    stream = sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        return tqdm
    return LogProgress


def progress_bar(iterable: Any = None, *, progress: bool = True, **kwargs: Any) -> Any:
    """A progress bar over ``iterable`` (or with ``total=``, updated by hand) in the form
    that suits stderr (see the module docstring); silent when ``progress`` is False."""
    cls = progress_class(progress)
    if cls is None:
        return tqdm(iterable, disable=True, **kwargs)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        return cls(iterable, **kwargs)
