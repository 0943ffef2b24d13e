"""The stacked benchmark: three images as channels, modes counted channel by channel."""

import math

import pytest
import torch

from gankit.config import load_preset
from gankit.data.stacked import mode_of, stack, stack_indices
from gankit.errors import ConfigError
from gankit.metrics import compute
from gankit.metrics.stacked import kl_to_uniform
from gankit.tasks import build_task
from gankit.tasks.stacked import StackedTask


def test_mode_numbers_read_the_channels_as_digits():
    labels = torch.tensor([[3, 7, 4], [0, 0, 0], [9, 9, 9]])
    assert mode_of(labels, 10).tolist() == [374, 0, 999]
    assert mode_of(torch.tensor([[1, 1]]), 2).tolist() == [3]


def test_stack_takes_one_image_per_channel():
    pool = torch.arange(5).view(5, 1, 1, 1).expand(5, 1, 2, 2).contiguous()
    out = stack(pool, torch.tensor([[4, 0, 2]]))
    assert out.shape == (1, 3, 2, 2)
    assert out[0, :, 0, 0].tolist() == [4, 0, 2]
    idx = stack_indices(10, 1000, 3, torch.Generator().manual_seed(0))
    assert idx.shape == (1000, 3) and idx.min() >= 0 and idx.max() <= 9


def test_kl_to_uniform():
    assert kl_to_uniform(torch.ones(1000)) == pytest.approx(0.0, abs=1e-12)
    one_mode = torch.zeros(1000)
    one_mode[5] = 7
    assert kl_to_uniform(one_mode) == pytest.approx(math.log(1000))
    half = torch.cat([torch.ones(500), torch.zeros(500)])
    assert kl_to_uniform(half) == pytest.approx(math.log(2))


def cfg(**extra):
    base = {"train.steps": 2, "data.n_train": 600, "eval.n_samples": 300}
    return load_preset("stacked-digits").with_overrides({**base, **extra})


def test_stacked_task_shapes_and_ranges():
    task = build_task(cfg())
    assert isinstance(task, StackedTask)
    assert task.sample_shape == (3, 8, 8) and task.n_modes == 1000
    x = task.train_data()
    assert x.shape == (600, 3, 8, 8) and x.min() >= -1 and x.max() <= 1
    a, b = task.real_samples(50, 0), task.real_samples(50, 0)
    assert torch.equal(a, b) and not torch.equal(a, task.real_samples(50, 1))


class BrightnessClassifier:
    """A stand-in for the domain classifier: class = round(9 × mean pixel) of a [0, 1] image."""

    accuracy = 1.0

    def features_and_logits(self, x_unit):
        cls = (x_unit.mean((1, 2, 3)) * 9).round().long()
        return None, torch.nn.functional.one_hot(cls, 10).float()


def test_metrics_count_modes_channel_by_channel(monkeypatch):
    task = build_task(cfg())
    monkeypatch.setattr(task, "classifier", BrightnessClassifier)
    triples = torch.tensor([[3, 7, 4], [3, 7, 4], [0, 0, 1], [9, 2, 5]])
    images = (triples.float() / 9).view(4, 3, 1, 1).expand(4, 3, 8, 8) * 2 - 1  # signed range
    assert task.classes(images).tolist() == triples.tolist()
    result = compute(["stacked_modes", "stacked_kl"], images, images, task)
    assert result["stacked_modes"] == 3
    p = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    assert result["stacked_kl"] == pytest.approx(float((p * (p * 1000).log()).sum()))


def test_a_stacked_run_trains_with_packing_and_the_mlp(monkeypatch):
    from gankit.train.loop import Trainer

    c = cfg(**{"train.pack": 2})
    task = build_task(c)
    monkeypatch.setattr(task, "classifier", BrightnessClassifier)
    trainer = Trainer(c, task)
    trainer.fit(2)
    from gankit import run

    result = run.evaluate(trainer)
    assert 1 <= result["stacked_modes"] <= 1000 and result["stacked_kl_real"] < result["stacked_kl"]


def test_stacking_needs_a_labelled_grayscale_set():
    with pytest.raises(ConfigError, match="data.name"):
        load_preset("toy-grid").with_overrides({"data.stack": 3})
    with pytest.raises(ConfigError, match="data.stack = 0"):
        cfg(**{"data.stack": 0})
