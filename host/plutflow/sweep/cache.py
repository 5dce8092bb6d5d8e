"""Finished sweep results on disk, by content hash: ``DIR/cache/<kind>/<key>.json``.

Only the driver writes here (atomically, one file per result), as each Dask future
completes, so a result is recorded once however often its task ran; a re-run or an
interrupted sweep finds it and skips the work. ``DIR/completed.jsonl`` logs each
recording.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from plutflow.outputs import write_atomic

KINDS = ("points", "float", "resources")


class ResultCache:
    """JSON results of one sweep directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        for kind in KINDS:
            (self.root / "cache" / kind).mkdir(parents=True, exist_ok=True)

    def path(self, kind: str, key: str) -> Path:
        return self.root / "cache" / kind / f"{key}.json"

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """The stored result, or None (missing or unreadable: computed again)."""
        try:
            value = json.loads(self.path(kind, key).read_text())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        write_atomic(self.path(kind, key), json.dumps(value, sort_keys=True).encode())
        with open(self.root / "completed.jsonl", "a") as fh:
            fh.write(json.dumps({"kind": kind, "key": key, "time": time.time()}) + "\n")
