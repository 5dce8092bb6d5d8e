"""Reading the zip containers of ``.pfq`` models and ``.pfa`` artifacts safely.

Every failure of a hostile or damaged file becomes an :class:`ArtifactError` with one
line of explanation: a bad central directory, an unknown compression method, an
encrypted member, a CRC mismatch, JSON nested too deep or of the wrong type, an ``.npy``
whose header does not fit its data. Sizes are checked before anything is allocated: a
member may not inflate past :data:`MAX_MEMBER_BYTES` (whatever its header claims), the
members together past :data:`MAX_TOTAL_BYTES`, and an array's header must describe
exactly the bytes that follow it. A member with a checksum is hashed as it streams
before it is kept, so a small file that inflates into a large wrong member costs one pass
of a 1 MiB buffer, not the member's size in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import struct
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from plutflow.errors import ArtifactError

#: The largest member a model or artifact may hold once inflated (a ResNet-50 in int8 is
#: about 25 MB).
MAX_MEMBER_BYTES = 1 << 30
#: The most all members of one file may inflate to.
MAX_TOTAL_BYTES = 1 << 31
#: Errors the zip, zlib and json layers raise on damaged input.
DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError,
          zlib.error, NotImplementedError, RuntimeError, struct.error, UnicodeDecodeError,
          RecursionError, OverflowError, IndexError, SyntaxError,
          tokenize.TokenError)  # fmt: skip


class Archive:
    """A zip read with bounds; ``what`` names the file in errors."""

    def __init__(self, data: bytes, what: str, kind: str = "file") -> None:
        self.what, self.kind, self.total = what, kind, 0
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data))
        except DAMAGE as exc:
            raise self.damaged(exc) from exc

    def damaged(self, exc: BaseException) -> ArtifactError:
        return ArtifactError(f"{self.what} is not a valid plutflow {self.kind} (corrupt or "
                             f"truncated): {type(exc).__name__}: {exc}")  # fmt: skip

    def names(self) -> set[str]:
        return set(self.zf.namelist())

    def read(self, member: str) -> bytes:
        """A member's bytes, refusing one that inflates past the caps."""
        try:
            with self._open(member) as fh:
                raw = fh.read(MAX_MEMBER_BYTES + 1)
        except DAMAGE as exc:
            raise self.damaged(exc) from exc
        if len(raw) > MAX_MEMBER_BYTES:
            raise ArtifactError(f"{self.what}: member {member} inflates past "
                                f"{MAX_MEMBER_BYTES} bytes")  # fmt: skip
        self.total += len(raw)
        if self.total > MAX_TOTAL_BYTES:
            raise ArtifactError(f"{self.what} inflates past {MAX_TOTAL_BYTES} bytes")
        return raw

    def _open(self, member: str) -> zipfile.ZipExtFile:
        try:
            info = self.zf.getinfo(member)
        except KeyError as exc:
            raise ArtifactError(f"{self.what} has no member {member}") from exc
        if info.file_size > MAX_MEMBER_BYTES:
            raise ArtifactError(f"{self.what}: member {member} claims {info.file_size} bytes, "
                                f"more than the {MAX_MEMBER_BYTES} a member may hold")  # fmt: skip
        return self.zf.open(info)

    def digest_matches(self, member: str, digest: str, array: bool = False) -> bool | None:
        """Whether ``member``'s SHA-256 is ``digest``, streamed through a 1 MiB buffer.
        With ``array``, the hash covers an ``.npy`` member's data after its header (the
        bytes of the C-order array); for a Fortran-order array that is not the digest's
        byte order, so it returns None and the caller hashes the loaded array."""
        h = hashlib.sha256()
        try:
            with self._open(member) as fh:
                if array and read_npy_header(fh)[1]:
                    return None
                size = 0
                while chunk := fh.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_MEMBER_BYTES:
                        raise ArtifactError(f"{self.what}: member {member} inflates past "
                                            f"{MAX_MEMBER_BYTES} bytes")  # fmt: skip
                    h.update(chunk)
        except DAMAGE as exc:
            raise self.damaged(exc) from exc
        return h.hexdigest() == digest

    def json(self, member: str) -> dict[str, Any]:
        """A member parsed as a JSON object."""
        raw = self.read(member)
        try:
            value = json.loads(raw)
        except DAMAGE as exc:
            raise ArtifactError(f"{self.what}: {member} is not valid JSON: "
                                f"{type(exc).__name__}") from exc  # fmt: skip
        if not isinstance(value, dict):
            raise ArtifactError(f"{self.what}: {member} is not a JSON object")
        return value

    def close(self) -> None:
        self.zf.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_npy_header(fh) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of the ``.npy`` stream ``fh``, left at its data;
    ValueError for a version numpy's format does not define. numpy parses the header as a
    Python literal; a hostile header's escape sequences would make Python warn on stderr
    (SyntaxWarning from 3.12), so those warnings are silenced here."""
    major, _minor = np.lib.format.read_magic(fh)
    if major not in (1, 2, 3):
        raise ValueError(f"npy format version {major}")
    with quiet_literal_parse():
        if major == 1:
            return np.lib.format.read_array_header_1_0(fh)
        return np.lib.format.read_array_header_2_0(fh)


@contextlib.contextmanager
def quiet_literal_parse() -> Iterator[None]:
    """Silence the warnings Python's parser gives for odd escapes in a literal (numpy
    reads ``.npy`` headers with ``ast.literal_eval``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        yield


def npy_data_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    """The bytes of data an ``.npy`` header with ``shape`` and ``dtype`` promises."""
    count = 1
    for d in shape:
        count *= int(d)
    return count * dtype.itemsize


def read_npy(raw: bytes, what: str, integer: bool = True) -> np.ndarray:
    """An ``.npy`` array (no pickles), after checking that its header describes exactly
    the bytes that follow and, with ``integer``, an integer or bool dtype."""
    fh = io.BytesIO(raw)
    try:
        shape, _fortran, dtype = read_npy_header(fh)
        if dtype.hasobject:
            raise ValueError("object arrays are not read")
        if integer and dtype.kind not in "iub":
            raise ValueError(f"dtype {dtype} is not an integer type")
        if npy_data_bytes(shape, dtype) != len(raw) - fh.tell():
            raise ValueError(f"header shape {shape} does not match {len(raw) - fh.tell()} "
                             "bytes of data")  # fmt: skip
        fh.seek(0)
        return np.lib.format.read_array(fh, allow_pickle=False)
    except DAMAGE as exc:
        raise ArtifactError(f"{what} is not a valid array: {type(exc).__name__}: {exc}") from exc
