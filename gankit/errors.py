"""User-facing errors: the CLI prints their message on one line and exits non-zero, no traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(value: object, names: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the registered name nearest to a misspelt one, else ""."""
    close = difflib.get_close_matches(str(value), list(names), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


class GankitError(Exception):
    """A problem the user can fix (bad input, missing file, wrong value)."""


class ConfigError(GankitError):
    """An unknown key, a value of the wrong type or outside its valid range."""


class CheckpointError(GankitError):
    """A missing, corrupt or mismatched checkpoint."""


class DataError(GankitError):
    """A missing, corrupt or unusable data set."""
