"""GAN objectives as pure functions of discriminator logits.

The discriminator returns a logit a = σ⁻¹(D(x)); every loss is written with softplus so it is
exact and finite for any finite logit:  log D = -softplus(-a),  log(1 - D) = -softplus(a),
D / (1 - D) = exp(a).  All losses are *minimised* by the player that owns them.

The ½ factors of Goodfellow's 2016 tutorial are dropped throughout: they scale both players'
gradients alike and only change the effective learning rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.functional import softplus

#: Largest logit fed to exp() in the maximum-likelihood loss. exp(30) ≈ 1e13 is far inside float32
#: (and bf16) range; beyond it the ratio D/(1-D) = p_data/p_g estimate is meaningless anyway.
ML_LOGIT_CAP = 30.0


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Cross-entropy of D:  -E_x[log D(x)] - E_z[log(1 - D(G(z)))]  (= -V(D, G)).

    Seed 000, Algorithm 1: D ascends V; we descend its negation.
    """
    return softplus(-real_logits).mean() + softplus(fake_logits).mean()


def generator_minimax(fake_logits: Tensor) -> Tensor:
    """Saturating minimax loss:  E_z[log(1 - D(G(z)))]  (seed 000, eq. 1).

    G descends exactly the term of V it controls. Its gradient vanishes when D(G(z)) -> 0, i.e.
    early in training when D rejects the fakes confidently (the saturation the seeds describe).
    """
    return -softplus(fake_logits).mean()


def generator_nonsaturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating loss:  -E_z[log D(G(z))]  (seed 000, §3; Goodfellow 2016).

    Same fixed point as minimax, but strong gradients exactly where minimax saturates.
    """
    return softplus(-fake_logits).mean()


def generator_ml(fake_logits: Tensor) -> Tensor:
    """Maximum-likelihood loss:  -E_z[exp(σ⁻¹(D(G(z))))] = -E_z[D / (1 - D)]  (seed 004 §2).

    With the optimal D, D/(1-D) = p_data/p_g and the expected gradient equals that of
    KL(p_data ‖ p_g). Exponential by nature: logits are capped at ML_LOGIT_CAP before exp(), so
    the loss stays finite (its gradient is zero for samples D already finds that convincing).
    """
    return -torch.exp(fake_logits.clamp(max=ML_LOGIT_CAP)).mean()


@dataclass(frozen=True)
class Objective:
    """A pair of losses: what D minimises on (real, fake) logits, and what G minimises."""

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]


OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective(discriminator_loss, generator_minimax),
    "nonsaturating": Objective(discriminator_loss, generator_nonsaturating),
    "ml": Objective(discriminator_loss, generator_ml),
}
