"""Gaussian mixtures with exact log-densities: the ring and grid of PacGAN/VEEGAN, or your own.

Knowing p_data exactly is what lets gankit check theory (optimal D, JSD) and count modes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

RING_STD = 0.01
GRID_STD = 0.05
MIXTURE_STD = 0.05  # a mixture of the user's own modes (data.means), unless data.std says


class GaussianMixture:
    """Isotropic Gaussian mixture  p(x) = Σ_k w_k N(x; μ_k, σ² I)."""

    def __init__(self, means: Tensor, std: float, weights: Tensor | None = None) -> None:
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.ndim != 2 or len(means) == 0:
            raise ValueError("means must be a non-empty (modes, dim) array")
        if weights is None:
            weights = torch.full((len(means),), 1.0 / len(means), dtype=torch.float64)
        weights = torch.as_tensor(weights, dtype=torch.float64)
        self.means = means
        self.std = float(std)
        self.weights = weights / weights.sum()

    @property
    def centres(self) -> Tensor:
        """Mode centres, (modes, dim)."""
        return self.means

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_modes(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n float32 samples on the CPU."""
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.means[idx] + self.std * noise).float()

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density at each row of x (float64)."""
        x = torch.as_tensor(x, dtype=torch.float64)
        sq = torch.cdist(x, self.means).pow(2)  # (n, modes)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(self.weights.log() - sq / (2 * self.std**2) + log_norm, dim=1)


def ring(std: float = RING_STD, modes: int = 8, radius: float = 1.0) -> GaussianMixture:
    """8 Gaussians at (cos 2πi/8, sin 2πi/8), std 0.01 (PacGAN Table 1)."""
    angles = torch.arange(modes, dtype=torch.float64) * 2 * math.pi / modes
    return GaussianMixture(radius * torch.stack([angles.cos(), angles.sin()], 1), std)


def grid(std: float = GRID_STD) -> GaussianMixture:
    """25 Gaussians at (-4 + 2i, -4 + 2j), i, j in 0..4, std 0.05 (PacGAN Table 1)."""
    axis = torch.arange(-4.0, 5.0, 2.0, dtype=torch.float64)
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    return GaussianMixture(torch.stack([gx.ravel(), gy.ravel()], 1), std)


def build_mixture(name: str, std: float | None = None, means=(), weights=(),
                  radius: float = 1.0) -> GaussianMixture:
    """The mixture a config names; `std=None` keeps the data set's published value."""
    if name == "ring":
        return ring(RING_STD if std is None else std, radius=radius)
    if name == "grid":
        return grid(GRID_STD if std is None else std)
    if name == "mixture":
        w = torch.tensor(weights, dtype=torch.float64) if weights else None
        return GaussianMixture(torch.tensor(means, dtype=torch.float64),
                               MIXTURE_STD if std is None else std, w)
    raise ValueError(f"unknown mixture {name!r}")
