import math

import pytest
import torch

from gankit.losses import (
    ML_LOGIT_CAP,
    OBJECTIVES,
    discriminator_loss,
    generator_minimax,
    generator_ml,
    generator_nonsaturating,
)

LOGITS = torch.tensor([-3.0, -0.5, 0.0, 1.2, 4.0], dtype=torch.float64)


def d_of(a):
    return torch.sigmoid(a)


def test_discriminator_loss_is_the_cross_entropy_formula():
    real, fake = LOGITS, LOGITS.flip(0) * 0.7
    expected = -(d_of(real).log().mean() + (1 - d_of(fake)).log().mean())
    assert torch.allclose(discriminator_loss(real, fake), expected)


def test_generator_losses_match_their_formulas():
    D = d_of(LOGITS)
    assert torch.allclose(generator_minimax(LOGITS), (1 - D).log().mean())
    assert torch.allclose(generator_nonsaturating(LOGITS), -D.log().mean())
    assert torch.allclose(generator_ml(LOGITS), -(D / (1 - D)).mean())


def grad_wrt_logits(fn, a):
    a = a.clone().requires_grad_(True)
    fn(a).backward()
    return a.grad


def test_gradients_with_respect_to_the_logit():
    n = len(LOGITS)
    D = d_of(LOGITS)
    # d/da log(1 - σ(a)) = -σ(a);  d/da -log σ(a) = -(1 - σ(a));  d/da -exp(a) = -exp(a)
    assert torch.allclose(grad_wrt_logits(generator_minimax, LOGITS), -D / n)
    assert torch.allclose(grad_wrt_logits(generator_nonsaturating, LOGITS), -(1 - D) / n)
    assert torch.allclose(grad_wrt_logits(generator_ml, LOGITS), -LOGITS.exp() / n)


def test_minimax_saturates_where_nonsaturating_does_not():
    """Early in training D rejects fakes: a << 0. Minimax's gradient dies, NS's stays ~1."""
    a = torch.tensor([-20.0], dtype=torch.float64)
    assert abs(grad_wrt_logits(generator_minimax, a).item()) < 1e-8
    assert abs(grad_wrt_logits(generator_nonsaturating, a).item()) > 0.99


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_log_losses_are_exact_and_finite_at_extreme_logits(dtype):
    big = torch.tensor([100.0, -100.0], dtype=dtype)
    # -log σ(100) ≈ e^-100, -log σ(-100) ≈ 100 (+ e^-100): exact to float precision, no inf/nan
    assert torch.allclose(generator_nonsaturating(big), torch.tensor(50.0, dtype=dtype))
    assert torch.allclose(generator_minimax(big), torch.tensor(-50.0, dtype=dtype))
    assert torch.allclose(discriminator_loss(big, big), torch.tensor(100.0, dtype=dtype))
    for fn in (generator_nonsaturating, generator_minimax):
        g = grad_wrt_logits(fn, big)
        assert torch.isfinite(g).all()


def test_ml_loss_is_capped_and_finite():
    a = torch.tensor([100.0, 1000.0], dtype=torch.float32)
    loss = generator_ml(a)
    assert torch.isfinite(loss)
    assert math.isclose(loss.item(), -math.exp(ML_LOGIT_CAP), rel_tol=1e-5)
    assert torch.isfinite(grad_wrt_logits(generator_ml, a)).all()


def test_objectives_registry_pairs_the_same_d_loss():
    log_losses = ("minimax", "nonsaturating", "ml")  # critics: tests/test_objectives.py
    assert set(log_losses) <= set(OBJECTIVES)
    assert all(OBJECTIVES[n].d_loss is discriminator_loss for n in log_losses)
    assert OBJECTIVES["minimax"].g_loss.__wrapped__ is generator_minimax
