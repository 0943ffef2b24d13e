"""Critic objectives (WGAN, WGAN-GP, hinge, least squares), clipping and the RMSProp option."""

import math

import pytest
import torch
from torch import nn

from gankit.config import load_preset
from gankit.errors import ConfigError
from gankit.losses import (
    OBJECTIVES,
    critic_hinge,
    critic_wasserstein,
    discriminator_least_squares,
    generator_least_squares,
    generator_wasserstein,
    gradient_penalty,
)
from gankit.tasks import build_task
from gankit.train.loop import Trainer
from gankit.train.optim import clip_weights

REAL = torch.tensor([2.0, 0.5, -1.0], dtype=torch.float64)
FAKE = torch.tensor([-3.0, 0.2, 1.5], dtype=torch.float64)


def test_critic_losses_match_their_formulas():
    assert torch.isclose(critic_wasserstein(REAL, FAKE), FAKE.mean() - REAL.mean())
    assert torch.isclose(generator_wasserstein(FAKE), -FAKE.mean())
    hinge = (torch.clamp(1 - REAL, min=0).mean() + torch.clamp(1 + FAKE, min=0).mean())
    assert torch.isclose(critic_hinge(REAL, FAKE), hinge)
    # relu(1 - 2) = 0 and relu(1 + (-3)) = 0: samples past the margin contribute nothing
    assert math.isclose(critic_hinge(REAL, FAKE).item(), (0 + 0.5 + 2) / 3 + (0 + 1.2 + 2.5) / 3)
    assert torch.isclose(discriminator_least_squares(REAL, FAKE),
                         ((REAL - 1) ** 2).mean() + (FAKE ** 2).mean())
    assert torch.isclose(generator_least_squares(FAKE), ((FAKE - 1) ** 2).mean())


CRITIC_LOSSES = ("wasserstein", "hinge", "least_squares")


def test_objectives_are_registered_and_selectable():
    assert set(CRITIC_LOSSES) <= set(OBJECTIVES)
    assert all(OBJECTIVES.info(n)["critic"] for n in CRITIC_LOSSES)
    assert not any(OBJECTIVES.info(n)["critic"] for n in ("minimax", "nonsaturating", "ml"))
    for name in CRITIC_LOSSES:
        assert load_preset("toy-grid").with_overrides({"train.loss": name}).train.loss == name
    with pytest.raises(ConfigError, match="did you mean 'wasserstein'"):
        load_preset("toy-grid").with_overrides({"train.loss": "wasserstien"})


def test_gradient_penalty_on_a_linear_critic_is_known_exactly():
    """D(x) = w·x + b has ∇_x D = w everywhere, so the penalty is (‖w‖ - 1)² for any ε."""
    torch.manual_seed(0)
    lin = nn.Linear(3, 1).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))  # ‖w‖ = 5

    def D(x):
        return lin(x).squeeze(-1)

    real, fake = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)
    gp = gradient_penalty(D, real, fake, torch.Generator().manual_seed(1))
    assert math.isclose(gp.item(), (5 - 1) ** 2, rel_tol=1e-12)
    # differentiable in the critic's weights: d(‖w‖ - 1)²/dw = 2(‖w‖ - 1) w / ‖w‖
    gp.backward()
    expected = 2 * (5 - 1) * torch.tensor([[3.0, 0.0, 4.0]], dtype=torch.float64) / 5
    assert torch.allclose(lin.weight.grad, expected)


def test_gradient_penalty_uses_the_interpolates():
    """A quadratic critic D(x) = ½‖x‖² has ∇D(x̂) = x̂, so the norms depend on where x̂ falls."""
    real = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    fake = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    eps = torch.rand((1, 1), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    gp = gradient_penalty(lambda x: 0.5 * (x ** 2).sum(1), real, fake, gen)
    assert math.isclose(gp.item(), (2 * eps.item() - 1) ** 2, rel_tol=1e-12)


def test_gradient_penalty_norm_is_per_pack():
    """A packed critic sees m samples per output: the norm is over the whole pack."""
    w = torch.tensor([1.0, 2.0, 2.0, 4.0], dtype=torch.float64)  # pack of 2 samples in 2-D

    def D(x):  # (B, 2) -> (B/2,)
        return x.reshape(-1, 4) @ w

    real, fake = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    gp = gradient_penalty(D, real, fake)
    assert math.isclose(gp.item(), (5 - 1) ** 2, rel_tol=1e-12)


def tiny(overrides, extra):
    cfg = load_preset("toy-grid").with_overrides([*overrides, *extra])
    return Trainer(cfg, build_task(cfg))


def test_clipping_keeps_every_critic_weight_in_range(tiny_overrides):
    trainer = tiny(tiny_overrides, ["train.loss=wasserstein", "train.clip=0.01",
                                    "train.optimizer=rmsprop", "train.k=2", "train.steps=5"])
    trainer.fit(5)
    weights = torch.cat([p.detach().flatten() for p in trainer.D.parameters()])
    assert weights.abs().max() <= 0.01
    assert (weights.abs() == 0.01).float().mean() > 0.1  # the clip actually bit
    assert isinstance(trainer.opt_d, torch.optim.RMSprop)


def test_clip_weights_clamps_in_place():
    lin = nn.Linear(4, 4)
    with torch.no_grad():
        lin.weight.mul_(100)
    clip_weights(lin, 0.05)
    assert lin.weight.abs().max() <= 0.05 and lin.bias.abs().max() <= 0.05


def test_wgan_gp_training_runs_and_penalty_changes_the_update(tiny_overrides):
    common = ["train.loss=wasserstein", "train.steps=3"]
    plain = tiny(tiny_overrides, common)
    gp = tiny(tiny_overrides, [*common, "train.gp_lambda=10"])
    plain.fit(3)
    gp.fit(3)
    assert all(torch.isfinite(p).all() for p in gp.D.parameters())
    assert not all(torch.equal(a, b) for a, b in zip(plain.D.parameters(), gp.D.parameters()))


@pytest.mark.parametrize("key,value", [("train.clip", -0.1), ("train.gp_lambda", -1),
                                       ("train.optimizer", "sgd")])
def test_bad_values_are_config_errors(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_preset("toy-grid").with_overrides({key: value})
