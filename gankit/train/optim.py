"""Optimizers built from the config, and their differentiable twins for unrolled D updates.

`make_optimizer` gives the torch optimizer a run trains with; `FunctionalOptimizer.mirror` copies
its hyper-parameters and moment estimates so that an unrolled step (gankit/train/unrolled.py)
applies the *same* update rule as a pure function of (weights, gradients), which autograd can
differentiate through.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

OPTIMIZERS = ("adam", "rmsprop")


def make_optimizer(
    kind: str, params: Iterable[Tensor], lr: float, betas: tuple[float, float],
) -> torch.optim.Optimizer:
    """Adam with `betas`, or RMSProp (WGAN's choice; torch defaults α 0.99, ε 1e-8, no momentum)."""
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise ValueError(f"unknown optimizer {kind!r}; known: {', '.join(OPTIMIZERS)}")


@torch.no_grad()
def clip_weights(module: nn.Module, limit: float) -> None:
    """WGAN weight clipping: every parameter of the critic into [-limit, limit], in place."""
    for p in module.parameters():
        p.clamp_(-limit, limit)


def _safe_sqrt(v: Tensor) -> Tensor:
    """sqrt whose derivative stays finite at 0 (an exactly-zero second moment would give 0·∞)."""
    return v.clamp_min(torch.finfo(v.dtype).tiny).sqrt()


class FunctionalOptimizer:
    """The update rule of a torch Adam or RMSprop as a pure function of named tensors.

    `step` returns new weights instead of writing them; with gradients computed under
    create_graph=True the new weights are differentiable in everything the gradients depend on.
    The moment estimates start from the real optimizer's (zeros before its first step).
    """

    def __init__(self, kind: str, lr: float, betas: tuple[float, float], eps: float,
                 alpha: float, state: dict[str, dict[str, Tensor]]) -> None:
        self.kind, self.lr, self.betas, self.eps, self.alpha = kind, lr, betas, eps, alpha
        self.state = state

    @classmethod
    def mirror(cls, opt: torch.optim.Optimizer, module: nn.Module) -> FunctionalOptimizer:
        """A functional copy of `opt`, which optimizes `module`'s parameters (one group)."""
        group = opt.param_groups[0]
        if isinstance(opt, torch.optim.Adam):
            kind, moments = "adam", ("exp_avg", "exp_avg_sq")
        elif isinstance(opt, torch.optim.RMSprop):
            kind, moments = "rmsprop", ("square_avg",)
        else:
            raise ValueError(f"cannot mirror {type(opt).__name__}: only Adam and RMSprop")
        state = {}
        for name, p in module.named_parameters():
            s = opt.state.get(p, {})
            state[name] = {"step": float(s["step"]) if "step" in s else 0.0,
                           **{k: s[k].detach().clone() if k in s else torch.zeros_like(p)
                              for k in moments}}
        return cls(kind, group["lr"], tuple(group.get("betas", (0.9, 0.999))), group["eps"],
                   group.get("alpha", 0.99), state)

    def step(self, params: dict[str, Tensor], grads: dict[str, Tensor]) -> dict[str, Tensor]:
        """New weights after one update (the optimizer's state advances as well)."""
        out = {}
        for name, p in params.items():
            g, s = grads[name], self.state[name]
            s["step"] += 1
            if self.kind == "adam":
                b1, b2 = self.betas
                s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
                s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
                bias1, bias2 = 1 - b1 ** s["step"], 1 - b2 ** s["step"]
                denom = _safe_sqrt(s["exp_avg_sq"]) / bias2 ** 0.5 + self.eps
                out[name] = p - (self.lr / bias1) * s["exp_avg"] / denom
            else:
                s["square_avg"] = self.alpha * s["square_avg"] + (1 - self.alpha) * g * g
                out[name] = p - self.lr * g / (_safe_sqrt(s["square_avg"]) + self.eps)
        return out
