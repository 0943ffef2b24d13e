"""Latent draws beyond the prior's own: the truncation trick and walks between latent points.

Truncation (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", the truncation trick for a generator fed z directly): with `truncation = ψ`, every
component of z is drawn from the standard normal *conditioned on |z_i| ≤ ψ*. Smaller ψ trades
diversity for fidelity; ψ = 3 leaves 99.7 % of each component's draws as they were. It is drawn
exactly, by the inverse of the normal CDF on [Φ(−ψ), Φ(ψ)], one uniform number per component, so
one seed gives corresponding latents at every ψ (a sweep shows the same samples tightening). A
uniform prior on [−1, 1]^d is bounded already and has no truncation.

Walks: `frames` latents from one random endpoint to another, spherical interpolation (slerp;
White 2016, "Sampling Generative Networks") for the normal prior, whose draws lie near a sphere of
radius √d that a straight line would cut through, and straight lines for the uniform prior, which
keep to its cube.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.errors import GankitError
from gankit.priors import sample_prior


def check_truncation(prior: str, truncation: float | None) -> None:
    """Refuse a truncation the prior cannot take, in the user's words."""
    if truncation is None:
        return
    if prior != "normal":
        raise GankitError(f"--truncation applies to a normal prior; this run's prior is "
                          f"{prior} (on [-1, 1]^d, bounded already): leave --truncation out")
    if not math.isfinite(truncation) or truncation <= 0:
        raise GankitError(f"--truncation must be a positive number (each latent component is "
                          f"kept within ±ψ; 0.5 to 2 are usual), got {truncation}")


def truncated_normal(n: int, dim: int, truncation: float,
                     generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> Tensor:
    """n × dim draws of N(0, 1) conditioned on |z_i| ≤ truncation (inverse-CDF sampling)."""
    u = torch.rand(n, dim, generator=generator, device=device, dtype=torch.float64)
    edge = torch.special.ndtr(torch.tensor(-float(truncation), dtype=torch.float64))
    z = torch.special.ndtri(edge + u * (1 - 2 * edge))
    return z.clamp(-truncation, truncation).float()


def draw(prior: str, n: int, dim: int, generator: torch.Generator | None = None,
         device: torch.device | str = "cpu", truncation: float | None = None) -> Tensor:
    """n latents of the prior, truncated when asked."""
    check_truncation(prior, truncation)
    if truncation is None:
        return sample_prior(prior, n, dim, generator, device)
    return truncated_normal(n, dim, truncation, generator, device)


def check_walk(frames: int, walks: int) -> None:
    if frames < 2:
        raise GankitError(f"--interpolate needs at least 2 frames (the two endpoints), got "
                          f"{frames}")
    if walks < 1:
        raise GankitError(f"-n (the number of walks) must be ≥ 1, got {walks}")


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows a and b at fractions t: (rows, len(t), dim)."""
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1).clamp(-1, 1)
    omega = torch.arccos(cos)[:, None, None]
    t = t[None, :, None]
    sin = torch.sin(omega)
    straight = sin.abs() < 1e-6  # (anti)parallel endpoints: the great circle is not unique
    safe = torch.where(straight, torch.ones_like(sin), sin)
    wa = torch.where(straight, 1 - t, torch.sin((1 - t) * omega) / safe)
    wb = torch.where(straight, t, torch.sin(t * omega) / safe)
    return wa * a[:, None, :] + wb * b[:, None, :]


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Straight-line interpolation between rows a and b at fractions t: (rows, len(t), dim)."""
    t = t[None, :, None]
    return (1 - t) * a[:, None, :] + t * b[:, None, :]


def walk(prior: str, walks: int, frames: int, dim: int,
         generator: torch.Generator | None = None, device: torch.device | str = "cpu",
         truncation: float | None = None) -> Tensor:
    """`walks` latent walks of `frames` steps each, endpoints included: (walks, frames, dim)."""
    check_walk(frames, walks)
    ends = draw(prior, 2 * walks, dim, generator, device, truncation)
    a, b = ends[:walks], ends[walks:]
    t = torch.linspace(0, 1, frames, device=a.device)
    return (slerp if prior == "normal" else lerp)(a, b, t)


# -- from a run's generator ------------------------------------------------------------------
def _stream(trainer, seed: int | None) -> torch.Generator:
    """A latent stream of its own (default: the run's eval stream, as Trainer.sample's)."""
    from gankit import seeds

    seed = trainer.cfg.train.seed + seeds.EVAL if seed is None else seed
    return torch.Generator(device=trainer.device).manual_seed(seed)


def sample_from(trainer, n: int, seed: int | None = None, truncation: float | None = None,
                labels=None) -> Tensor:
    """n samples of a run's sampling generator; truncated latents when `truncation` is set;
    a conditional run's of the classes `labels` (default: the classes in turn)."""
    p = trainer.cfg.prior
    check_truncation(p.name, truncation)
    if truncation is None:
        return trainer.sample(n, seed, labels=labels)
    z = truncated_normal(n, p.dim, truncation, _stream(trainer, seed), trainer.device)
    return trainer.generate(z, trainer.sample_labels(n, labels))


def walk_from(trainer, walks: int, frames: int, seed: int | None = None,
              truncation: float | None = None, labels=None) -> Tensor:
    """Samples along `walks` latent walks of `frames` steps: (walks, frames, *sample_shape). A
    conditional run keeps each walk's class (`labels`, one per walk; default: in turn)."""
    p = trainer.cfg.prior
    z = walk(p.name, walks, frames, p.dim, _stream(trainer, seed), trainer.device, truncation)
    y = trainer.sample_labels(walks, labels)
    x = trainer.generate(z.reshape(walks * frames, p.dim),
                         None if y is None else y.repeat_interleave(frames))
    return x.reshape(walks, frames, *x.shape[1:])
