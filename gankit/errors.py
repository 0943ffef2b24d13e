"""User-facing errors: the CLI prints their message on one line and exits non-zero, no traceback."""


class GankitError(Exception):
    """A problem the user can fix (bad input, missing file, wrong value)."""


class ConfigError(GankitError):
    """An unknown key, a value of the wrong type or outside its valid range."""


class CheckpointError(GankitError):
    """A missing, corrupt or mismatched checkpoint."""


class DataError(GankitError):
    """A missing, corrupt or unusable data set."""
