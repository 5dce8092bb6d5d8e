"""User-facing output besides results: ``plutflow: note: ...`` lines on stderr, never an
error, and progress bars that stay out of logs."""

from __future__ import annotations

import sys
from typing import Any


def note(text: str | None) -> None:
    """Print ``text`` as a note on stderr (nothing for None or an empty string)."""
    if text:
        print(f"plutflow: note: {text}", file=sys.stderr)


def progress_bar(iterable: Any = None, *, progress: bool = True, **kwargs: Any) -> Any:
    """A tqdm bar when ``progress`` is on and stderr is a terminal; in a log (not a TTY)
    no bar, so a redirected run does not fill its log with bar redraws."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=None if progress else True, **kwargs)
