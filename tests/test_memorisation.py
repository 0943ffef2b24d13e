"""The memorisation metric: copies of training images score as copies, unseen real images as
novel, and the nearest-neighbour search is exact."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import load_preset
from gankit.errors import ConfigError
from gankit.metrics import compute
from gankit.metrics.memorisation import memorisation_scores, nearest_distances
from gankit.tasks import build_task


@pytest.fixture(scope="module")
def task():
    return build_task(load_preset("digits-tiny").with_overrides({"data.n_train": 300}))


def test_nearest_distances_match_a_brute_force_search():
    g = torch.Generator().manual_seed(0)
    x, pool = torch.rand(37, 1, 5, 5, generator=g), torch.rand(101, 1, 5, 5, generator=g)
    want = torch.cdist(x.flatten(1).double(), pool.flatten(1).double()).min(1).values
    assert torch.allclose(nearest_distances(x, pool, chunk=8).double(), want, atol=1e-6)


def test_copies_of_training_images_are_copies(task):
    train = task.train_data()
    assert len(train) == 300  # data.n_train: the run's own training subset
    scores = compute(["memorisation"], train[:200], task.real_samples(200, seed=1), task)
    assert scores["nn_ratio"] < 0.01 and scores["near_copies"] == 1.0


def test_unseen_real_images_are_not(task):
    scores = compute(["memorisation"], task.real_samples(300, seed=2),
                     task.real_samples(300, seed=3), task)
    assert 0.8 < scores["nn_ratio"] < 1.25 and scores["near_copies"] < 0.15


def test_noise_is_far_from_everything(task):
    noise = torch.rand(200, *task.sample_shape, generator=torch.Generator().manual_seed(4)) * 2 - 1
    scores = compute(["memorisation"], noise, task.real_samples(200, seed=1), task)
    assert scores["nn_ratio"] > 2 and scores["near_copies"] == 0


def test_without_held_out_images_there_is_no_reference():
    x = torch.rand(20, 1, 4, 4, generator=torch.Generator().manual_seed(5))
    scores = memorisation_scores(x, x, x)
    assert math.isnan(scores["nn_ratio"]) and math.isnan(scores["near_copies"])


def test_it_needs_images():
    with pytest.raises(ConfigError, match="memorisation needs image data"):
        load_preset("toy-grid").with_overrides({"eval.metrics": ["memorisation"]})
