"""Mode-collapse metrics for mixtures, exactly as PacGAN (Lin et al. 2018) defines them.

- high-quality (HQ) sample: within 3 standard deviations of its nearest mode centre;
- modes recovered: modes with at least one HQ sample;
- reverse KL: KL(histogram of HQ samples over modes ‖ the true mode weights).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.metrics.registry import register

HQ_STDS = 3.0


def assign_modes(samples: Tensor, centres: Tensor, std: float) -> tuple[Tensor, Tensor]:
    """Nearest mode of each sample, and whether the sample is high quality."""
    dist = torch.cdist(samples.double().cpu(), centres.double().cpu())
    nearest_dist, nearest = dist.min(dim=1)
    return nearest, nearest_dist <= HQ_STDS * std


def mode_histogram(samples: Tensor, centres: Tensor, std: float) -> Tensor:
    """Counts of HQ samples per mode."""
    nearest, hq = assign_modes(samples, centres, std)
    return torch.bincount(nearest[hq], minlength=len(centres))


def modes_recovered(samples: Tensor, centres: Tensor, std: float) -> int:
    return int((mode_histogram(samples, centres, std) > 0).sum())


def hq_fraction(samples: Tensor, centres: Tensor, std: float) -> float:
    return float(assign_modes(samples, centres, std)[1].double().mean())


def reverse_kl(samples: Tensor, centres: Tensor, std: float, weights: Tensor) -> float:
    """KL(p_hq ‖ w) with 0·log 0 = 0; infinite when no sample is high quality."""
    counts = mode_histogram(samples, centres, std).double()
    if counts.sum() == 0:
        return math.inf
    p = counts / counts.sum()
    w = weights.double().cpu()
    mask = p > 0
    return float((p[mask] * (p[mask] / w[mask]).log()).sum())


@register("modes", higher_is_better=True, needs=("mixture",), digits=1)
def _modes(fake, real, task) -> float:
    m = task.mixture
    return modes_recovered(fake, m.centres, m.std)


@register("hq_fraction", higher_is_better=True, needs=("mixture",), title="HQ %", scale=100.0,
          digits=1)
def _hq(fake, real, task) -> float:
    m = task.mixture
    return hq_fraction(fake, m.centres, m.std)


@register("reverse_kl", higher_is_better=False, needs=("mixture",), title="reverse KL")
def _rkl(fake, real, task) -> float:
    m = task.mixture
    return reverse_kl(fake, m.centres, m.std, m.weights)
