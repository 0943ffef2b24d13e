"""The theory panel: the exact optimal discriminator D* = p_data / (p_data + p_g) for the current
G, and the value C(G) = V(D*, G) that Theorem 1 equates to -log 4 + 2·JSD(p_data ‖ p_g).

These are gankit's theory checks (gankit.theory) applied to the lab's run. A neural G has no
density formula, so p_g is a Gaussian kernel density of G's samples with a bandwidth h of
1/BANDWIDTH_PER_VIEW of the picture's width (about its pixel grid), and p_data is smoothed by the
same kernel (each mode's std becomes √(σ² + h²)): both sides are seen at one resolution, so a G
that matches the data gives D* ≈ ½ and C(G) ≈ -log 4, and the quadrature converges on a grid
that a laptop computes in a second or two.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from gankit.data.toy import GaussianMixture
from gankit.theory.common import LOG4, optimal_logit, sigmoid_np
from gankit.theory.value import jsd_simpson_2d, value_monte_carlo

#: The kernel bandwidth is the view's width divided by this.
BANDWIDTH_PER_VIEW = 50
#: Monte Carlo draws per side for C(G): a standard error of about 0.01.
MC_SAMPLES = 1000
#: Simpson grid of the on-demand JSD quadrature (seconds on a laptop core).
QUADRATURE_POINTS = 151


def bandwidth(view_width: float) -> float:
    return view_width / BANDWIDTH_PER_VIEW


def smoothed_pair(mixture: GaussianMixture, samples: np.ndarray, h: float
                  ) -> tuple[GaussianMixture, GaussianMixture]:
    """(p_data ∗ N(0, h² I), the kernel density of G's samples with bandwidth h)."""
    p_data = GaussianMixture(mixture.means, math.sqrt(mixture.std**2 + h**2), mixture.weights)
    p_g = GaussianMixture(torch.as_tensor(samples, dtype=torch.float64), h)
    return p_data, p_g


def optimal_d(p_data: GaussianMixture, p_g: GaussianMixture, points: np.ndarray) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g) at the points (Goodfellow et al. 2014, Prop. 1)."""
    logits = optimal_logit(p_data, p_g, torch.as_tensor(points, dtype=torch.float64))
    return sigmoid_np(logits.numpy())


def value_at_optimum(p_data: GaussianMixture, p_g: GaussianMixture, seed: int
                     ) -> tuple[float, float]:
    """C(G) = V(D*, G) by Monte Carlo, and its standard error."""
    return value_monte_carlo(p_data, p_g, MC_SAMPLES, seed)


def theorem_check(p_data: GaussianMixture, p_g: GaussianMixture, seed: int) -> dict[str, float]:
    """Both sides of Theorem 1 for the current G, computed independently: C(G) by Monte Carlo
    (from log D*), and -log 4 + 2·JSD with the JSD by Simpson's rule on a grid."""
    started = time.perf_counter()
    value, se = value_monte_carlo(p_data, p_g, 4 * MC_SAMPLES, seed)
    jsd = jsd_simpson_2d(p_data, p_g, QUADRATURE_POINTS)
    return {"c_of_g": value, "c_of_g_se": se, "jsd": jsd, "rhs": -LOG4 + 2 * jsd,
            "minus_log4": -LOG4, "seconds": time.perf_counter() - started}
