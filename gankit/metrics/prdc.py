"""Precision, recall, density and coverage: fidelity and diversity measured apart, from k-nearest
neighbour balls (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
Generative Models"; Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative
Models").

Each real point's ball reaches its k-th nearest real neighbour (k = 5), each fake point's its k-th
nearest fake neighbour; a ball is closed (distance ≤ radius), as in the papers.
- precision: the share of fakes inside at least one real ball (fidelity);
- recall: the share of reals inside at least one fake ball (diversity);
- density: the mean number of real balls a fake lies in, divided by k (fidelity that a few real
  outliers cannot inflate; it can exceed 1);
- coverage: the share of reals whose ball holds at least one fake (diversity without fake balls).

The points are the shipped domain classifier's 128-d features for a labelled image data set (the
space fd_classifier works in), and the samples themselves, as vectors, for anything else (2-D
mixtures, your own data, an image folder, stacked digits), as `w1` does. Distances are computed in
float64 in row chunks, so memory stays bounded (about 32 MB) at any sample count (10,000 + 10,000
128-d features: 46 s on the 2-core development machine, shared with other jobs at a load
average of 9, 2026-12-04).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import GankitError
from gankit.metrics.registry import register
from gankit.registry import MetricValue

K = 5
#: Elements of one chunk of the distance matrix (float64: 32 MB).
CHUNK_ELEMENTS = 2**22


def _rows(n_cols: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(n_cols, 1))


def distances(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances, each from its own differences (not |a|² + |b|² − 2ab): exact to
    rounding and the same for (a, b) and (b, a), so a point on a ball's boundary, such as the
    k-th neighbour itself, lands on the same side in every chunk."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def knn_radii(x: Tensor, k: int = K) -> Tensor:
    """The distance from each row of x to its k-th nearest other row (itself excluded)."""
    return torch.cat([distances(chunk, x).topk(k + 1, dim=1, largest=False).values[:, -1]
                      for chunk in x.split(_rows(len(x)))])


def prdc(real: Tensor, fake: Tensor, k: int = K) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` (rows are points)."""
    real, fake = _points(real), _points(fake)
    for what, x in (("real", real), ("generated", fake)):
        if len(x) <= k:
            raise GankitError(f"prdc needs more than k = {k} {what} samples, got {len(x)}: "
                              "raise eval.n_samples")
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    balls_holding = torch.empty(len(fake), dtype=torch.long)  # real balls each fake lies in
    covered = torch.zeros(len(real), dtype=torch.bool)  # real balls holding a fake
    recalled = torch.zeros(len(real), dtype=torch.bool)  # reals inside a fake ball
    start = 0
    for chunk in fake.split(_rows(len(real))):
        d = distances(chunk, real)  # (fakes of the chunk, reals)
        inside_real = d <= real_radii[None, :]
        balls_holding[start:start + len(chunk)] = inside_real.sum(1)
        covered |= inside_real.any(0)
        recalled |= (d <= fake_radii[start:start + len(chunk), None]).any(0)
        start += len(chunk)
    return {"precision": float((balls_holding > 0).double().mean()),
            "recall": float(recalled.double().mean()),
            "density": float(balls_holding.double().mean() / k),
            "coverage": float(covered.double().mean())}


def _points(x: Tensor) -> Tensor:
    return x.detach().cpu().reshape(len(x), -1).double()


def features(x: Tensor, task) -> Tensor:
    """The space the metric works in: the domain classifier's features for a labelled image
    data set, the samples themselves otherwise."""
    data = getattr(task, "data", None)
    if getattr(data, "labelled", False) and callable(getattr(task, "classifier", None)):
        from gankit.metrics.classifier import _cached

        return _cached(task, x)[0]
    return x


VALUES = (MetricValue("precision", True), MetricValue("recall", True),
          MetricValue("density", True), MetricValue("coverage", True))


@register("prdc", values=VALUES)
def _prdc(fake, real, task) -> dict[str, float]:
    return prdc(features(real, task), features(fake, task))
