"""Readers for calibration and evaluation data: image folders, .npy/.npz and idx files."""

from __future__ import annotations

import gzip
import math
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from plutflow.errors import CalibrationError
from plutflow.intmodel.archive import npy_data_bytes, quiet_literal_parse, read_npy_header

#: The most bytes a data file may hold once decompressed.
MAX_DATA_BYTES = 1 << 30
#: The most pixels one image may have (PIL's decompression-bomb limit becomes an error).
MAX_IMAGE_PIXELS = 1 << 26

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm")
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an idx file (MNIST format), optionally gzip-compressed. The header's shape is
    checked against :data:`MAX_DATA_BYTES` before the data is read, and exactly that
    much data is read: a gzip bomb costs nothing."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            magic = fh.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
                raise CalibrationError(f"{path} is not an idx file (bad magic number)")
            head = fh.read(4 * magic[3])
            if len(head) < 4 * magic[3]:
                raise CalibrationError(f"{path} is truncated: its header ends early")
            dims = tuple(int.from_bytes(head[i : i + 4], "big") for i in range(0, len(head), 4))
            dtype = np.dtype(_IDX_DTYPES[magic[2]])
            expected = math.prod(dims) * dtype.itemsize
            if expected > MAX_DATA_BYTES:
                raise CalibrationError(f"{path}: its header promises shape {dims}, more than "
                                       f"the {MAX_DATA_BYTES:,}-byte limit")  # fmt: skip
            raw = fh.read(expected + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise CalibrationError(f"cannot read idx file {path}: {exc}") from exc
    if len(raw) != expected:
        what = "more" if len(raw) > expected else f"{len(raw)}"
        raise CalibrationError(f"{path} is truncated or corrupt: header promises {expected} "
                               f"bytes of data for shape {dims}, file holds {what}")  # fmt: skip
    return np.frombuffer(raw, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def read_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """Read images from an .npy file or one array of an .npz (``key``, else 'images', 'x'
    or the only array). Files holding Python objects are refused (no unpickling)."""
    path = Path(path)
    try:
        with quiet_literal_parse():
            return _read_array(path, key)
    except CalibrationError:
        raise
    except Exception as exc:  # numpy's readers raise many types on damaged files
        raise CalibrationError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


def _read_array(path: Path, key: str | None) -> np.ndarray:
    """:func:`read_array` without its error wrapping."""
    with open(path, "rb") as fh:
        if fh.read(6) == b"\x93NUMPY":
            fh.seek(0)
            _check_npy_header(fh, path.stat().st_size, str(path))
    data = np.load(path, allow_pickle=False)
    if isinstance(data, np.ndarray):
        return data
    with data:
        names = list(data.keys())
        if key is not None and key not in names:  # a typo must not fall back silently
            raise CalibrationError(f"{path} has no array '{key}'; it holds {names}")
        pick = next((c for c in ([key] if key else []) + ["images", "x", "data"]
                     if c in names), names[0] if len(names) == 1 else None)  # fmt: skip
        if pick is not None:
            member = data.zip.getinfo(f"{pick}.npy")
            with data.zip.open(member) as fh:
                _check_npy_header(fh, member.file_size, f"{path}:{pick}")
            return data[pick]
    raise CalibrationError(f"{path} holds arrays {names}; say which with PATH.npz:KEY")


def _check_npy_header(fh, size: int, what: str) -> None:
    """Refuse an ``.npy`` whose header promises other than the ``size`` bytes it has, or
    more than :data:`MAX_DATA_BYTES`, before numpy allocates what the header says."""
    shape, _fortran, dtype = read_npy_header(fh)
    if dtype.hasobject:
        raise CalibrationError(f"cannot read {what}: it holds Python objects (plutflow does "
                               "not unpickle data)")  # fmt: skip
    need, have = npy_data_bytes(shape, dtype), size - fh.tell()
    if need > MAX_DATA_BYTES or need != have:
        raise CalibrationError(f"{what}: its header promises shape {shape} of {dtype} "
                               f"({need:,} bytes); the file holds {have:,}")  # fmt: skip


def read_labels(path: str | Path) -> np.ndarray | None:
    """Labels stored beside images in an .npz, or None.

    For ``FILE.npz:KEY`` the array ``KEY`` with 'images' replaced by 'labels' is used
    (``calib_images`` -> ``calib_labels``); otherwise 'labels' or 'y'.
    """
    text = str(path)
    key = None
    if ".npz:" in text:
        text, key = text.split(".npz:", 1)
        text += ".npz"
    if not text.endswith(".npz"):
        return None
    names = [key.replace("images", "labels")] if key and "images" in key else []
    if key is None:
        names += ["labels", "y"]
    with np.load(text, allow_pickle=False) as data:
        for cand in names:
            if cand in data:
                return data[cand]
    return None


def iter_image_files(folder: Path) -> Iterator[Path]:
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            yield p


def read_image_folder(
    folder: str | Path, size: tuple[int, int] | None, channels: int
) -> np.ndarray:
    """Read every image under ``folder`` (sorted, recursive) as (N, H, W, C) uint8.

    Images are converted to ``channels`` (1 = grey, 3 = RGB) and resized to ``size`` (H, W)
    with bilinear filtering; without ``size`` all images must share one size.
    """
    from PIL import Image

    folder = Path(folder)
    files = list(iter_image_files(folder))
    if not files:
        raise CalibrationError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    out = []
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    bomb = (Image.DecompressionBombError, Image.DecompressionBombWarning)
    for f in files:
        try:
            with warnings.catch_warnings():  # past the limit at all is an error, not a warning
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(f) as im:
                    im = im.convert("L" if channels == 1 else "RGB")
                    if size is not None:
                        im = im.resize((size[1], size[0]), Image.BILINEAR)
                    arr = np.asarray(im)
        except (OSError, ValueError, *bomb) as exc:
            raise CalibrationError(f"cannot decode image {f}: {exc}") from exc
        out.append(arr.reshape(arr.shape[0], arr.shape[1], -1))
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise CalibrationError(
            f"images under {folder} differ in size {sorted(shapes)[:3]}...; set 'size' in the "
            "preprocessing config"
        )
    return np.stack(out)


def load_images(
    source: str | Path, size: tuple[int, int] | None = None, channels: int = 1
) -> np.ndarray:
    """Read raw images from a folder, an .npy/.npz (``file.npz:key``) or an idx file."""
    text = str(source)
    key = None
    if ".npz:" in text:
        text, key = text.split(".npz:", 1)
        text += ".npz"
    path = Path(text)
    if not path.exists():
        raise CalibrationError(f"data source not found: {path}")
    if path.is_dir():
        return read_image_folder(path, size, channels)
    name = path.name
    if name.endswith((".npy", ".npz")):
        return read_array(path, key)
    if "idx" in name or name.endswith((".ubyte", ".ubyte.gz")):
        return read_idx(path)
    raise CalibrationError(
        f"unknown data format for {path}: use a folder of images, .npy, .npz or an idx file"
    )
