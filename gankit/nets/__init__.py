"""Network builders, registered by name: the config names an architecture, the registry builds it.

A builder is `fn(cfg, sample_shape) -> nn.Module` (gankit.registry.register_arch). Add your own
with `gankit.register_arch(...)`, or name one by import path (`model.g_arch = "pkg.mod:fn"`).
"""

from __future__ import annotations

import math

from torch import nn

from gankit.config import Config
from gankit.errors import GankitError
from gankit.nets.conditional import build_conditional
from gankit.nets.dcgan import (
    LAYOUTS,
    DCGANDiscriminator,
    DCGANGenerator,
    PacGANDCGANDiscriminator,
    PacGANDCGANGenerator,
)
from gankit.nets.keras_mnist import KerasMnistDiscriminator, KerasMnistGenerator
from gankit.nets.mlp import LogitHead, maxout_mlp, mlp
from gankit.nets.pack import pack_discriminator
from gankit.nets.resnet import ResNetDiscriminator, ResNetGenerator
from gankit.nets.spectral import applies, spectral_normalise
from gankit.registry import DISCRIMINATORS, GENERATORS, PYTHON, register_arch
from gankit.registry import OLD_NAMES as _OLD_NAMES

_KERAS_ALIASES = tuple(old for old, new in _OLD_NAMES["arch"].items() if new == "keras-mnist")


class Scale(nn.Module):
    """Multiplies the input by a constant: the unrolled GAN's D sees x / 4, roughly in [-1, 1]."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = float(factor)

    def forward(self, x):
        return x * self.factor


def apply_init(net: nn.Module, cfg: Config) -> nn.Module:
    """model.init = orthogonal: every Linear weight orthogonal with gain model.init_gain, biases
    zero (Metz et al. 2017, appendix A: "orthogonal with scaling of 0.8"); default: PyTorch's."""
    if cfg.model.init == "orthogonal":
        for layer in net.modules():
            if isinstance(layer, nn.Linear):
                nn.init.orthogonal_(layer.weight, gain=cfg.model.init_gain)
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
    return net


class Reshape(nn.Module):
    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.view(x.shape[0], *self.shape)


def build_generator(cfg: Config, sample_shape: tuple[int, ...], n_classes: int = 0
                    ) -> nn.Module:
    """G: latent (batch, prior.dim) -> samples (batch, *sample_shape); spectrally normalised
    when model.spectral_norm says so (gankit.nets.spectral). Conditional runs: G(z, y) for
    n_classes classes (gankit.nets.conditional)."""
    if cfg.model.conditional != "none":
        net = build_conditional(cfg, sample_shape, n_classes, "generator")
    else:
        net = _check(GENERATORS[cfg.model.g_arch](cfg, tuple(sample_shape)), cfg.model.g_arch)
    return spectral_normalise(net) if applies(cfg.model.spectral_norm, "generator") else net


def build_discriminator(cfg: Config, sample_shape: tuple[int, ...], n_classes: int = 0
                        ) -> nn.Module:
    """D: samples (batch, *sample_shape) -> logits (batch,). Never a sigmoid inside D.
    Conditional runs: D(x, y), which packs its input itself (gankit.nets.conditional)."""
    if cfg.model.conditional != "none":
        net = build_conditional(cfg, sample_shape, n_classes, "discriminator")
        return spectral_normalise(net) if applies(cfg.model.spectral_norm, "discriminator") \
            else net
    if cfg.train.pack > 1:  # PacGAN: this D built for m× the input, judging m samples at once
        return pack_discriminator(cfg, sample_shape, build_discriminator)
    net = _check(DISCRIMINATORS[cfg.model.d_arch](cfg, tuple(sample_shape)), cfg.model.d_arch)
    return spectral_normalise(net) if applies(cfg.model.spectral_norm, "discriminator") else net


def _check(net: object, name: str) -> nn.Module:
    if not isinstance(net, nn.Module):
        raise GankitError(f"architecture '{name}' built a {type(net).__name__}, not a "
                          "torch.nn.Module: a builder is fn(cfg, sample_shape) -> nn.Module")
    return net


# -- the built-in architectures -----------------------------------------------------------------
@register_arch("mlp", role="generator")
def mlp_generator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    m = cfg.model
    net = mlp(cfg.prior.dim, math.prod(sample_shape), m.g_width, m.g_depth, m.g_activation,
              m.g_batchnorm)
    net = apply_init(net, cfg)
    return net if len(sample_shape) == 1 else nn.Sequential(net, Reshape(sample_shape))


@register_arch("mlp", role="discriminator")
def mlp_discriminator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    m = cfg.model
    return _mlp_head(mlp(math.prod(sample_shape), 1, m.d_width, m.d_depth, m.d_activation,
                         m.d_batchnorm), cfg)


@register_arch("maxout", role="discriminator")
def maxout_discriminator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    m = cfg.model
    return _mlp_head(maxout_mlp(math.prod(sample_shape), 1, m.d_width, m.d_depth,
                                m.maxout_pieces), cfg)


def _mlp_head(body: nn.Module, cfg: Config) -> nn.Module:
    """An MLP D's body behind model.d_input_scale, initialised as model.init says."""
    if cfg.model.d_input_scale != 1.0:
        body = nn.Sequential(Scale(cfg.model.d_input_scale), body)
    return apply_init(LogitHead(body), cfg)


def _output(cfg: Config) -> str:
    """G's output activation follows data.pixel_range: tanh for [-1, 1], sigmoid for [0, 1]."""
    return "tanh" if cfg.data.pixel_range == "signed" else "sigmoid"


#: The DCGAN and ResNet nets' layouts fix their image sides; the Keras MNIST nets take one 28×28
#: grayscale image and nothing else (their D's input size is fixed, so PacGAN cannot widen it).
_DCGAN = {"image": True, "resolutions": tuple(LAYOUTS)}
_KERAS = {"image": True, "resolutions": (28,), "channels": (1,), "aliases": _KERAS_ALIASES}


@register_arch("dcgan", role="generator", **_DCGAN)
def dcgan_generator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    return DCGANGenerator(cfg.prior.dim, sample_shape[0], sample_shape[-1], cfg.model.g_width,
                          _output(cfg))


@register_arch("dcgan", role="discriminator", **_DCGAN)
def dcgan_discriminator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    return DCGANDiscriminator(sample_shape[0], sample_shape[-1], cfg.model.d_width)


@register_arch("dcgan-pacgan", role="generator", image=True)
def pacgan_dcgan_generator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    return PacGANDCGANGenerator(cfg.prior.dim, sample_shape[0], sample_shape[-1],
                                cfg.model.g_width, _output(cfg))


@register_arch("dcgan-pacgan", role="discriminator", image=True)
def pacgan_dcgan_discriminator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    return PacGANDCGANDiscriminator(sample_shape[0], sample_shape[-1], cfg.model.d_width)


@register_arch("keras-mnist", role="generator", **_KERAS)
def keras_generator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    return KerasMnistGenerator(cfg.prior.dim, cfg.model.g_width, _output(cfg))


@register_arch("keras-mnist", role="discriminator", packable=False, **_KERAS)
def keras_discriminator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    return KerasMnistDiscriminator(cfg.model.d_width)


@register_arch("resnet", role="generator", **_DCGAN)
def resnet_generator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    return ResNetGenerator(cfg.prior.dim, sample_shape[0], sample_shape[-1], cfg.model.g_width,
                           _output(cfg))


@register_arch("resnet", role="discriminator", **_DCGAN)
def resnet_discriminator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    return ResNetDiscriminator(sample_shape[0], sample_shape[-1], cfg.model.d_width)


def _given_from_python(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    raise GankitError("this run's networks were passed as modules from Python and cannot be "
                      "rebuilt from its config: open it from Python with "
                      "gankit.open_run(path, G=..., D=...) (or gankit.fit(..., resume=True))")


for _role in ("generator", "discriminator"):
    register_arch(PYTHON, _given_from_python, role=_role)
