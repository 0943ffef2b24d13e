"""Mode metrics of the stacked benchmark (Metz et al. 2017; VEEGAN; PacGAN Table 2-3).

Each generated sample's channels are classified by the base set's domain classifier; the class
tuple is its mode (1,000 for three digits). `stacked_modes`: modes with at least one sample;
`stacked_kl`: KL(mode histogram of the samples ‖ uniform) = log M - H(p). The same numbers for
real stacks (`stacked_modes_real`, `stacked_kl_real`) give the floor the classifier allows.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.data.stacked import mode_of
from gankit.metrics.registry import register


def stacked_mode_counts(task, x: Tensor) -> Tensor:
    """Counts per mode, cached per tensor (several metrics read the same samples)."""
    cache = task.cache.setdefault("modes", {})
    if id(x) in cache and cache[id(x)][0] is x:
        return cache[id(x)][1]
    counts = torch.bincount(mode_of(task.classes(x), task.n_classes), minlength=task.n_modes)
    if len(cache) >= 4:
        cache.pop(next(iter(cache)))
    cache[id(x)] = (x, counts)
    return counts


def kl_to_uniform(counts: Tensor) -> float:
    """KL(p ‖ uniform over len(counts) modes), 0·log 0 = 0."""
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float((p * (p * len(counts)).log()).sum())


@register("stacked_modes", higher_is_better=True, needs=("stacked",), title="modes", digits=1)
def _modes(fake, real, task) -> float:
    return float((stacked_mode_counts(task, fake) > 0).sum())


@register("stacked_kl", higher_is_better=False, needs=("stacked",), title="KL", digits=2)
def _kl(fake, real, task) -> float:
    return kl_to_uniform(stacked_mode_counts(task, fake))


@register("stacked_modes_real", higher_is_better=True, needs=("stacked",),
          title="real-data modes", digits=1)
def _modes_real(fake, real, task) -> float:
    return float((stacked_mode_counts(task, real) > 0).sum())


@register("stacked_kl_real", higher_is_better=False, needs=("stacked",),
          title="real-data KL")
def _kl_real(fake, real, task) -> float:
    return kl_to_uniform(stacked_mode_counts(task, real))

