"""Run configuration: frozen dataclasses, TOML presets, dotted `key=value` overrides.

A config is built in one direction only: preset TOML -> overrides -> `Config.from_dict`, which
type-checks every value and validates its range. Unknown keys are rejected with the closest valid
key suggested, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gankit import registry
from gankit.errors import ConfigError, did_you_mean
from gankit.plugins import HINT as PLUGIN_HINT


@dataclass(frozen=True)
class DataConfig:
    """Where real samples come from."""

    name: str = "grid"  # ring | grid | mixture | a registered name | "pkg.module:loader"
    n_train: int = 100_000  # size of the fixed training set drawn once from the mixture
    std: float | None = None  # None: the data set's own value (ring 0.01, grid 0.05)
    radius: float = 1.0  # ring only: the circle's radius (the unrolled GAN's ring: 2)
    means: tuple[tuple[float, ...], ...] = ()  # mixture only: one row per mode
    weights: tuple[float, ...] = ()  # mixture only: empty = uniform
    # -- image data sets (mnist | fashion-mnist | digits | folder); see docs/images.md ----------
    data_dir: str | None = None  # IDX files or the image folder; None: search the usual places
    resolution: int = 28  # image side in pixels (DCGAN: 28, 32 or 64)
    channels: int = 1  # 1 = grayscale, 3 = RGB (folder only; the digit sets are grayscale)
    pixel_range: str = "signed"  # signed: [-1, 1] (tanh G) | unit: [0, 1] (sigmoid G, Keras nets)
    download: bool = True  # mnist only: download (checksummed) into the user cache when missing
    stack: int = 1  # stacked benchmark: this many images of the set as channels; 1 = off


@dataclass(frozen=True)
class PriorConfig:
    """The latent distribution p_z."""

    name: str = "normal"  # normal | uniform (on [-1, 1]^dim)
    dim: int = 2


@dataclass(frozen=True)
class ModelConfig:
    """Generator and discriminator architectures."""

    g_arch: str = "mlp"  # mlp | dcgan | dcgan-pacgan | keras-mnist | registered | "pkg.module:fn"
    d_arch: str = "mlp"  # mlp | maxout | dcgan | dcgan-pacgan | keras-mnist | registered | ...
    g_width: int = 256
    g_depth: int = 3  # hidden layers
    d_width: int = 256
    d_depth: int = 3
    g_batchnorm: bool = False
    d_batchnorm: bool = False
    g_activation: str = "relu"
    d_activation: str = "leaky_relu"
    maxout_pieces: int = 5
    init: str = "default"  # default (PyTorch's) | orthogonal (gain model.init_gain, zero biases)
    init_gain: float = 1.0  # gain of the orthogonal initialisation (the unrolled GAN's: 0.8)
    d_input_scale: float = 1.0  # D multiplies its input by this first (the unrolled GAN's: 1/4)
    spectral_norm: str = "none"  # none | d | g | both: spectral normalisation of the nets' layers
    # class-conditional G and D (docs/conditional.md): none | projection | acgan; labels from data
    conditional: str = "none"
    ac_weight: float = 1.0  # acgan: weight of the class cross-entropy in D's and G's losses


@dataclass(frozen=True)
class TrainConfig:
    """Algorithm 1 of Goodfellow et al. (2014): k discriminator steps per generator step."""

    steps: int = 10_000  # generator steps
    batch_size: int = 256  # minibatch m, for real and for fake samples
    k: int = 1  # discriminator steps per generator step
    g_steps: int = 1  # generator updates per step, after the k D steps (PacGAN's Stacked MNIST: 2)
    # G's step draws fresh latents (Algorithm 1); false: it re-uses the last D step's fake batch,
    # as the classic DCGAN loop does (one G forward fewer per step; G then trains on the fakes D
    # has just been updated on)
    fresh_latents_for_g: bool = True
    loss: str = "nonsaturating"  # minimax | nonsaturating | ml
    # -- critics and mode-collapse remedies (docs/mode_collapse.md) -----------------------------
    # (train.loss may also be wasserstein | hinge | least_squares: D's output is then a score)
    optimizer: str = "adam"  # adam | rmsprop (WGAN's choice; betas then unused)
    clip: float = 0.0  # WGAN weight clipping: D's weights into [-clip, clip] after each D step
    gp_lambda: float = 0.0  # WGAN-GP: λ × gradient penalty on random interpolates; 0 = off
    penalties: dict[str, float] = field(default_factory=dict)  # registered penalty -> weight
    penalty_every: int = 1  # lazy penalties (StyleGAN2): on every N-th D step only, weighted N×
    pack: int = 1  # PacGAN: D judges packs of this many samples; batch_size must divide by it
    # -- small data (docs/modern.md): D's inputs augmented, differentiably (DiffAugment, ADA) ----
    augment: str = ""  # comma-separated ops: translation, cutout, color (registered); "" = off
    ada_target: float = 0.0  # ADA: adapt the ops' probability p to this E[sign D(real)]; 0 = off
    ada_images: int = 100_000  # ADA: real images over which p can move from 0 to 1
    unroll: int = 0  # unrolled GAN: G's loss sees D after this many functional D steps; 0 = off
    unroll_first_order: bool = False  # unrolled steps as constants (no gradient through them)
    unroll_real_term: bool = True  # G's unrolled loss keeps D^K's real-data term: f(θ_G, θ_D^K)
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    lr_milestones: tuple[int, ...] = ()  # generator steps at which both lrs are multiplied ...
    lr_gamma: float = 0.1  # ... by this factor
    ema: float = 0.0  # decay of an exponential moving average of G's weights; 0 = off
    ema_warmup: bool = False  # decay min(ema, (1 + t) / (10 + t)) at G step t: short runs too
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # CPU threads; 0 = torch's default (one per core)
    interop_threads: int = 0  # CPU threads running independent ops at once; 0 = torch's default
    log_every: int = 100  # steps between lines of metrics.jsonl
    tensorboard: bool = False  # also write TensorBoard event files (run_dir/tensorboard/)
    wandb: bool = False  # also log to Weights & Biases (gankit[wandb]; WANDB_MODE=offline: local)
    wandb_project: str = "gankit"  # the W&B project
    wandb_name: str = ""  # the W&B run's name; empty: the run folder's name
    ckpt_every: int = 1000  # steps between checkpoints
    frame_every: int = 250  # steps between frames of the training animation
    pretrain_d_samples: int = 0  # Keras recipe: pretrain D 1 epoch on this many real + fake; 0 off
    pretrain_d_batch: int = 32  # minibatch of that pretraining epoch
    # -- speed, scale, faults (docs/speed.md); unset = automatic: on for CUDA, measured on CPU --
    amp: bool | None = None  # bf16 autocast of the nets' forward passes
    channels_last: bool | None = None  # channels-last memory format (conv nets only)
    compile: bool | None = None  # torch.compile the nets
    compile_mode: str = "default"  # default | reduce-overhead (CUDA graphs) | max-autotune
    fused_adam: bool | None = None  # fused Adam kernel (train.optimizer = adam)
    sync_batchnorm: bool = False  # under torchrun on GPUs: BatchNorm statistics over all ranks
    on_nonfinite: str = "stop"  # a NaN/Inf loss: stop (naming the step) | skip its update


@dataclass(frozen=True)
class EvalConfig:
    """How a finished run is measured."""

    n_samples: int = 2500
    metrics: tuple[str, ...] = ("modes", "hq_fraction", "reverse_kl", "w1")
    inception_weights: str | None = None  # TorchScript Inception-v3 file: enables fid_inception
    inception_sha256: str | None = None  # its SHA-256 (else read from <weights>.sha256)


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "prior": PriorConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
}

CHOICES: dict[str, tuple[str, ...]] = {
    "data.pixel_range": ("signed", "unit"),
    "prior.name": ("normal", "uniform"),
    "model.g_activation": ("relu", "leaky_relu", "tanh", "elu"),
    "model.d_activation": ("relu", "leaky_relu", "tanh", "elu"),
    "model.init": ("default", "orthogonal"),
    "model.spectral_norm": ("none", "d", "g", "both"),
    "model.conditional": ("none", "projection", "acgan"),
    "train.optimizer": ("adam", "rmsprop"),
    "train.compile_mode": ("default", "reduce-overhead", "max-autotune"),
    "train.on_nonfinite": ("stop", "skip"),
}


# Data sets, architectures and losses are not listed here: their names are those registered in
# gankit.registry (built-in and the user's own), or import paths.


@dataclass(frozen=True)
class Config:
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        """Build and validate a config; every key must be known, every value of the right type."""
        _reject_unknown(raw, all_keys())
        kwargs: dict[str, Any] = {}
        if "description" in raw:
            kwargs["description"] = _coerce("description", raw["description"], str)
        for section, klass in SECTIONS.items():
            values = raw.get(section, {})
            if not isinstance(values, dict):
                raise ConfigError(f"'{section}' must be a table of settings, got {values!r}")
            hints = typing.get_type_hints(klass)
            kwargs[section] = klass(
                **{k: _coerce(f"{section}.{k}", v, hints[k]) for k, v in values.items()}
            )
        cfg = _canonical(cls(**kwargs))
        if "metrics" not in raw.get("eval", {}):  # none named: what this run's data allow
            cfg = dataclasses.replace(cfg, eval=dataclasses.replace(
                cfg.eval, metrics=default_metrics(cfg)))
        validate(cfg)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def to_toml(self) -> str:
        from gankit._optional import require

        tomli_w = require("tomli_w", "tomli-w", "writing a config (config.toml, checkpoints)")
        return tomli_w.dumps(_drop_none(self.to_dict()))

    @classmethod
    def from_toml(cls, text: str, source: str = "config") -> Config:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{source} is not valid TOML: {e}") from None
        return cls.from_dict(raw)

    def with_overrides(self, overrides: list[str] | dict[str, Any]) -> Config:
        """Apply `section.key=value` strings (values parsed as TOML, else taken as text)."""
        pairs = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        raw = self.to_dict()
        changed = [k for k in pairs if k != "description"]
        if changed and "description" not in pairs:  # the preset's words may no longer hold
            raw["description"] = ""
        for key, value in pairs.items():
            _reject_unknown_key(key, all_keys())
            if "." in key:
                section, name = key.split(".", 1)
                raw[section][name] = value
            else:
                raw[key] = value
        if "eval.metrics" not in pairs and any(k.startswith("data.") for k in pairs):
            if raw["eval"]["metrics"] == list(default_metrics(self)):  # the data's defaults:
                del raw["eval"]["metrics"]  # follow the new data (as the description does)
        cfg = Config.from_dict(raw)
        if not cfg.description:
            cfg = dataclasses.replace(cfg, description=summary(cfg))
        return cfg


# -- keys, suggestions, overrides ---------------------------------------------------------------
def all_keys() -> list[str]:
    keys = ["description"]
    for section, klass in SECTIONS.items():
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(klass)]
    return keys


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if not close:  # match the last part alone: `lr_gg` -> `train.lr_g`
        tails = {k.rsplit(".", 1)[-1]: k for k in valid}
        hit = difflib.get_close_matches(key.rsplit(".", 1)[-1], list(tails), n=1, cutoff=0.6)
        close = [tails[hit[0]]] if hit else []
    return f"; did you mean '{close[0]}'?" if close else ""


def _reject_unknown_key(key: str, valid: list[str]) -> None:
    if key not in valid and key not in SECTIONS:
        raise ConfigError(f"unknown config key '{key}'{_suggest(key, valid)}")


def _reject_unknown(raw: dict[str, Any], valid: list[str]) -> None:
    for top, value in raw.items():
        if top in SECTIONS and isinstance(value, dict):
            for name in value:
                _reject_unknown_key(f"{top}.{name}", valid)
        else:
            _reject_unknown_key(top, valid)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(
                f"override '{item}' is not of the form key=value (e.g. train.lr_g=2e-4)"
            )
        key, text = item.split("=", 1)
        out[key.strip()] = parse_value(text.strip())
    return out


def parse_value(text: str) -> Any:
    """Parse an override value as TOML (numbers, booleans, arrays); plain words stay text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# -- type coercion ------------------------------------------------------------------------------
_TYPE_WORDS = {int: "an integer", float: "a number", str: "text", bool: "true or false"}


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):  # `X | None`
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            return None
        inner = next(a for a in args if a is not type(None))
        return _coerce(key, value, inner)
    if origin is dict:  # a table of name -> value (train.penalties)
        if not isinstance(value, dict):
            raise ConfigError(f"{key} expects a table of name = value, e.g. {{gp = 10.0}}, "
                              f"got {value!r}")
        return {str(k): _coerce(f"{key}.{k}", v, args[1]) for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} expects a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key} expects {len(args)} values, got {len(value)}: {value!r}")
        return tuple(_coerce(f"{key}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args)))
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"{key} expects {_TYPE_WORDS.get(hint, hint)}, got {value!r}")


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def _drop_none(obj: Any) -> Any:
    """Without None values (TOML has none) and empty tables (a default, written as nothing)."""
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None and v != {}}
    return obj


# -- validation ---------------------------------------------------------------------------------
#: Largest |coordinate| of a mixture mean or std: float32 distances stay finite far beyond it.
MAX_COORD = 1e6
#: Most CPU threads a run may ask for.
MAX_THREADS = 1024
#: Integers are stored as int64 by torch and TOML.
MAX_INT = 2**63 - 1


def check_range(ok: bool, key: str, got: Any, valid: str) -> None:
    """A ConfigError naming the key, its value and the valid range, unless `ok`."""
    if not ok:
        raise ConfigError(f"{key} = {got!r} is out of range: must be {valid}")


def validate(cfg: Config) -> None:
    """Reject impossible values, naming the valid range. Names are checked against the
    registries, and what a data set or a net can do against the facts registered with it."""
    _validate_choices(cfg)
    _validate_numbers(cfg)
    _validate_data(cfg.data)
    _validate_names(cfg)
    _validate_nets(cfg)
    _validate_model(cfg)
    _validate_loop(cfg.train)
    _validate_remedies(cfg)
    _validate_augment(cfg)
    _validate_conditional(cfg)
    _validate_stack(cfg.data)
    _validate_optimizer(cfg.train)
    _validate_bookkeeping(cfg.train)
    _validate_speed(cfg.train)
    _validate_eval(cfg.eval)
    _validate_metric_needs(cfg)


def _validate_choices(cfg: Config) -> None:
    for key, names in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value not in names:
            raise ConfigError(
                f"{key} = {value!r} is not one of: {', '.join(names)}{did_you_mean(value, names)}"
            )


def _validate_numbers(cfg: Config) -> None:
    """Every number finite and within 64 bits: inf/NaN or a 70-bit integer is never a setting."""
    for section in SECTIONS:
        for f in dataclasses.fields(getattr(cfg, section)):
            value = getattr(getattr(cfg, section), f.name)
            values = value if isinstance(value, tuple) else (value,)
            flat = [v for x in values for v in (x if isinstance(x, tuple) else (x,))]
            for v in flat:
                if isinstance(v, float) and not math.isfinite(v):
                    raise ConfigError(f"{section}.{f.name} = {value!r} is not finite: every "
                                      "number of a config must be finite (no inf or nan)")
                if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT:
                    raise ConfigError(f"{section}.{f.name} = {v} does not fit in 64 bits")


def _validate_data(data: DataConfig) -> None:
    check_range(data.n_train >= 1, "data.n_train", data.n_train, "≥ 1")
    check_range(data.std is None or 0 < data.std <= MAX_COORD, "data.std", data.std,
                f"in (0, {MAX_COORD:g}]")
    check_range(data.radius > 0, "data.radius", data.radius, "> 0")
    check = registry.DATASETS.info(data.name)["check"]
    if check is not None:  # the data set's own settings (a mixture's data.means, ...)
        check(data)


def _validate_names(cfg: Config) -> None:
    """Names looked up in a registry: registered, an old alias, or an import path."""
    for key, reg in registry.KEYS.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if not reg.knows(value):
            raise ConfigError(f"{key} = {value!r} is not one of: {', '.join(reg)} (or an "
                              f"import path 'package.module:name'){did_you_mean(value, reg)}; "
                              f"{PLUGIN_HINT}")


def _names_with(reg: registry.Registry[Any], fact: str) -> list[str]:
    return [name for name in reg if reg.info(name)[fact]]


def _either(values: Any) -> str:
    """'28, 32 or 64'."""
    words = [str(v) for v in values]
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


def _channel_words(channels: tuple[int, ...]) -> str:
    return _either(f"{c} ({ {1: 'grayscale', 3: 'RGB'}.get(c, 'channels') })" for c in channels)


def _validate_nets(cfg: Config) -> None:
    """Image sizes and channels against the facts of the data set and of each net."""
    data = cfg.data
    check_range(data.resolution >= 8, "data.resolution", data.resolution, "≥ 8")
    check_range(data.channels in (1, 3), "data.channels", data.channels, _channel_words((1, 3)))
    data_facts = registry.DATASETS.info(data.name)
    if data_facts["channels"] is not None:
        check_range(data.channels in data_facts["channels"], "data.channels", data.channels,
                    f"{_channel_words(data_facts['channels'])} for data set {data.name!r}")
    own_data = data.name == registry.PYTHON or registry.is_import_path(data.name)
    seen = data.channels * data.stack  # the channels of one sample, as the nets see them
    for key, reg in (("model.g_arch", registry.GENERATORS),
                     ("model.d_arch", registry.DISCRIMINATORS)):
        arch = getattr(cfg.model, key.split(".")[1])
        facts = reg.info(arch)
        if facts["image"] and not (data_facts["image"] or own_data):
            raise ConfigError(f"{key} = {arch!r} needs an image data set (data.name one of "
                              f"{', '.join(_names_with(registry.DATASETS, 'image'))}), got "
                              f"{data.name!r}")
        sides = facts["resolutions"]
        if sides is not None:
            check_range(data.resolution in sides, "data.resolution", data.resolution,
                        f"{_either(sides)} for {key} = {arch!r}, whose nets take "
                        f"{_either(f'{s}×{s}' for s in sides)} images")
        if facts["channels"] is not None:
            check_range(seen in facts["channels"],
                        "data.channels × data.stack" if data.stack > 1 else "data.channels",
                        seen, f"{_channel_words(facts['channels'])} for {key} = {arch!r}")
    if cfg.train.pack > 1 and not registry.DISCRIMINATORS.info(cfg.model.d_arch)["packable"]:
        packable = [n for n in _names_with(registry.DISCRIMINATORS, "packable")
                    if n != registry.PYTHON]
        raise ConfigError(f"train.pack > 1 needs a D whose input size follows the data "
                          f"({', '.join(packable)}); model.d_arch = {cfg.model.d_arch!r} takes "
                          "one sample of a fixed size")


def _validate_model(cfg: Config) -> None:
    model = cfg.model
    check_range(cfg.prior.dim >= 1, "prior.dim", cfg.prior.dim, "≥ 1")
    for name in ("g_width", "d_width"):
        check_range(getattr(model, name) >= 1, f"model.{name}", getattr(model, name), "≥ 1")
    for name in ("g_depth", "d_depth"):
        check_range(getattr(model, name) >= 0, f"model.{name}", getattr(model, name), "≥ 0")
    check_range(model.maxout_pieces >= 2, "model.maxout_pieces", model.maxout_pieces, "≥ 2")
    check_range(model.init_gain > 0, "model.init_gain", model.init_gain, "> 0")
    check_range(model.d_input_scale > 0, "model.d_input_scale", model.d_input_scale, "> 0")
    for role, arch in (("generator", model.g_arch), ("discriminator", model.d_arch)):
        if model.spectral_norm in (role[0], "both") and arch == registry.PYTHON:
            raise ConfigError(f"model.spectral_norm = {model.spectral_norm!r} normalises the nets "
                              f"gankit builds, but the {role} was passed from Python: apply "
                              "torch.nn.utils.parametrizations.spectral_norm to its layers "
                              "yourself, or leave model.spectral_norm at 'none'")


def _validate_loop(train: TrainConfig) -> None:
    """Algorithm 1's counts."""
    check_range(train.steps >= 0, "train.steps", train.steps, "≥ 0")
    check_range(train.batch_size >= 1, "train.batch_size", train.batch_size, "≥ 1")
    check_range(train.k >= 1, "train.k", train.k, "≥ 1 (discriminator steps per generator step)")
    check_range(train.g_steps >= 1, "train.g_steps", train.g_steps,
                "≥ 1 (generator updates per step)")


def _validate_penalties(train: TrainConfig) -> None:
    """train.penalties names registered penalties (or import paths) with weights ≥ 0."""
    for name, weight in train.penalties.items():
        if not registry.PENALTIES.knows(name):
            known = list(registry.PENALTIES)
            raise ConfigError(f"train.penalties: unknown penalty '{name}'; known: "
                              f"{', '.join(known)}{did_you_mean(name, known)}; {PLUGIN_HINT}")
        check_range(weight >= 0, f"train.penalties.{name}", weight, "≥ 0 (0 turns it off)")
    if train.gp_lambda and "gp" in train.penalties:
        raise ConfigError("the gradient penalty is set twice (train.gp_lambda and "
                          "train.penalties.gp): keep one")
    check_range(train.penalty_every >= 1, "train.penalty_every", train.penalty_every,
                "≥ 1 (1 = every D step)")
    if train.penalty_every > 1 and not (train.gp_lambda or any(train.penalties.values())):
        raise ConfigError(f"train.penalty_every = {train.penalty_every} spaces out D's "
                          "penalties, but this run has none: name one in train.penalties "
                          "(e.g. {r1 = 1.0}) or leave train.penalty_every at 1")


def _validate_remedies(cfg: Config) -> None:
    """Clipping, gradient penalty, packing and unrolling."""
    train = cfg.train
    check_range(train.clip >= 0, "train.clip", train.clip, "≥ 0 (0 turns weight clipping off)")
    check_range(train.gp_lambda >= 0, "train.gp_lambda", train.gp_lambda,
                "≥ 0 (0 turns the penalty off)")
    _validate_penalties(train)
    check_range(train.pack >= 1, "train.pack", train.pack, "≥ 1 (1 = no packing)")
    check_range(train.unroll >= 0, "train.unroll", train.unroll, "≥ 0 (0 = no unrolling)")
    if train.batch_size % train.pack:
        lower = train.batch_size - train.batch_size % train.pack
        near = " or ".join(str(b) for b in (lower, lower + train.pack) if b > 0)
        raise ConfigError(
            f"train.batch_size = {train.batch_size} is not divisible by train.pack = "
            f"{train.pack}: a packed D judges groups of {train.pack} samples; use a multiple of "
            f"{train.pack} ({near})")


def _validate_augment(cfg: Config) -> None:
    """Augmentation: registered op names (near match on a typo), image data only; ADA's target in
    (0, 1) and only with ops to apply."""
    train = cfg.train
    if train.augment.strip():
        from gankit.train.augment import parse_ops

        parse_ops(train.augment)
        if _has(cfg, "images") is False:
            raise ConfigError(f"train.augment = {train.augment!r} transforms images, but data set "
                              f"{cfg.data.name!r} is not an image data set (its samples are "
                              "points): leave train.augment empty (\"\") for it")
    check_range(0 <= train.ada_target < 1, "train.ada_target", train.ada_target,
                "in [0, 1) (0 = no ADA; the paper's value is 0.6)")
    check_range(train.ada_images >= 1, "train.ada_images", train.ada_images, "≥ 1")
    if train.ada_target and not train.augment.strip():
        raise ConfigError(f"train.ada_target = {train.ada_target:g} adapts the probability of the "
                          "augmentations, but train.augment is empty: name them too, e.g. "
                          "train.augment=\"translation,cutout,color\"")


def _validate_conditional(cfg: Config) -> None:
    """Conditional training needs labelled data, nets with a conditional version, and none of
    the options whose extra passes through D do not carry labels."""
    model = cfg.model
    check_range(model.ac_weight >= 0, "model.ac_weight", model.ac_weight, "≥ 0")
    if model.conditional == "none":
        return
    from gankit.nets.conditional import ARCHS

    for key in ("model.g_arch", "model.d_arch"):
        arch = getattr(model, key.split(".")[1])
        if arch not in ARCHS:
            raise ConfigError(f"model.conditional = {model.conditional!r} needs nets with a "
                              f"class-conditional version ({', '.join(ARCHS)}); {key} = "
                              f"{arch!r} has none")
    if _has(cfg, "labels") is False and cfg.data.name != "folder":
        sets = ", ".join(_names_with(registry.DATASETS, "labels"))
        raise ConfigError(f"model.conditional = {model.conditional!r} trains on class labels, "
                          f"but data set {cfg.data.name!r} has none: use a labelled set "
                          f"({sets}), a folder whose sub-folders are the classes, or (item, "
                          "label) pairs from Python; or set model.conditional=none")
    for key, value, words in (("data.stack", cfg.data.stack > 1, "1"),
                              ("train.unroll", cfg.train.unroll, "0"),
                              ("train.pretrain_d_samples", cfg.train.pretrain_d_samples, "0")):
        if value:
            raise ConfigError(f"{key} is not available with model.conditional = "
                              f"{model.conditional!r} (its passes through D carry no labels): "
                              f"set {key}={words} or model.conditional=none")


def _validate_stack(data: DataConfig) -> None:
    """Stacked data (the 1000-mode benchmark): k grayscale labelled images as k channels."""
    check_range(data.stack >= 1, "data.stack", data.stack, "≥ 1 (1 = no stacking)")
    if data.stack > 1:
        facts = registry.DATASETS.info(data.name)
        stackable = [n for n in _names_with(registry.DATASETS, "labels")
                     if registry.DATASETS.info(n)["channels"] == (1,)]
        check_range(facts["labels"] and facts["channels"] == (1,), "data.name", data.name,
                    f"{_either(stackable)} when data.stack > 1 (labelled grayscale sets)")
        check_range(data.channels == 1, "data.channels", data.channels,
                    "1 with data.stack: the channels of one image; the model sees data.stack")


def _validate_optimizer(train: TrainConfig) -> None:
    for name in ("lr_g", "lr_d"):
        check_range(getattr(train, name) > 0, f"train.{name}", getattr(train, name), "> 0")
    for name in ("betas_g", "betas_d"):
        betas = getattr(train, name)
        check_range(all(0 <= v < 1 for v in betas), f"train.{name}", betas,
                    "two numbers in [0, 1)")
    milestones = train.lr_milestones
    check_range(list(milestones) == sorted(set(milestones)) and all(s > 0 for s in milestones),
                "train.lr_milestones", milestones, "increasing positive step numbers")
    check_range(0 < train.lr_gamma <= 1, "train.lr_gamma", train.lr_gamma, "in (0, 1]")
    check_range(0 <= train.ema < 1, "train.ema", train.ema, "in [0, 1) (0 turns it off)")
    if train.ema_warmup and not train.ema:
        raise ConfigError("train.ema_warmup = true warms up G's weight average, but train.ema = "
                          "0 turns it off: set train.ema (e.g. 0.999) or train.ema_warmup=false")


def _validate_bookkeeping(train: TrainConfig) -> None:
    """Seed, device, threads, logging intervals, and the Keras recipe's D pretraining."""
    check_range(0 <= train.seed < 2**32, "train.seed", train.seed, "in [0, 2^32)")
    check_range(0 <= train.threads <= MAX_THREADS, "train.threads", train.threads,
                f"in [0, {MAX_THREADS}] (0 = automatic)")
    check_range(re.fullmatch(r"auto|cpu|cuda(:\d{1,3})?", train.device) is not None,
                "train.device", train.device, "auto, cpu, cuda or cuda:N")
    for name in ("log_every", "ckpt_every", "frame_every"):
        check_range(getattr(train, name) >= 1, f"train.{name}", getattr(train, name), "≥ 1")
    check_range(train.pretrain_d_samples >= 0, "train.pretrain_d_samples",
                train.pretrain_d_samples, "≥ 0 (0 turns D pretraining off)")
    check_range(train.pretrain_d_batch >= 1, "train.pretrain_d_batch", train.pretrain_d_batch,
                "≥ 1")
    if train.pretrain_d_samples and registry.LOSSES.info(train.loss)["critic"]:
        log_odds = [n for n in registry.LOSSES
                    if not registry.LOSSES.info(n)["critic"] and n != registry.PYTHON]
        raise ConfigError(f"train.pretrain_d_samples = {train.pretrain_d_samples} pretrains D "
                          f"as a classifier of log-odds, but train.loss = {train.loss!r} is a "
                          "critic loss (D's output is a score): set train.pretrain_d_samples=0 "
                          f"or a loss on log-odds ({', '.join(log_odds)})")


def _validate_speed(train: TrainConfig) -> None:
    """Fast-path switches that contradict the rest of the config."""
    if train.fused_adam and train.optimizer != "adam":
        raise ConfigError(f"train.fused_adam = true applies to Adam, but train.optimizer = "
                          f"{train.optimizer!r}; unset it or set train.optimizer=adam")
    check_range(0 <= train.interop_threads <= MAX_THREADS, "train.interop_threads",
                train.interop_threads, f"in [0, {MAX_THREADS}] (0 = torch's default)")
    if not train.fresh_latents_for_g and train.g_steps > 1:
        raise ConfigError(f"train.fresh_latents_for_g = false re-uses the D step's fake batch for "
                          f"one G update, but train.g_steps = {train.g_steps}: set "
                          "train.fresh_latents_for_g=true or train.g_steps=1")
    if train.device == "cpu" and train.sync_batchnorm:
        raise ConfigError("train.sync_batchnorm = true needs CUDA devices (PyTorch's "
                          "SyncBatchNorm has no CPU implementation); set it to false on CPU")


def _validate_eval(evaluation: EvalConfig) -> None:
    check_range(evaluation.n_samples >= 1, "eval.n_samples", evaluation.n_samples, "≥ 1")
    metrics = registry.METRICS
    for name in evaluation.metrics:
        if not metrics.knows(name):
            raise ConfigError(
                f"eval.metrics: unknown metric '{name}'; known: {', '.join(metrics)}"
                f"{did_you_mean(name, list(metrics))}; {PLUGIN_HINT}"
            )


#: What a labelled image data set or stacked digits are measured with when a config names none.
CLASSIFIER_METRICS = ("fd_classifier", "kid_classifier", "classes_present")
STACKED_METRICS = ("stacked_modes", "stacked_kl")
CONDITIONAL_METRICS = ("class_accuracy", "intra_fd")  # and, for a conditional run, these


def default_metrics(cfg: Config) -> tuple[str, ...]:
    """The metrics of a config that names none: the mixture metrics and W1 for a mixture (and
    data passed from Python, where gankit.fit picks), the shipped classifier's for a labelled
    image set (with class accuracy and intra-class FD for a conditional run), W1 in data space
    otherwise."""
    if cfg.data.stack > 1:
        return STACKED_METRICS
    if _has(cfg, "mixture") is not False:
        return EvalConfig().metrics
    if not _has(cfg, "labels"):
        return ("w1",)
    return CLASSIFIER_METRICS + (CONDITIONAL_METRICS if _has(cfg, "conditional") else ())


def _has(cfg: Config, need: str) -> bool | None:
    """Whether a run of this config has what a metric needs (registry.METRIC_NEEDS); None where
    it cannot be known before the data are seen (data passed from Python)."""
    data = cfg.data
    if need == "inception":
        return bool(cfg.eval.inception_weights)
    if need == "stacked":
        return data.stack > 1
    if need == "conditional":
        return cfg.model.conditional != "none"
    if data.name == registry.PYTHON or registry.is_import_path(data.name):
        return None
    return bool(registry.DATASETS.info(data.name)[_NEED_FACTS.get(need, need)])


#: The data set fact that says whether it has what a metric needs.
_NEED_FACTS = {"images": "image"}


def _need_words(need: str) -> str:
    """What a need asks for, in a refusal's words."""
    if need in ("mixture", "labels"):
        sets = ", ".join(_names_with(registry.DATASETS, need))
        return {"mixture": f"a Gaussian mixture with known modes (data.name {sets})",
                "labels": f"a labelled image data set for its shipped classifier ({sets})"}[need]
    return {"images": "image data", "stacked": "stacked digits (data.stack > 1)",
            "conditional": "a class-conditional run (model.conditional = projection or acgan)",
            "inception": "Inception weights (--inception-weights PATH)"}[need]


def _validate_metric_needs(cfg: Config) -> None:
    """A metric the run cannot compute is refused now, not after training."""
    for name in cfg.eval.metrics:
        for need in registry.METRICS.info(name)["needs"]:
            if _has(cfg, need) is False:
                raise ConfigError(f"eval.metrics: {name} needs {_need_words(need)}; this run's "
                                  f"data ({cfg.data.name}) has none: leave {name} out "
                                  f"(e.g. eval.metrics=[\"w1\"])")


def _canonical(cfg: Config) -> Config:
    """Old architecture names replaced by their current ones (the saved config uses those)."""
    model = cfg.model
    g_arch = registry.GENERATORS.canonical(model.g_arch)
    d_arch = registry.DISCRIMINATORS.canonical(model.d_arch)
    if (g_arch, d_arch) == (model.g_arch, model.d_arch):
        return cfg
    return dataclasses.replace(cfg, model=dataclasses.replace(model, g_arch=g_arch,
                                                              d_arch=d_arch))


def summary(cfg: Config) -> str:
    """A description of what a config trains, from its values (used when overrides change a
    preset, whose own description may no longer hold)."""
    sn = {"d": ", spectral norm on D", "g": ", spectral norm on G",
          "both": ", spectral norm on G and D"}.get(cfg.model.spectral_norm, "")
    return (f"{_data_words(cfg.data)}; G {cfg.model.g_arch}, D {cfg.model.d_arch}{sn}; "
            f"{_train_words(cfg.train)}")


def _data_words(data: DataConfig) -> str:
    """'8-mode ring (std 0.01)', 'mnist 28×28', ...: the data set as its facts describe it."""
    facts = registry.DATASETS.info(data.name)
    if facts["mixture"]:
        modes = facts["modes"] if facts["modes"] is not None else len(data.means)
        std = data.std if data.std is not None else facts["std"]
        return f"{modes}-mode {data.name} (std {std:g})"
    if data.name == registry.PYTHON:
        return "data given from Python"
    if facts["image"]:
        stacked = f", {data.stack} stacked as channels" if data.stack > 1 else ""
        return f"{data.name} {data.resolution}×{data.resolution}{stacked}"
    return data.name


def _train_words(train: TrainConfig) -> str:
    words = [f"{train.loss} loss"]
    words += [f"k = {train.k}"] if train.k > 1 else []
    words += [f"EMA {train.ema:g}" + (" with warm-up" if train.ema_warmup else "")
              ] if train.ema else []
    words += [f"PacGAN{train.pack}"] if train.pack > 1 else []
    words += [f"gradient penalty {train.gp_lambda:g}"] if train.gp_lambda else []
    words += [f"{name} {w:g}" for name, w in train.penalties.items() if w]
    words += [f"penalties every {train.penalty_every} D steps"] if train.penalty_every > 1 else []
    words += [f"unrolled {train.unroll}"] if train.unroll else []
    words += [f"augmented ({train.augment}" + (f", ADA target {train.ada_target:g})"
                                               if train.ada_target else ")")
              ] if train.augment.strip() else []
    return f"{', '.join(words)}; batch {train.batch_size}, {train.steps:,} steps"


# -- presets ------------------------------------------------------------------------------------
def _preset_files() -> dict[str, Any]:
    root = resources.files("gankit") / "presets"
    return {p.name.removesuffix(".toml"): p for p in root.iterdir() if p.name.endswith(".toml")}


def preset_names() -> list[str]:
    return sorted(_preset_files())


def load_preset(name: str) -> Config:
    """A preset by name, or a path to a TOML file of the same form."""
    files = _preset_files()
    name = registry.OLD_NAMES["preset"].get(name, name)
    if name in files:
        return Config.from_toml(files[name].read_text(), source=f"preset '{name}'")
    path = Path(name)
    if path.suffix == ".toml" and path.is_file():
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path} is not UTF-8 text (byte {e.start}); TOML files are UTF-8"
                              ) from None
        return Config.from_toml(text, source=str(path))
    raise ConfigError(
        f"unknown preset '{name}'{did_you_mean(name, files)}; "
        f"available: {', '.join(sorted(files))} (or a path to a .toml file)"
    )


def preset_descriptions() -> dict[str, str]:
    return {name: load_preset(name).description for name in preset_names()}
