import math

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from gankit.data.toy import grid, ring
from gankit.metrics import METRICS, compute
from gankit.metrics.modes import hq_fraction, mode_histogram, modes_recovered, reverse_kl
from gankit.metrics.wasserstein import wasserstein1


class FakeTask:
    def __init__(self, mixture):
        self.mixture = mixture


def near_modes(mixture, modes, per_mode, spread, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = mixture.centres[list(modes)].float()
    return (centres.repeat_interleave(per_mode, 0)
            + spread * torch.randn(len(modes) * per_mode, 2, generator=g))


def test_seven_of_eight_ring_modes():
    r = ring()
    x = near_modes(r, range(7), 50, spread=0.005)
    assert modes_recovered(x, r.centres, r.std) == 7
    assert hq_fraction(x, r.centres, r.std) == 1.0
    # uniform over 7 of 8 modes: KL = log(8/7)
    assert math.isclose(reverse_kl(x, r.centres, r.std, r.weights), math.log(8 / 7), rel_tol=1e-9)


def test_hq_threshold_is_three_standard_deviations():
    r = ring()
    c = r.centres[0].float()
    inside = c + torch.tensor([2.9 * r.std, 0.0])
    outside = c + torch.tensor([3.1 * r.std, 0.0])
    x = torch.stack([inside, outside])
    assert hq_fraction(x, r.centres, r.std) == 0.5
    assert mode_histogram(x, r.centres, r.std).tolist() == [1] + [0] * 7


def test_a_mode_with_only_low_quality_samples_is_not_recovered():
    g = grid()
    x = torch.cat([near_modes(g, [0], 10, 0.01), g.centres[[1]].float() + 0.5])
    assert modes_recovered(x, g.centres, g.std) == 1


def test_reverse_kl_zero_for_uniform_and_log_k_for_one_mode():
    g = grid()
    assert reverse_kl(near_modes(g, range(25), 4, 0.01), g.centres, g.std, g.weights) < 1e-12
    one = near_modes(g, [3], 40, 0.01)
    assert math.isclose(reverse_kl(one, g.centres, g.std, g.weights), math.log(25))
    assert reverse_kl(torch.full((5, 2), 100.0), g.centres, g.std, g.weights) == math.inf


def test_w1_of_a_translated_set_is_the_shift():
    a = torch.randn(300, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    shift = torch.tensor([0.3, -0.4], dtype=torch.float64)
    assert math.isclose(wasserstein1(a, a + shift), 0.5, rel_tol=1e-9)
    assert wasserstein1(a, a[torch.randperm(300)]) == pytest.approx(0.0, abs=1e-12)


def test_w1_in_one_dimension_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(500, 1)), rng.exponential(size=(500, 1))
    assert math.isclose(wasserstein1(a, b), wasserstein_distance(a[:, 0], b[:, 0]), rel_tol=1e-9)


def test_w1_two_point_masses():
    a = np.zeros((100, 2))
    b = np.concatenate([np.zeros((50, 2)), np.full((50, 2), [3.0, 4.0])])
    assert math.isclose(wasserstein1(a, b), 2.5)  # half the mass moves 5
    with pytest.raises(ValueError, match="equal sample counts"):
        wasserstein1(a, b[:10])


def test_w1_matches_the_optimal_assignment_on_a_collapsed_sample():
    """A collapsed G (every sample at one point, near-ties everywhere) gets the exact optimum:
    the assignment cost from SciPy's Hungarian solver, on a size where that is quick."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(2)
    real = rng.normal(size=(400, 2)) * 0.05 + rng.integers(-2, 3, size=(400, 2)) * 2.0
    fake = rng.normal(size=(400, 2)) * 1e-6
    cost = cdist(fake, real)
    rows, cols = linear_sum_assignment(cost)
    assert math.isclose(wasserstein1(fake, real), cost[rows, cols].mean(), rel_tol=1e-9)


def test_registry_names_and_compute():
    assert {"modes", "hq_fraction", "reverse_kl", "w1"} <= set(METRICS)
    r = ring()
    x = near_modes(r, range(8), 10, 0.001)
    out = compute(["modes", "hq_fraction", "reverse_kl", "w1"], x, x, FakeTask(r))
    assert out == {"modes": 8.0, "hq_fraction": 1.0, "reverse_kl": pytest.approx(0, abs=1e-12),
                   "w1": 0.0}
