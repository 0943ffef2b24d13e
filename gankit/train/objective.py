"""The discriminator's objective, in one place.

A D update minimises the configured loss on D's outputs for a real and a fake batch, plus each
registered penalty the config names (`train.penalties`; WGAN-GP's `train.gp_lambda` is the penalty
"gp"), and then applies the weight constraint (WGAN's clipping, `train.clip`). The real D step
(train/loop.py) and the unrolled GAN's functional D steps (train/unrolled.py) both go through
`DObjective`, so a new penalty acts on both alike and is logged under its name. With
`train.augment`, `DObjective.augmented` is what D sees of every batch, in the D step, the G step
and the penalties alike.

Every loss is called with one argument order, `(real_out, fake_out)`: `d_loss(real_out, fake_out)`
and `g_loss(real_out, fake_out)`, where G's `real_out` is None unless the objective says
`g_uses_real` (relativistic losses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gankit.config import TrainConfig
from gankit.registry import PENALTIES
from gankit.train.augment import Augment

#: D (or a functional call of D's weights) on a batch -> one output per sample (or per pack).
DiscriminatorFn = Callable[[Tensor], Tensor]


def penalty_weights(t: TrainConfig) -> dict[str, float]:
    """name -> weight of every penalty a run adds to D's loss (`train.gp_lambda` is "gp")."""
    weights = {name: w for name, w in t.penalties.items() if w}
    if t.gp_lambda:
        weights["gp"] = t.gp_lambda
    return weights


@dataclass(frozen=True)
class DObjective:
    """D's loss plus its weighted penalties, and the constraint after each D update."""

    penalties: tuple[tuple[str, float, Callable[..., Tensor]], ...] = ()
    clip: float = 0.0  # WGAN: D's weights into [-clip, clip] after each update; 0 = off
    augment: Augment | None = None  # D's inputs augmented (train.augment); None = as they are
    every: int = 1  # lazy penalties (train.penalty_every): on every N-th D step only, N× weight

    @classmethod
    def from_config(cls, t: TrainConfig, augment: Augment | None = None) -> DObjective:
        return cls(tuple((name, w, PENALTIES[name]) for name, w in penalty_weights(t).items()),
                   t.clip, augment, t.penalty_every)

    @property
    def penalty_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.penalties)

    @property
    def stat_names(self) -> tuple[str, ...]:
        """The statistics `loss` returns beyond the losses: the penalties, ADA's p and r_t."""
        return self.penalty_names + (() if self.augment is None else self.augment.stat_names)

    def augmented(self, real: Tensor | None, fake: Tensor) -> tuple[Tensor | None, Tensor]:
        """What D is shown of a real and a fake batch: both through the same augmentation draws
        (train/augment.py), or unchanged without augmentation."""
        return (real, fake) if self.augment is None else self.augment.pair(real, fake)

    def loss(self, objective: Any, D: DiscriminatorFn, real: Tensor, fake: Tensor,
             generator: torch.Generator | None = None,
             plain_D: DiscriminatorFn | None = None,
             step: int | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """(the loss D minimises, its detached statistics) on one real and one fake batch.

        `step`: this D step's index (from 0), for the lazy schedule of StyleGAN2 (Karras et al.
        2020): with `every` = N the penalties are computed on steps 0, N, 2N, ... only, weighted
        N×, and logged as N × their value there and 0 in between, so that a log interval's mean
        is still the penalty's. None (the unrolled GAN's functional steps): every call, 1×.

        `plain_D`: the same D without a DistributedDataParallel wrapper, for the penalties'
        double backward (which DDP does not support); D itself when not given. With
        augmentation, D's loss and the penalties all see the augmented batches: the penalties
        measure D on the inputs it is trained on."""
        real, fake = self.augmented(real, fake)
        assert real is not None
        real_out, fake_out = D(real), D(fake)
        loss = objective.d_loss(real_out, fake_out)
        stats = {"d_loss": loss.detach(), "d_real": torch.sigmoid(real_out.detach()).mean(),
                 "d_fake": torch.sigmoid(fake_out.detach()).mean()}
        if self.augment is not None:
            stats.update(self.augment.stats(real_out))
        lazy = 1 if step is None else self.every
        for name, weight, penalty in self.penalties:  # in the gradient, logged apart
            if step is not None and step % self.every:
                stats[name] = torch.zeros((), device=loss.device)
                continue
            value = lazy * penalty(D if plain_D is None else plain_D, real, fake, generator)
            loss = loss + weight * value
            stats[name] = value.detach()
        return loss, stats

    def constrain(self, weights: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """D's weights after an update, under the run's constraint (functional: new tensors)."""
        if not self.clip:
            return dict(weights)
        return {n: w.clamp(-self.clip, self.clip) for n, w in weights.items()}

    @torch.no_grad()
    def constrain_(self, D: torch.nn.Module) -> None:
        """`constrain`, in place on a module's parameters (after an optimizer step)."""
        if not self.clip:
            return
        params = dict(D.named_parameters())
        for name, value in self.constrain(params).items():
            params[name].copy_(value)


def uses_real(objective: Any) -> bool:
    """Whether G's loss needs D's outputs on real data (relativistic losses)."""
    return bool(getattr(objective, "g_uses_real", False))
