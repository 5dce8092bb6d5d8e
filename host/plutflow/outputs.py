"""Writing output files safely: never over an input, never half-written, nothing left
behind on failure."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from plutflow.errors import PlutflowError


def refuse_overwrite(output: str | Path, *inputs: str | Path | None) -> None:
    """Refuse an output path that names one of the command's inputs (``-o x.pfq`` for
    ``x.pfq`` would destroy the source)."""
    out = Path(output)
    for src in inputs:
        if src is None:
            continue
        text = str(src)  # FILE.npz:KEY names FILE.npz
        path = Path(text.split(".npz:", 1)[0] + ".npz" if ".npz:" in text else text)
        with contextlib.suppress(OSError):
            if out.exists() and path.exists() and out.samefile(path):
                raise PlutflowError(f"the output {output} is the input {src}; write elsewhere")
        if out.resolve() == path.resolve():
            raise PlutflowError(f"the output {output} is the input {src}; write elsewhere")


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a unique temporary file in the same directory,
    then rename it into place: readers see the old file or the new one, concurrent
    writers do not collide, and a failure leaves nothing behind."""
    path = Path(path)
    if path.is_dir():
        raise PlutflowError(f"cannot write {path}: it is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise PlutflowError(f"cannot write {path}: directory {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise PlutflowError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise PlutflowError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    return path
