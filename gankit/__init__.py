"""gankit: generative adversarial networks you can learn from, test and trust.

The Python API (docs/api.md): `fit` trains (your own G, D, data and loss, or named ones),
`open_run` opens a finished run, the `register_*` functions add names the config, the presets
and the command line can use. Names are imported on first use, so `gankit --help` stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_WHERE = {
    "fit": "gankit.api", "open_run": "gankit.api", "load_config": "gankit.api",
    "Run": "gankit.api", "Config": "gankit.config", "GankitError": "gankit.errors",
    "Objective": "gankit.losses", "Trainer": "gankit.train.loop",
    "Callback": "gankit.train.loop", "register_arch": "gankit.registry",
    "register_dataset": "gankit.registry", "register_loss": "gankit.registry",
    "register_metric": "gankit.registry", "GENERATORS": "gankit.registry",
    "DISCRIMINATORS": "gankit.registry", "DATASETS": "gankit.registry",
    "LOSSES": "gankit.registry", "METRICS": "gankit.registry",
    "PENALTIES": "gankit.registry", "register_penalty": "gankit.registry",
    "register_augmentation": "gankit.registry",
    "fake_only": "gankit.losses",
}

__all__ = [
    "DATASETS",
    "DISCRIMINATORS",
    "GENERATORS",
    "LOSSES",
    "METRICS",
    "PENALTIES",
    "Callback",
    "Config",
    "GankitError",
    "Objective",
    "Run",
    "Trainer",
    "__version__",
    "fake_only",
    "fit",
    "load_config",
    "open_run",
    "register_arch",
    "register_augmentation",
    "register_dataset",
    "register_loss",
    "register_metric",
    "register_penalty",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, those imported on first use included (for dir() and tab completion),
    and the module's own dunder names; not the helpers this file imports."""
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})


if TYPE_CHECKING:
    from gankit.api import Run, fit, load_config, open_run
    from gankit.config import Config
    from gankit.errors import GankitError
    from gankit.losses import Objective, fake_only
    from gankit.registry import (
        DATASETS,
        DISCRIMINATORS,
        GENERATORS,
        LOSSES,
        METRICS,
        PENALTIES,
        register_arch,
        register_augmentation,
        register_dataset,
        register_loss,
        register_metric,
        register_penalty,
    )
    from gankit.train.loop import Callback, Trainer
