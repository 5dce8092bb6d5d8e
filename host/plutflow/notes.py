"""User-facing notes: one ``plutflow: note: ...`` line on stderr, never an error."""

from __future__ import annotations

import sys


def note(text: str | None) -> None:
    """Print ``text`` as a note on stderr (nothing for None or an empty string)."""
    if text:
        print(f"plutflow: note: {text}", file=sys.stderr)
