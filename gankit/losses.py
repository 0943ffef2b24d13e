"""GAN objectives as pure functions of discriminator logits.

The discriminator returns a logit a = σ⁻¹(D(x)); every loss is written with softplus so it is
exact and finite for any finite logit:  log D = -softplus(-a),  log(1 - D) = -softplus(a),
D / (1 - D) = exp(a).  All losses are *minimised* by the player that owns them.

The ½ factors of Goodfellow's 2016 tutorial are dropped throughout: they scale both players'
gradients alike and only change the effective learning rate.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn.functional import softplus

from gankit.errors import GankitError
from gankit.registry import LOSSES, register_loss, register_penalty

#: Largest logit fed to exp() in the maximum-likelihood loss. exp(30) ≈ 1e13 is far inside float32
#: (and bf16) range; beyond it the ratio D/(1-D) = p_data/p_g estimate is meaningless anyway.
ML_LOGIT_CAP = 30.0


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Cross-entropy of D:  -E_x[log D(x)] - E_z[log(1 - D(G(z)))]  (= -V(D, G)).

    Goodfellow et al. 2014, Algorithm 1: D ascends V; we descend its negation.
    """
    return softplus(-real_logits).mean() + softplus(fake_logits).mean()


def generator_minimax(fake_logits: Tensor) -> Tensor:
    """Saturating minimax loss:  E_z[log(1 - D(G(z)))]  (Goodfellow et al. 2014, eq. 1).

    G descends exactly the term of V it controls. Its gradient vanishes when D(G(z)) -> 0, i.e.
    early in training when D rejects the fakes confidently (the saturation of Goodfellow et al.
    2014).
    """
    return -softplus(fake_logits).mean()


def generator_nonsaturating(fake_logits: Tensor) -> Tensor:
    """Non-saturating loss:  -E_z[log D(G(z))]  (Goodfellow et al. 2014, §3; Goodfellow 2016).

    Same fixed point as minimax, but strong gradients exactly where minimax saturates.
    """
    return softplus(-fake_logits).mean()


def generator_ml(fake_logits: Tensor) -> Tensor:
    """Maximum-likelihood loss:  -E_z[exp(σ⁻¹(D(G(z))))] = -E_z[D / (1 - D)]  (Shah, Tu & Wagh,
    "Generative Adversarial Networks - II", §2; Goodfellow 2016).

    With the optimal D, D/(1-D) = p_data/p_g and the expected gradient equals that of
    KL(p_data ‖ p_g). Exponential by nature: logits are capped at ML_LOGIT_CAP before exp(), so
    the loss stays finite (its gradient is zero for samples D already finds that convincing).
    """
    return -torch.exp(fake_logits.clamp(max=ML_LOGIT_CAP)).mean()


def fake_only(g_loss: Callable[[Tensor], Tensor]) -> Callable[[Tensor | None, Tensor], Tensor]:
    """A generator loss of D's fake outputs alone, in the `(real_out, fake_out)` order every
    loss is called with (the built-in G losses are pure functions of the fake logits)."""

    @functools.wraps(g_loss)
    def loss(real_out: Tensor | None, fake_out: Tensor) -> Tensor:
        return g_loss(fake_out)

    return loss


@dataclass(frozen=True)
class Objective:
    """A pair of losses, both called `(real_out, fake_out)`: what D minimises, and what G
    minimises. G's `real_out` is None unless `g_uses_real` (relativistic losses compare a fake
    with real samples): the trainer then passes D's outputs on the last D step's real batch.
    `fake_only(fn)` adapts a G loss of the fake outputs alone.
    """

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor | None, Tensor], Tensor]
    g_uses_real: bool = False

    def __post_init__(self) -> None:
        for role in ("d_loss", "g_loss"):
            fn = getattr(self, role)
            if not callable(fn):
                raise GankitError(f"Objective {role} must be a function, got {fn!r}")
            if _positional_arity(fn) == 1:
                fix = (" or wrap a loss of the fake outputs alone: gankit.fake_only(fn)"
                       if role == "g_loss" else "")
                raise GankitError(f"Objective {role} takes (real_out, fake_out), one argument "
                                  f"order for every loss; {fn.__name__!r} takes one{fix}")


def _positional_arity(fn: Callable[..., Any]) -> int | None:
    """How many positional arguments fn takes (None: any number, or unknown)."""
    try:
        params = inspect.signature(fn, follow_wrapped=False).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


OBJECTIVES = LOSSES  # every loss a config can name, the built-in ones registered below
register_loss("minimax", Objective(discriminator_loss, fake_only(generator_minimax)))
register_loss("nonsaturating", Objective(discriminator_loss, fake_only(generator_nonsaturating)))
register_loss("ml", Objective(discriminator_loss, fake_only(generator_ml)))


# -- critics and other objectives -----------------------------------------------------------
# For these, D's output is a critic value, not a log-odds: σ(D(x)) is no probability. The trainer
# still logs d_real / d_fake as means of σ(output) so every run's log has one schema.


def critic_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """WGAN critic:  E_z[f(G(z))] - E_x[f(x)]  (Arjovsky et al. 2017).

    Minimising it maximises E f(real) - E f(fake), which for a 1-Lipschitz f (weight clipping,
    `train.clip`, or a gradient penalty, `train.gp_lambda`) estimates W1(p_data, p_g): so
    -d_loss in the log is the critic's running W1 estimate.
    """
    return fake_scores.mean() - real_scores.mean()


def generator_wasserstein(fake_scores: Tensor) -> Tensor:
    """WGAN generator:  -E_z[f(G(z))]; also the generator loss of the hinge objective."""
    return -fake_scores.mean()


def critic_hinge(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Hinge D loss:  E_x[max(0, 1 - D(x))] + E_z[max(0, 1 + D(G(z)))]  (Lim & Ye 2017;
    Miyato et al. 2018). D stops pushing a sample once it is past its margin."""
    return torch.relu(1 - real_scores).mean() + torch.relu(1 + fake_scores).mean()


def discriminator_least_squares(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """LSGAN D loss:  E_x[(D(x) - 1)²] + E_z[D(G(z))²]  (Mao et al. 2017, targets b = 1, a = 0).

    The square penalises samples far from the decision boundary even when correctly classified,
    so gradients do not vanish the way the sigmoid cross-entropy's do.
    """
    return (real_scores - 1).square().mean() + fake_scores.square().mean()


def generator_least_squares(fake_scores: Tensor) -> Tensor:
    """LSGAN G loss:  E_z[(D(G(z)) - 1)²]  (target c = 1)."""
    return (fake_scores - 1).square().mean()


def gradient_penalty(
    D: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty:  E[(‖∇_x̂ D(x̂)‖₂ - 1)²]  on x̂ = ε x + (1 - ε) x̃, ε ~ U[0, 1] per sample
    (Gulrajani et al. 2017). Returns the penalty without λ; differentiable in D's weights.

    The norm is taken per D output, over everything that output sees: per sample for a plain
    D, per pack of m samples for a PacGAN D (whose output depends on m samples at once).
    """
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = eps * real + (1 - eps) * fake  # keeps fake's graph when the caller needs it
    if not mixed.requires_grad:
        mixed.requires_grad_(True)
    scores = D(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = torch.linalg.vector_norm(grad.reshape(scores.numel(), -1), dim=1)
    return (norms - 1).square().mean()


def _input_gradient_norms(D: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """‖∇_x D(x)‖² per output of D (per sample; per pack for a PacGAN D), differentiable in
    D's weights (double backward)."""
    if not x.requires_grad:  # a detached batch: the gradient is taken w.r.t. a leaf copy
        x = x.detach().requires_grad_(True)
    scores = D(x)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.reshape(scores.numel(), -1).square().sum(1)


def r1_penalty(D: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
               generator: torch.Generator | None = None) -> Tensor:
    """R1:  ½ E_x ‖∇_x D(x)‖²  on real data (Mescheder, Geiger & Nowozin 2018, "Which Training
    Methods for GANs do actually Converge?"): zero-centred, it pushes D flat on the data, where
    the game converges locally. Weighted γ in train.penalties = {r1 = γ}: γ/2 · E‖∇D‖²."""
    return _input_gradient_norms(D, real.detach()).mean() / 2


def r2_penalty(D: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
               generator: torch.Generator | None = None) -> Tensor:
    """R2:  ½ E_z ‖∇_x D(x)‖² at x = G(z)  (the same paper): R1 on the generated samples.
    R3GAN (Huang et al. 2024, "The GAN is dead; long live the GAN!") uses both with RpGAN.
    The fakes' graph to G is kept when the caller has one (the unrolled GAN)."""
    return _input_gradient_norms(D, fake).mean() / 2


register_loss("wasserstein", Objective(critic_wasserstein, fake_only(generator_wasserstein)),
              critic=True)
register_loss("hinge", Objective(critic_hinge, fake_only(generator_wasserstein)), critic=True)
register_loss("least_squares",
              Objective(discriminator_least_squares, fake_only(generator_least_squares)),
              critic=True)
register_penalty("gp", gradient_penalty)
register_penalty("r1", r1_penalty)
register_penalty("r2", r2_penalty)


# -- relativistic losses: D compares real with fake; G's loss needs D's outputs on real data ------


def discriminator_rpgan(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """RpGAN D loss:  E_{x, z} softplus(-(D(x) - D(G(z))))  over pairs (real i, fake i)
    (Jolicoeur-Martineau 2018, "The relativistic discriminator"; the pairing loss of R3GAN,
    Huang et al. 2024). D's output is a score whose difference is a log-odds that the real one of
    the pair is real: adding a constant to every output changes nothing."""
    return softplus(fake_logits - real_logits).mean()


def generator_rpgan(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """RpGAN G loss:  E_{x, z} softplus(-(D(G(z)) - D(x))): D's loss with the roles swapped."""
    return softplus(real_logits - fake_logits).mean()


def discriminator_ragan(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Relativistic average D loss (RaSGAN, Jolicoeur-Martineau 2018):
    -E_x log σ(D(x) - E_z D(G(z))) - E_z log(1 - σ(D(G(z)) - E_x D(x))): each sample against the
    other batch's mean output."""
    return (softplus(fake_logits.mean() - real_logits).mean()
            + softplus(fake_logits - real_logits.mean()).mean())


def generator_ragan(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Relativistic average G loss: D's with real and fake swapped,
    -E_z log σ(D(G(z)) - E_x D(x)) - E_x log(1 - σ(D(x) - E_z D(G(z))))."""
    return discriminator_ragan(fake_logits, real_logits)


register_loss("rpgan", Objective(discriminator_rpgan, generator_rpgan, g_uses_real=True),
              critic=True)
register_loss("ragan", Objective(discriminator_ragan, generator_ragan, g_uses_real=True),
              critic=True)


def _given_from_python(*outputs: Tensor) -> Tensor:
    raise GankitError("this run's loss was passed as an object from Python: pass it again "
                      "(gankit.open_run(path, loss=...) or gankit.fit(..., resume=True))")


#: The name a config records for a loss object passed from Python (see gankit.api).
register_loss("python", Objective(_given_from_python, _given_from_python))
