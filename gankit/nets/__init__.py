"""Network builders: the config names an architecture, these functions build it."""

from __future__ import annotations

import math

from torch import nn

from gankit.config import Config
from gankit.nets.mlp import LogitHead, maxout_mlp, mlp


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


def build_generator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    """G: latent (batch, prior.dim) -> samples (batch, *sample_shape)."""
    m = cfg.model
    if m.g_arch == "mlp":
        net = mlp(cfg.prior.dim, math.prod(sample_shape), m.g_width, m.g_depth,
                  m.g_activation, m.g_batchnorm)
        net = apply_init(net, cfg)
        return net if len(sample_shape) == 1 else nn.Sequential(net, Reshape(sample_shape))
    if m.g_arch in ("dcgan", "seed003"):  # image nets: sample_shape = (channels, side, side)
        return _image_generator(cfg, sample_shape)
    raise ValueError(f"unknown generator architecture {m.g_arch!r}")


def build_discriminator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    """D: samples (batch, *sample_shape) -> logits (batch,). Never a sigmoid inside D."""
    if cfg.train.pack > 1:  # PacGAN: this D built for m× the input, judging m samples at once
        from gankit.nets.pack import pack_discriminator

        return pack_discriminator(cfg, sample_shape, build_discriminator)
    m = cfg.model
    n_in = math.prod(sample_shape)
    if m.d_arch in ("mlp", "maxout"):
        body = (mlp(n_in, 1, m.d_width, m.d_depth, m.d_activation, m.d_batchnorm)
                if m.d_arch == "mlp" else maxout_mlp(n_in, 1, m.d_width, m.d_depth,
                                                     m.maxout_pieces))
        if m.d_input_scale != 1.0:
            body = nn.Sequential(Scale(m.d_input_scale), body)
        return apply_init(LogitHead(body), cfg)
    if m.d_arch == "dcgan":
        from gankit.nets.dcgan import DCGANDiscriminator

        return DCGANDiscriminator(sample_shape[0], sample_shape[-1], m.d_width)
    if m.d_arch == "seed003":
        from gankit.nets.seed003 import Seed003Discriminator

        return Seed003Discriminator(m.d_width)
    raise ValueError(f"unknown discriminator architecture {m.d_arch!r}")


def _image_generator(cfg: Config, sample_shape: tuple[int, ...]) -> nn.Module:
    """G's output activation follows data.pixel_range: tanh for [-1, 1], sigmoid for [0, 1]."""
    m = cfg.model
    output = "tanh" if cfg.data.pixel_range == "signed" else "sigmoid"
    if m.g_arch == "dcgan":
        from gankit.nets.dcgan import DCGANGenerator

        return DCGANGenerator(cfg.prior.dim, sample_shape[0], sample_shape[-1], m.g_width, output)
    from gankit.nets.seed003 import Seed003Generator

    return Seed003Generator(cfg.prior.dim, m.g_width, output)
