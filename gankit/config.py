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
from gankit.errors import ConfigError


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


@dataclass(frozen=True)
class TrainConfig:
    """Algorithm 1 of Goodfellow et al. (2014): k discriminator steps per generator step."""

    steps: int = 10_000  # generator steps
    batch_size: int = 256  # minibatch m, for real and for fake samples
    k: int = 1  # discriminator steps per generator step
    g_steps: int = 1  # generator updates per step, after the k D steps (PacGAN's Stacked MNIST: 2)
    loss: str = "nonsaturating"  # minimax | nonsaturating | ml
    # -- critics and mode-collapse remedies (docs/mode_collapse.md) -----------------------------
    # (train.loss may also be wasserstein | hinge | least_squares: D's output is then a score)
    optimizer: str = "adam"  # adam | rmsprop (WGAN's choice; betas then unused)
    clip: float = 0.0  # WGAN weight clipping: D's weights into [-clip, clip] after each D step
    gp_lambda: float = 0.0  # WGAN-GP: λ × gradient penalty on random interpolates; 0 = off
    penalties: dict[str, float] = field(default_factory=dict)  # registered penalty -> weight
    pack: int = 1  # PacGAN: D judges packs of this many samples; batch_size must divide by it
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
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # CPU threads; 0 = torch's default (one per core)
    log_every: int = 100  # steps between lines of metrics.jsonl
    tensorboard: bool = False  # also write TensorBoard event files (run_dir/tensorboard/)
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
def _require(ok: bool, key: str, got: Any, valid: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {got!r} is out of range: must be {valid}")


def validate(cfg: Config) -> None:
    """Reject impossible values, naming the valid range."""
    for key, names in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value not in names:
            raise ConfigError(
                f"{key} = {value!r} is not one of: {', '.join(names)}{_choice_hint(value, names)}"
            )
    _validate_numbers(cfg)
    d, p, m, t, e = cfg.data, cfg.prior, cfg.model, cfg.train, cfg.eval
    _require(d.n_train >= 1, "data.n_train", d.n_train, "≥ 1")
    _require(d.std is None or 0 < d.std <= MAX_COORD, "data.std", d.std, f"in (0, {MAX_COORD:g}]")
    _require(d.radius > 0, "data.radius", d.radius, "> 0")
    if d.name == "mixture":
        _require(len(d.means) >= 1, "data.means", d.means, "a non-empty list of mode centres")
        dims = {len(row) for row in d.means}
        _require(len(dims) == 1 and 0 not in dims, "data.means", d.means,
                 "rows of one common, non-zero length")
        _require(not d.weights or len(d.weights) == len(d.means), "data.weights", d.weights,
                 f"empty (uniform) or {len(d.means)} values, one per mode")
        _require(all(w >= 0 for w in d.weights) and (not d.weights or sum(d.weights) > 0),
                 "data.weights", d.weights, "non-negative with a positive sum")
        _require(all(abs(v) <= MAX_COORD for row in d.means for v in row), "data.means",
                 d.means, f"coordinates within ±{MAX_COORD:g} (the nets train on float32 points)")
    _validate_images(cfg)
    _require(p.dim >= 1, "prior.dim", p.dim, "≥ 1")
    for name in ("g_width", "d_width"):
        _require(getattr(m, name) >= 1, f"model.{name}", getattr(m, name), "≥ 1")
    for name in ("g_depth", "d_depth"):
        _require(getattr(m, name) >= 0, f"model.{name}", getattr(m, name), "≥ 0")
    _require(m.maxout_pieces >= 2, "model.maxout_pieces", m.maxout_pieces, "≥ 2")
    _require(m.init_gain > 0, "model.init_gain", m.init_gain, "> 0")
    _require(m.d_input_scale > 0, "model.d_input_scale", m.d_input_scale, "> 0")
    _require(t.steps >= 0, "train.steps", t.steps, "≥ 0")
    _require(t.batch_size >= 1, "train.batch_size", t.batch_size, "≥ 1")
    _require(t.k >= 1, "train.k", t.k, "≥ 1 (discriminator steps per generator step)")
    _require(t.g_steps >= 1, "train.g_steps", t.g_steps, "≥ 1 (generator updates per step)")
    _validate_remedies(cfg)
    _validate_stack(cfg)
    for name in ("lr_g", "lr_d"):
        _require(getattr(t, name) > 0, f"train.{name}", getattr(t, name), "> 0")
    for name in ("betas_g", "betas_d"):
        b = getattr(t, name)
        _require(all(0 <= v < 1 for v in b), f"train.{name}", b, "two numbers in [0, 1)")
    _require(list(t.lr_milestones) == sorted(set(t.lr_milestones))
             and all(s > 0 for s in t.lr_milestones),
             "train.lr_milestones", t.lr_milestones, "increasing positive step numbers")
    _require(0 < t.lr_gamma <= 1, "train.lr_gamma", t.lr_gamma, "in (0, 1]")
    _require(0 <= t.ema < 1, "train.ema", t.ema, "in [0, 1) (0 turns it off)")
    _require(0 <= t.seed < 2**32, "train.seed", t.seed, "in [0, 2^32)")
    _require(0 <= t.threads <= MAX_THREADS, "train.threads", t.threads,
             f"in [0, {MAX_THREADS}] (0 = automatic)")
    _require(re.fullmatch(r"auto|cpu|cuda(:\d{1,3})?", t.device) is not None,
             "train.device", t.device, "auto, cpu, cuda or cuda:N")
    for name in ("log_every", "ckpt_every", "frame_every"):
        _require(getattr(t, name) >= 1, f"train.{name}", getattr(t, name), "≥ 1")
    _require(t.pretrain_d_samples >= 0, "train.pretrain_d_samples", t.pretrain_d_samples,
             "≥ 0 (0 turns D pretraining off)")
    _require(t.pretrain_d_batch >= 1, "train.pretrain_d_batch", t.pretrain_d_batch, "≥ 1")
    _validate_speed(cfg)
    _require(e.n_samples >= 1, "eval.n_samples", e.n_samples, "≥ 1")
    metrics = registry.METRICS
    for name in e.metrics:
        if not metrics.knows(name):
            raise ConfigError(
                f"eval.metrics: unknown metric '{name}'; known: {', '.join(metrics)}"
                f"{_choice_hint(name, list(metrics))}"
            )


#: Largest |coordinate| of a mixture mean or std: float32 distances stay finite far beyond it.
MAX_COORD = 1e6
#: Most CPU threads a run may ask for.
MAX_THREADS = 1024
#: Integers are stored as int64 by torch and TOML.
MAX_INT = 2**63 - 1


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



def image_data_sets() -> list[str]:
    return [n for n in registry.DATASETS if registry.DATASETS.info(n).get("image")]


def _validate_names(cfg: Config) -> None:
    """Names looked up in a registry: registered, an old alias, or an import path."""
    for key, reg in registry.KEYS.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if not reg.knows(value):
            raise ConfigError(f"{key} = {value!r} is not one of: {', '.join(reg)} (or an "
                              f"import path 'package.module:name'){_choice_hint(value, reg)}")


def _validate_images(cfg: Config) -> None:
    """Image data sets and convolutional nets: resolutions and channels each net supports."""
    d, m = cfg.data, cfg.model
    _validate_names(cfg)
    own_data = d.name == registry.PYTHON or registry.is_import_path(d.name)
    image = bool(registry.DATASETS.info(d.name).get("image"))
    for key, reg, arch in (("model.g_arch", registry.GENERATORS, m.g_arch),
                           ("model.d_arch", registry.DISCRIMINATORS, m.d_arch)):
        if reg.info(arch).get("image") and not (image or own_data):
            raise ConfigError(f"{key} = {arch!r} needs an image data set "
                              f"(data.name one of {', '.join(image_data_sets())}), got {d.name!r}")
        if arch == "dcgan":
            _require(d.resolution in (28, 32, 64), "data.resolution", d.resolution,
                     "28, 32 or 64 for the DCGAN nets")
        if arch == "keras-mnist":
            _require(d.resolution == 28 and d.channels == 1, "data.resolution/channels",
                     (d.resolution, d.channels), "(28, 1): the Keras MNIST nets are 28×28 "
                     "grayscale")
    _require(d.resolution >= 8, "data.resolution", d.resolution, "≥ 8")
    _require(d.channels in (1, 3), "data.channels", d.channels, "1 (grayscale) or 3 (RGB)")
    if d.name in ("mnist", "fashion-mnist", "digits"):
        _require(d.channels == 1, "data.channels", d.channels, f"1: {d.name} is grayscale")


def _validate_penalties(t: TrainConfig) -> None:
    """train.penalties names registered penalties (or import paths) with weights ≥ 0."""
    for name, weight in t.penalties.items():
        if not registry.PENALTIES.knows(name):
            known = list(registry.PENALTIES)
            raise ConfigError(f"train.penalties: unknown penalty '{name}'; known: "
                              f"{', '.join(known)}{_choice_hint(name, known)}")
        _require(weight >= 0, f"train.penalties.{name}", weight, "≥ 0 (0 turns it off)")
    if t.gp_lambda and "gp" in t.penalties:
        raise ConfigError("the gradient penalty is set twice (train.gp_lambda and "
                          "train.penalties.gp): keep one")


def _validate_remedies(cfg: Config) -> None:
    """Clipping, gradient penalty, packing and unrolling (issue 5)."""
    t = cfg.train
    _require(t.clip >= 0, "train.clip", t.clip, "≥ 0 (0 turns weight clipping off)")
    _require(t.gp_lambda >= 0, "train.gp_lambda", t.gp_lambda, "≥ 0 (0 turns the penalty off)")
    _validate_penalties(t)
    _require(t.pack >= 1, "train.pack", t.pack, "≥ 1 (1 = no packing)")
    _require(t.unroll >= 0, "train.unroll", t.unroll, "≥ 0 (0 = no unrolling)")
    if t.batch_size % t.pack:
        lower = t.batch_size - t.batch_size % t.pack
        near = " or ".join(str(b) for b in (lower, lower + t.pack) if b > 0)
        raise ConfigError(
            f"train.batch_size = {t.batch_size} is not divisible by train.pack = {t.pack}: a "
            f"packed D judges groups of {t.pack} samples; use a multiple of {t.pack} ({near})")
    if t.pack > 1 and cfg.model.d_arch == "keras-mnist":
        raise ConfigError("train.pack > 1 needs a D whose input size follows the data "
                          "(mlp, maxout or dcgan); keras-mnist's D is fixed to one 28×28 image")


def _validate_speed(cfg: Config) -> None:
    """Fast-path switches that contradict the rest of the config (issue 7)."""
    t = cfg.train
    if t.fused_adam and t.optimizer != "adam":
        raise ConfigError(f"train.fused_adam = true applies to Adam, but train.optimizer = "
                          f"{t.optimizer!r}; unset it or set train.optimizer=adam")
    if t.device == "cpu" and t.sync_batchnorm:
        raise ConfigError("train.sync_batchnorm = true needs CUDA devices (PyTorch's "
                          "SyncBatchNorm has no CPU implementation); set it to false on CPU")


def _validate_stack(cfg: Config) -> None:
    """Stacked data (the 1000-mode benchmark): k grayscale labelled images as k channels."""
    d = cfg.data
    _require(d.stack >= 1, "data.stack", d.stack, "≥ 1 (1 = no stacking)")
    if d.stack > 1:
        _require(d.name in ("mnist", "fashion-mnist", "digits"), "data.name", d.name,
                 "mnist, fashion-mnist or digits when data.stack > 1 (labelled grayscale sets)")
        _require(d.channels == 1, "data.channels", d.channels,
                 "1 with data.stack: the channels of one image; the model sees data.stack")


def _canonical(cfg: Config) -> Config:
    """Old architecture names replaced by their current ones (the saved config uses those)."""
    m = cfg.model
    g, d = registry.GENERATORS.canonical(m.g_arch), registry.DISCRIMINATORS.canonical(m.d_arch)
    if (g, d) == (m.g_arch, m.d_arch):
        return cfg
    return dataclasses.replace(cfg, model=dataclasses.replace(m, g_arch=g, d_arch=d))


def summary(cfg: Config) -> str:
    """A description of what a config trains, from its values (used when overrides change a
    preset, whose own description may no longer hold)."""
    d, m, t = cfg.data, cfg.model, cfg.train
    if d.name in ("ring", "grid", "mixture"):
        from gankit.data.toy import GRID_STD, RING_STD

        std = d.std if d.std is not None else {"ring": RING_STD}.get(d.name, GRID_STD)
        modes = {"ring": 8, "grid": 25}.get(d.name, len(d.means))
        data = f"{modes}-mode {d.name} (std {std:g})"
    elif d.name == registry.PYTHON:
        data = "data given from Python"
    elif registry.DATASETS.info(d.name).get("image"):
        data = f"{d.name} {d.resolution}×{d.resolution}"
        if d.stack > 1:
            data += f", {d.stack} stacked as channels"
    else:
        data = d.name
    train = [f"{t.loss} loss"]
    train += [f"k = {t.k}"] if t.k > 1 else []
    train += [f"EMA {t.ema:g}"] if t.ema else []
    train += [f"PacGAN{t.pack}"] if t.pack > 1 else []
    train += [f"gradient penalty {t.gp_lambda:g}"] if t.gp_lambda else []
    train += [f"unrolled {t.unroll}"] if t.unroll else []
    return (f"{data}; G {m.g_arch}, D {m.d_arch}; {', '.join(train)}; batch {t.batch_size}, "
            f"{t.steps:,} steps")


def _choice_hint(value: Any, names: Any) -> str:
    close = difflib.get_close_matches(str(value), list(names), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


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
        f"unknown preset '{name}'{_choice_hint(name, files)}; "
        f"available: {', '.join(sorted(files))} (or a path to a .toml file)"
    )


def preset_descriptions() -> dict[str, str]:
    return {name: load_preset(name).description for name in preset_names()}
