"""The IDX format of MNIST and Fashion-MNIST, read and written with NumPy, `.gz` or raw.

Layout: two zero bytes, a type code, the number of dimensions n, then n big-endian uint32 sizes
and the values, big-endian, row-major. Every way a file can be wrong (not gzip, not IDX, cut
short, trailing bytes, unexpected shape) raises a DataError that names the file and the problem.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from gankit.errors import DataError

#: The four files of a data set in MNIST's layout (MNIST, Fashion-MNIST): (split, kind) -> base
#: file name; the files may be stored with or without `.gz`.
FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}

#: IDX type codes and the big-endian NumPy types they stand for.
IDX_TYPES: dict[int, str] = {
    0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8",
}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}


def read_bytes(path: Path) -> bytes:
    """The decompressed content of a `.gz` file, or the raw bytes of any other file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if path.suffix != ".gz" and raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path} is not a valid gzip file or is truncated ({e}); download it again"
        ) from None


def parse_idx(data: bytes, source: str = "data") -> np.ndarray:
    """An IDX byte string as an array (native byte order); checks header and exact length."""
    if len(data) < 4:
        raise DataError(f"{source} is too short to be an IDX file ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise DataError(
            f"{source} is not an IDX file (magic bytes {data[:4].hex()}; expected 0000 followed "
            f"by a type code in {', '.join(f'{c:02x}' for c in IDX_TYPES)} and a rank)"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{source}: IDX header declares {ndim} dimensions but is cut short")
    dims = tuple(int(v) for v in np.frombuffer(data, ">u4", ndim, 4))
    dtype = np.dtype(IDX_TYPES[data[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise DataError(
            f"{source} is truncated: shape {dims} needs {expected} bytes of values, found {found}"
        )
    if found > expected:
        raise DataError(
            f"{source} has {found - expected} unexpected bytes after its {dims} values"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: Path, ndim: int | None = None, shape: tuple[int | None, ...] | None = None
             ) -> np.ndarray:
    """Read an IDX file, optionally requiring a rank and sizes (None in `shape` = any size)."""
    path = Path(path)
    arr = parse_idx(read_bytes(path), str(path))
    if ndim is not None and arr.ndim != ndim:
        raise DataError(f"{path} holds an array of rank {arr.ndim} {arr.shape}, "
                        f"expected rank {ndim}")
    if shape is not None:
        wrong = any(s is not None and s != a for s, a in zip(shape, arr.shape))
        if len(shape) != arr.ndim or wrong:
            want = "×".join("any" if s is None else str(s) for s in shape)
            raise DataError(f"{path} has shape {arr.shape}, expected {want}")
    return arr


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write an array as IDX (gzip-compressed when the name ends in .gz)."""
    arr = np.asarray(array)
    code = _CODES.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {arr.dtype}")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    payload = header + arr.astype(IDX_TYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload, mtime=0) if path.suffix == ".gz" else payload)
    return path


def read_images_labels(images: Path, labels: Path, side: int = 28,
                       n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-style (images, labels) files: uint8 N×side×side, labels in 0..n_classes-1."""
    x = read_idx(images, shape=(None, side, side))
    y = read_idx(labels, shape=(None,))
    if x.dtype != np.uint8 or y.dtype != np.uint8:
        raise DataError(f"{images} / {labels}: expected unsigned-byte IDX files, found "
                        f"{x.dtype} and {y.dtype}")
    if len(x) != len(y):
        raise DataError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels; "
                        "the two files do not belong together")
    if len(y) and int(y.max()) >= n_classes:
        raise DataError(f"{labels} has label {int(y.max())}, expected 0..{n_classes - 1}")
    return x, y
