"""PacGAN packing: D sees m samples at once, as one input of m× the features or channels."""

import pytest
import torch

from gankit.config import Config, load_preset
from gankit.errors import ConfigError
from gankit.nets import build_discriminator
from gankit.nets.pack import Packed, packed_shape
from gankit.tasks import build_task
from gankit.train.loop import Trainer


@pytest.mark.parametrize("d_arch", ["mlp", "maxout"])
@pytest.mark.parametrize("m", [2, 3, 4])
def test_packed_mlp_sees_m_times_the_features(d_arch, m):
    cfg = Config().with_overrides({"model.d_arch": d_arch, "train.pack": m,
                                   "train.batch_size": 12})
    D = build_discriminator(cfg, (2,))
    assert isinstance(D, Packed) and D.m == m
    first = next(D.inner.parameters())
    assert first.shape[1] == 2 * m  # the first layer reads m samples of 2 features
    assert D(torch.randn(12, 2)).shape == (12 // m,)


def test_packs_are_consecutive_samples_concatenated():
    """The inner D gets [x_1, x_2] for the first pack, [x_3, x_4] for the second."""
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen.append(x)
            return x.sum(1)

    x = torch.arange(8.0).view(4, 2)
    Packed(Spy(), 2)(x)
    assert torch.equal(seen[0], torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7]]))


def test_packed_conv_concatenates_channels():
    assert packed_shape((3, 28, 28), 4) == (12, 28, 28)
    cfg = Config().with_overrides({"data.name": "digits", "model.d_arch": "dcgan",
                                   "model.g_arch": "dcgan", "model.d_width": 8,
                                   "train.pack": 3, "train.batch_size": 6})
    D = build_discriminator(cfg, (1, 28, 28))
    conv = next(m for m in D.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.in_channels == 3
    assert D(torch.randn(6, 1, 28, 28)).shape == (2,)


def test_batch_not_divisible_by_the_pack_is_a_config_error():
    with pytest.raises(ConfigError, match=r"batch_size = 100 is not divisible by train\.pack = 3"
                       r".*\(99 or 102\)"):
        load_preset("toy-grid-pacgan").with_overrides({"train.pack": 3})
    with pytest.raises(ConfigError, match="train.pack = 0"):
        Config().with_overrides({"train.pack": 0})


def test_packed_forward_rejects_a_ragged_batch():
    D = Packed(torch.nn.Linear(4, 1), 2)
    with pytest.raises(ValueError, match="divisible by 2"):
        D(torch.randn(3, 2))


def test_training_with_packing_feeds_d_packs(tiny_overrides):
    cfg = load_preset("toy-grid").with_overrides([*tiny_overrides, "train.pack=4",
                                                  "train.steps=3"])
    trainer = Trainer(cfg, build_task(cfg))
    calls = []
    trainer.D.inner.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape))
    trainer.fit(3)
    assert calls and all(s == (64 // 4, 8) for s in calls)  # batch 64 -> 16 packs of 4×2
    grid = trainer.discriminate(torch.zeros(5, 2))  # single points: judged as packs of copies
    assert grid.shape == (5,)


def test_g_steps_updates_g_that_many_times_per_step(tiny_overrides):
    """train.g_steps = 2 (PacGAN's Stacked MNIST code): two G updates after each D update."""
    cfg = load_preset("toy-grid").with_overrides([*tiny_overrides, "train.g_steps=2",
                                                  "train.steps=3"])
    trainer = Trainer(cfg, build_task(cfg))
    trainer.fit(3)
    g_param, d_param = next(trainer.G.parameters()), next(trainer.D.parameters())
    assert int(trainer.opt_g.state[g_param]["step"]) == 6
    assert int(trainer.opt_d.state[d_param]["step"]) == 3
    assert trainer.step == 3
