import math

import pytest
import torch

from gankit.data.sampler import EpochSampler
from gankit.data.toy import GaussianMixture, build_mixture, grid, ring
from gankit.errors import DataError


def test_ring_and_grid_match_the_pacgan_definitions():
    r = ring()
    assert r.n_modes == 8 and r.std == 0.01
    assert torch.allclose(r.centres[1], torch.tensor([math.cos(math.pi / 4),
                                                      math.sin(math.pi / 4)], dtype=torch.float64))
    g = grid()
    assert g.n_modes == 25 and g.std == 0.05
    assert {tuple(c.tolist()) for c in g.centres} == {
        (-4.0 + 2 * i, -4.0 + 2 * j) for i in range(5) for j in range(5)}


def test_log_prob_of_a_single_gaussian_is_the_normal_density():
    m = GaussianMixture(torch.tensor([[1.0, -2.0]]), std=0.5)
    x = torch.tensor([[1.0, -2.0], [2.0, 0.0]])
    d2 = torch.tensor([0.0, 1.0 + 4.0])
    expected = -d2 / (2 * 0.25) - math.log(2 * math.pi * 0.25)
    assert torch.allclose(m.log_prob(x), expected.double())


def test_log_prob_integrates_to_one():
    m = GaussianMixture(torch.tensor([[0.0], [1.5]]), std=0.3, weights=torch.tensor([0.2, 0.8]))
    xs = torch.linspace(-4, 6, 20001, dtype=torch.float64)[:, None]
    integral = torch.trapezoid(m.log_prob(xs).exp(), xs[:, 0])
    assert abs(integral.item() - 1) < 1e-6


def test_samples_follow_weights_and_std():
    m = GaussianMixture(torch.tensor([[0.0, 0.0], [10.0, 0.0]]), std=0.1,
                        weights=torch.tensor([1.0, 3.0]))
    x = m.sample(40_000, torch.Generator().manual_seed(0))
    right = x[:, 0] > 5
    assert abs(right.float().mean().item() - 0.75) < 0.01
    assert abs(x[~right].std(0).mean().item() - 0.1) < 0.005


def test_build_mixture_custom_and_std_override():
    m = build_mixture("mixture", 0.2, ((0.0, 0.0), (1.0, 1.0)), (1.0, 1.0))
    assert m.n_modes == 2 and m.std == 0.2
    assert build_mixture("grid", 0.1).std == 0.1
    assert build_mixture("ring").std == 0.01


def test_epoch_sampler_is_a_permutation_per_epoch_and_stateless():
    data = torch.arange(20).float()[:, None]
    s = EpochSampler(data, batch_size=6, seed=3)  # 3 batches per epoch, 2 samples dropped
    epoch0 = torch.cat([s.batch(i) for i in range(3)]).flatten()
    assert len(set(epoch0.tolist())) == 18
    again = EpochSampler(data, batch_size=6, seed=3)
    assert torch.equal(again.batch(4), s.batch(4))  # any batch from (seed, index) alone
    assert not torch.equal(s.batch(0), s.batch(3))  # a new permutation next epoch


def test_epoch_sampler_ranks_are_disjoint():
    data = torch.arange(40).float()[:, None]
    a = EpochSampler(data, 5, seed=0, rank=0, world_size=2)
    b = EpochSampler(data, 5, seed=0, rank=1, world_size=2)
    seen_a = torch.cat([a.batch(i) for i in range(4)]).flatten().tolist()
    seen_b = torch.cat([b.batch(i) for i in range(4)]).flatten().tolist()
    assert not set(seen_a) & set(seen_b) and len(set(seen_a + seen_b)) == 40


def test_epoch_sampler_rejects_too_little_data():
    with pytest.raises(DataError, match="fewer than one batch"):
        EpochSampler(torch.zeros(3, 2), batch_size=4, seed=0)
