"""Latent priors p_z: the standard normal and the uniform cube [-1, 1]^d (the Keras recipe)."""

from __future__ import annotations

import torch

PRIORS = ("normal", "uniform")


def sample_prior(
    name: str, n: int, dim: int, generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Draw `n` latent vectors of size `dim` from the named prior."""
    if name == "normal":
        return torch.randn(n, dim, generator=generator, device=device)
    if name == "uniform":
        return torch.rand(n, dim, generator=generator, device=device) * 2 - 1
    raise ValueError(f"unknown prior {name!r}; known: {', '.join(PRIORS)}")
