"""Unrolled GAN (Metz et al. 2017): G descends f_K(θ_G, θ_D) = f(θ_G, θ_D^K).

θ_D^K comes from K updates of a *functional copy* of D's weights (torch.func.functional_call),
starting at θ_D, on the same real batch and the same fake batch G(z; θ_G) that G's loss uses.
Second order (default): the updates keep their graph, so dθ_D^K/dθ_G enters G's gradient and G
"sees" how D would answer its move. First order (`train.unroll_first_order`): the updates are
constants, G only meets a D that is K steps further along.

Each unrolled step applies the D optimizer's own rule (gankit/train/optim.py): Adam-like for
Adam, as in the paper, with the optimizer's current moment estimates; RMSProp-like for RMSProp.
The unrolled steps penalise (train.penalties) and clip (train.clip) as a real D step does: both
go through the one D objective of train/objective.py.
The real D update stays the ordinary one and θ_D itself is never changed here; D's BatchNorm
buffers are copied, so unrolling leaves no trace on the model.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from gankit.train.objective import DObjective, uses_real
from gankit.train.optim import FunctionalOptimizer


def unrolled_parameters(
    D: nn.Module, real: Tensor, fake: Tensor, objective: Any, steps: int,
    optimizer: FunctionalOptimizer, first_order: bool = False,
    d_objective: DObjective | None = None, generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """θ_D^K (and copies of D's buffers) after `steps` functional D updates on (real, fake), each
    the real D step's objective (`d_objective`: penalties, then the weight constraint)."""
    d_objective = DObjective() if d_objective is None else d_objective  # no penalty, no clip
    params = {n: p.detach().requires_grad_(True) for n, p in D.named_parameters()}
    buffers = {n: b.clone() for n, b in D.named_buffers()}  # BatchNorm stats: updated on copies
    fake_in = fake.detach() if first_order else fake

    for _ in range(steps):
        def call(x: Tensor, weights: dict[str, Tensor] = params) -> Tensor:
            return functional_call(D, {**weights, **buffers}, (x,))

        loss, _ = d_objective.loss(objective, call, real, fake_in, generator)
        names = list(params)
        grads = torch.autograd.grad(loss, [params[n] for n in names],
                                    create_graph=not first_order, allow_unused=True)
        grads = {n: torch.zeros_like(params[n]) if g is None else g for n, g in zip(names, grads)}
        new = d_objective.constrain(optimizer.step(params, grads))
        if first_order:
            new = {n: v.detach().requires_grad_(True) for n, v in new.items()}
        params = new
    return {**params, **buffers}


def unrolled_g_loss(trainer, fake: Tensor, steps: int | None = None) -> Tensor:
    """G's loss in an unrolled generator step of `trainer`: its objective on D^K(fake), plus
    (train.unroll_real_term, the default) D^K's real-data term, so that G descends
    f(θ_G, θ_D^K(θ_G)) of Metz et al. (2017) eq. 6: with second-order unrolling θ_D^K depends on
    θ_G, and so does E_x log D^K(x). D's losses are sums of a real and a fake part; the fake part
    is held constant there, as the generator's own objective already speaks for it.

    `steps` overrides train.unroll (tests). The real batch is the one the last D step used.
    """
    t, objective = trainer.cfg.train, trainer.objective
    real = trainer.last_real_batch()
    weights = unrolled_parameters(
        trainer.D, real, fake, objective, t.unroll if steps is None else steps,
        FunctionalOptimizer.mirror(trainer.opt_d, trainer.D), t.unroll_first_order,
        trainer.d_objective, trainer.z_gen)
    real_term = t.unroll_real_term and not t.unroll_first_order  # first order: no path to θ_G
    needs_real = real_term or uses_real(objective)
    real_in, fake_in = trainer.d_objective.augmented(real if needs_real else None, fake)
    fake_out = functional_call(trainer.D, weights, (fake_in,))
    real_out = functional_call(trainer.D, weights, (real_in,)) if real_in is not None else None
    loss = objective.g_loss(real_out if uses_real(objective) else None, fake_out)
    if real_term:
        loss = loss - objective.d_loss(real_out, fake_out.detach())
    return loss
