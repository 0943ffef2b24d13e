"""NaN/Inf guard: a non-finite loss stops the run (or its update is skipped), found without a
host sync inside the step.

Semantics of `train.on_nonfinite` (docs/speed.md):

- Each optimizer update of the D and G steps goes through `NonFiniteGuard.step`, which records,
  on the device, the first step whose discriminator or generator loss was NaN or ±Inf.
- That record is read (one small host read) at every boundary where the run writes something:
  a log line (log_every), a frame (frame_every), a checkpoint (ckpt_every, end of run, stop).
- "stop" (default): at the first boundary after a non-finite loss the run raises NonFiniteError
  before writing anything. The message names the loss, the step at which it became non-finite
  and the last checkpoint written; steps between that step and the boundary ran, but nothing of
  them is saved.
- "skip": an update whose loss or gradients are non-finite is not applied. Fused Adam skips it on
  the device (`found_inf`, GradScaler's mechanism: weights, moments and step count stay); other
  optimizers fall back to one host read per update. Under torchrun the flag is all-reduced so all
  ranks skip together. Such a step's statistics are left out of the logged averages and each log
  line counts them in `nonfinite_steps`; a log interval in which every step was non-finite stops
  the run (nothing is being learned). BatchNorm running statistics are updated by the forward
  pass before the loss exists and are not rolled back.
- In both modes no checkpoint is written while a parameter or buffer is non-finite: `before_save`
  raises NonFiniteError and the previous checkpoint stays the last good one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gankit.errors import GankitError
from gankit.train import distributed

PLAYERS = ("discriminator", "generator")
#: The first non-finite step of a player that has had none: a step no run reaches (so the
#: minimum over ranks is the earliest bad step of any).
NEVER = 2**62


class NonFiniteError(GankitError):
    """A loss or a weight became NaN/Inf; the run stopped without saving the damage."""


class NonFiniteGuard:
    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.skip = trainer.cfg.train.on_nonfinite == "skip"
        device = trainer.device
        self.first = torch.full((len(PLAYERS),), NEVER, dtype=torch.int64, device=device)
        self.bad_steps = torch.zeros((), dtype=torch.int64, device=device)
        self.last_checkpoint: tuple[Path, int] | None = None

    # -- inside the step: device tensors only -------------------------------------------------
    def step(self, opt: torch.optim.Optimizer, loss: Tensor, player: str) -> None:
        """opt.step(), recording (and under "skip", skipping) a non-finite loss."""
        i = PLAYERS.index(player)
        bad = ~torch.isfinite(loss.detach())
        step = torch.where(bad, self.trainer.step + 1, NEVER)
        self.first[i] = torch.minimum(self.first[i], step)
        if not self.skip:
            opt.step()
            return
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if grads:
            norm = torch.nn.utils.get_total_norm(grads, error_if_nonfinite=False)
            bad = bad | ~torch.isfinite(norm)
        flag = distributed.all_reduce(bad.float().reshape(1), "max")[0]  # ranks skip together
        if skips_on_device(opt):
            opt.found_inf = flag  # read by fused Adam: no update, step count kept
            try:
                opt.step()
            finally:
                del opt.found_inf
        elif not flag.item():  # other optimizers: one host read per update
            opt.step()

    def finite_stats(self, stats: Tensor) -> Tensor:
        """A step's logged statistics; under "skip", zeros (and counted) when one is non-finite."""
        if not self.skip:
            return stats
        bad = ~torch.isfinite(stats).all()
        self.bad_steps += bad
        return torch.where(bad, torch.zeros_like(stats), stats)

    # -- at boundaries: one host read ---------------------------------------------------------
    def check(self) -> None:
        """Raise NonFiniteError ("stop") if a loss was non-finite since the run (re)started."""
        if self.skip:
            return
        first = distributed.all_reduce(self.first, "min").tolist()
        if min(first) < NEVER:
            bad = min(first)
            who = " and ".join(p for p, s in zip(PLAYERS, first) if s == bad)
            raise NonFiniteError(
                f"the {who} loss became NaN or infinite at step {bad} "
                f"(train.on_nonfinite = stop); the run stopped at step {self.trainer.step} "
                f"without saving. {self._last_good()} Lower the learning rates (train.lr_d, "
                "train.lr_g) or set train.on_nonfinite=skip, then train again")

    def interval_means(self, acc: Tensor, steps: int) -> tuple[list[float], dict[str, int]]:
        """The logged averages (over ranks, over the interval's finite steps) and extra fields."""
        if not self.skip:
            return distributed.all_mean(acc / max(steps, 1)).tolist(), {}
        means = distributed.all_mean(acc / (steps - self.bad_steps).clamp(min=1))
        bad = int(distributed.all_reduce(self.bad_steps, "max").item())
        self.bad_steps.zero_()
        if steps and bad >= steps:
            raise NonFiniteError(
                f"every one of the last {steps} steps (up to step {self.trainer.step}) had a "
                "non-finite loss or gradient and was skipped (train.on_nonfinite = skip): "
                f"nothing is being learned. {self._last_good()} Lower the learning rates "
                "(train.lr_d, train.lr_g) and train again")
        return means.tolist(), {"nonfinite_steps": bad}

    def before_save(self) -> None:
        """Refuse to write a checkpoint holding a non-finite loss history or weights."""
        self.check()
        t = self.trainer
        tensors = [x for m in (t.G, t.D, t.G_ema) if m is not None
                   for x in (*m.parameters(), *m.buffers()) if x.is_floating_point()]
        finite = torch.stack([torch.isfinite(x).all() for x in tensors]).all()
        if not distributed.all_reduce(finite.float().reshape(1), "min").item():
            raise NonFiniteError(
                f"a weight of the networks is NaN or infinite at step {t.step}; the checkpoint "
                f"was not written. {self._last_good()} Lower the learning rates "
                "(train.lr_d, train.lr_g) and train again")

    def saved(self, path: Path, step: int) -> None:
        self.last_checkpoint = (Path(path), step)

    def _last_good(self) -> str:
        if self.last_checkpoint is None:
            return "No checkpoint had been written yet."
        path, step = self.last_checkpoint
        return f"Last good checkpoint: {path} (step {step})."


def skips_on_device(opt: torch.optim.Optimizer) -> bool:
    """Fused Adam/AdamW read `found_inf` and skip the update on the device."""
    return isinstance(opt, torch.optim.Adam | torch.optim.AdamW) and all(
        g.get("fused") for g in opt.param_groups)
