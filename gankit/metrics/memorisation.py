"""Memorisation: are generated images closer to the training images than unseen real images are?

For each generated image, the distance to its nearest training image (the run's own training set,
`data.n_train` of them); for each held-out real image the same. A G that produces new images of
the data's kind sits about as far from the training set as unseen real images do; a G that
copies sits closer.

- nn_ratio: median NN distance of the generated images ÷ that of the held-out real images.
  About 1 or more: no closer to the training set than unseen images (above 1 also when the
  samples are worse than real ones); well below 1: near-copies of training images.
- near_copies: the fraction of generated images nearer to a training image than 95 % of the
  held-out real images are (0.05 for a G as novel as the real data; near 1 for a copier).

Distances are Euclidean in pixel space ([0, 1] pixels). A copy is a copy of the pixels: its
distance is 0 there, whatever a network thinks of it, while the shipped classifier's features are
trained to map different images of a class close together, so a near neighbour there means "the
same kind of garment", not "the same image". At 28×28 grayscale the pixel space is small enough
to search exactly. At most `MAX_SAMPLES` generated and held-out images are compared.

A data set without a held-out split (a folder: its test images are its training images) has no
reference: both values are NaN.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.metrics.registry import register
from gankit.registry import MetricValue

MAX_SAMPLES = 2000  # generated and held-out images compared (each)
REFERENCE_QUANTILE = 0.05  # near_copies: nearer than this share of the held-out images


def nearest(x: Tensor, pool: Tensor, chunk: int = 512) -> tuple[Tensor, Tensor]:
    """For each image of x, the Euclidean distance to its nearest image of pool, and its index."""
    a, b = x.flatten(1).double(), pool.flatten(1).double()
    b_sq = (b * b).sum(1)
    dist, index = [], []
    for part in a.split(chunk):  # |a - b|² = |a|² - 2 a·b + |b|², exact enough in float64
        d2 = (part * part).sum(1, keepdim=True) - 2 * part @ b.T + b_sq
        low = d2.min(1)
        dist.append(low.values.clamp_min(0).sqrt())
        index.append(low.indices)
    return torch.cat(dist).float(), torch.cat(index)


def nearest_distances(x: Tensor, pool: Tensor, chunk: int = 512) -> Tensor:
    return nearest(x, pool, chunk)[0]


def memorisation_scores(fake_unit: Tensor, real_unit: Tensor, train_unit: Tensor
                        ) -> dict[str, float]:
    """nn_ratio and near_copies of generated vs held-out images, against the training images
    (all in [0, 1])."""
    d_fake = nearest_distances(fake_unit[:MAX_SAMPLES], train_unit)
    d_real = nearest_distances(real_unit[:MAX_SAMPLES], train_unit)
    ref = float(d_real.median())
    if ref == 0:  # the "held-out" images are training images: no reference
        return {"nn_ratio": math.nan, "near_copies": math.nan}
    threshold = torch.quantile(d_real, REFERENCE_QUANTILE)
    return {"nn_ratio": float(d_fake.median()) / ref,
            "near_copies": float((d_fake < threshold).float().mean())}


@register("memorisation", needs=("images",), values=(
    MetricValue("nn_ratio", higher_is_better=True, title="NN ratio", digits=2),
    MetricValue("near_copies", higher_is_better=False, title="near copies", digits=2)))
def _memorisation(fake: Tensor, real: Tensor, task) -> dict[str, float]:
    return memorisation_scores(task.unit(fake), task.unit(real), task.unit(task.train_data()))
