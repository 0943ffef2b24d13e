"""Fully connected generator and discriminators for low-dimensional data."""

from __future__ import annotations

import torch
from torch import Tensor, nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


def mlp(
    n_in: int, n_out: int, width: int, depth: int, activation: str = "relu",
    batchnorm: bool = False,
) -> nn.Sequential:
    """`depth` hidden layers of `width` units (Linear [+ BatchNorm] + activation), then Linear."""
    layers: list[nn.Module] = []
    size = n_in
    for _ in range(depth):
        layers.append(nn.Linear(size, width, bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        size = width
    layers.append(nn.Linear(size, n_out))
    return nn.Sequential(*layers)


class Maxout(nn.Module):
    """Maxout unit (Goodfellow et al. 2013): the max over `pieces` affine maps of the input."""

    def __init__(self, n_in: int, n_out: int, pieces: int) -> None:
        super().__init__()
        self.n_out, self.pieces = n_out, pieces
        self.linear = nn.Linear(n_in, n_out * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).view(*x.shape[:-1], self.n_out, self.pieces).amax(-1)


def maxout_mlp(n_in: int, n_out: int, width: int, depth: int, pieces: int) -> nn.Sequential:
    """The PacGAN toy discriminator: `depth` maxout layers of `width` units, then a linear logit."""
    layers: list[nn.Module] = []
    size = n_in
    for _ in range(depth):
        layers.append(Maxout(size, width, pieces))
        size = width
    layers.append(nn.Linear(size, n_out))
    return nn.Sequential(*layers)


class LogitHead(nn.Module):
    """Wraps a body so D returns one logit per sample, shape (batch,)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return self.body(torch.flatten(x, 1)).squeeze(-1)
