"""Exact 1-Wasserstein distance between two equal-size empirical distributions (Arjovsky et al.
2017; Shah, Tu & Wagh, "Generative Adversarial Networks - II", §5).

With n points on each side and uniform weights, an optimal transport plan is a permutation
(Birkhoff–von Neumann), so W1 is the optimal assignment cost under Euclidean ground distance,
which SciPy's `linear_sum_assignment` solves exactly.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from torch import Tensor

from gankit.metrics.registry import register


def wasserstein1(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> float:
    """W1 between the empirical distributions of the rows of a and of b (same count)."""
    a = np.asarray(a.detach().cpu() if isinstance(a, Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().cpu() if isinstance(b, Tensor) else b, dtype=np.float64)
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    if len(a) != len(b):
        raise ValueError(f"wasserstein1 needs equal sample counts, got {len(a)} and {len(b)}")
    cost = cdist(a, b)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


@register("w1", higher_is_better=False, title="W1")
def _w1(fake, real, task) -> float:
    return wasserstein1(fake, real)
