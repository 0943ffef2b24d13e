"""A plug-in: your own architecture and metric, registered by name so that a TOML file and the
command line can use them (examples/cli_plugin/README.md).

    cd examples/cli_plugin
    gankit train swish-ring.toml --plugin swish_nets --out runs/swish
    gankit eval runs/swish --plugin swish_nets --metrics w1,radius_error

`--plugin swish_nets` imports this file before the config is read (the current directory is
searched, as with `python -m`); importing it runs the `register_*` calls below.
"""

from __future__ import annotations

import torch
from torch import nn

import gankit


def swish_mlp(n_in: int, n_out: int, width: int, depth: int) -> nn.Sequential:
    """`depth` hidden layers of `width` SiLU (swish) units, then a linear output."""
    layers: list[nn.Module] = []
    size = n_in
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.SiLU()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, n_out))


@gankit.register_arch("swish-mlp", role="generator")
def generator(cfg, sample_shape: tuple[int, ...]) -> nn.Module:
    """Latents (batch, prior.dim) -> points (batch, *sample_shape)."""
    return swish_mlp(cfg.prior.dim, sample_shape[0], cfg.model.g_width, cfg.model.g_depth)


class Critic(nn.Module):
    """One logit per sample, shape (batch,): no sigmoid (the losses apply it)."""

    def __init__(self, n_in: int, width: int, depth: int) -> None:
        super().__init__()
        self.net = swish_mlp(n_in, 1, width, depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


@gankit.register_arch("swish-mlp", role="discriminator")
def discriminator(cfg, sample_shape: tuple[int, ...]) -> nn.Module:
    return Critic(sample_shape[0], cfg.model.d_width, cfg.model.d_depth)


@gankit.register_metric("radius_error", higher_is_better=False, needs=("mixture",))
def radius_error(fake: torch.Tensor, real: torch.Tensor, task) -> float:
    """How far, on average, the generated points lie from the ring (data.radius)."""
    return float((fake.norm(dim=1) - task.cfg.data.radius).abs().mean())
