"""Packages imported only where they are used, with one readable line when one is missing.

`pip install --no-deps gankit` (or an environment assembled by hand) may lack a dependency; the
user then gets `error: ... needs the package 'X': pip install X` instead of a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gankit.errors import GankitError


class MissingPackageError(GankitError):
    """A package gankit needs for what was asked is not installed."""


def require(module: str, package: str, what: str) -> ModuleType:
    """Import `module`, or raise MissingPackageError naming the pip package that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingPackageError(
            f"{what} needs the package '{package}', which is not installed: "
            f"pip install '{package}'") from None
