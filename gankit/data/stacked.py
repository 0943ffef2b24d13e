"""Stacked data: k independent images of a labelled grayscale set as the k channels of one
sample (Metz et al. 2017; VEEGAN; PacGAN). With 10 classes and k = 3 there are 1,000 modes, one
per triple of classes, equally likely, which makes dropped modes countable."""

from __future__ import annotations

import torch
from torch import Tensor


def stack_indices(n_pool: int, n: int, k: int, generator: torch.Generator) -> Tensor:
    """(n, k) indices into a pool of single images, drawn independently with replacement."""
    return torch.randint(n_pool, (n, k), generator=generator)


def stack(images: Tensor, index: Tensor) -> Tensor:
    """Images (N, 1, H, W) and indices (n, k) -> samples (n, k, H, W)."""
    return images[:, 0][index]


def mode_of(labels: Tensor, n_classes: int) -> Tensor:
    """Class tuples (n, k) -> mode numbers in [0, n_classes^k): the first channel is the most
    significant digit (for 10 classes, mode 374 = classes (3, 7, 4))."""
    k = labels.shape[1]
    weights = n_classes ** torch.arange(k - 1, -1, -1, device=labels.device)
    return (labels.long() * weights).sum(1)
