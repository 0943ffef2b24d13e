"""Shared pieces of the theory checks: 1-D/2-D mixtures, exact D*, trained discriminators.

Every check knows p_data and p_g exactly (`GaussianMixture.log_prob`), so the optimal
discriminator D* = p_data / (p_data + p_g) and every divergence can be computed without a network;
a network is trained only where the proposition is about what training reaches.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from gankit.data.toy import GaussianMixture
from gankit.losses import discriminator_loss
from gankit.nets.mlp import LogitHead, mlp

LOG4 = math.log(4.0)
LOG2 = math.log(2.0)


def mixture_1d(means: list[float], std: float, weights: list[float] | None = None
               ) -> GaussianMixture:
    """A 1-D mixture of equal-width Gaussians."""
    w = None if weights is None else torch.tensor(weights, dtype=torch.float64)
    return GaussianMixture(torch.tensor(means, dtype=torch.float64).view(-1, 1), std, w)


def log_density(mix: GaussianMixture, x: np.ndarray | Tensor) -> np.ndarray:
    """Exact log p(x) as float64 numpy; x is (n,) for 1-D mixtures or (n, dim)."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if x.ndim == 1:
        x = x.view(-1, 1)
    return mix.log_prob(x).numpy()


def optimal_logit(p_data: GaussianMixture, p_g: GaussianMixture, x: Tensor) -> Tensor:
    """σ⁻¹(D*(x)) = log p_data(x) - log p_g(x): the logit of Prop. 1's optimal discriminator."""
    x = x.double().reshape(len(x), -1)
    return p_data.log_prob(x) - p_g.log_prob(x)


def sigmoid_np(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def discriminator(dim: int, width: int = 64, depth: int = 2) -> nn.Module:
    """The toy MLP discriminator of gankit.nets (returns logits), smooth activations."""
    return LogitHead(mlp(dim, 1, width, depth, activation="elu"))


def fit_discriminator(
    p_data: GaussianMixture, p_g: GaussianMixture, steps: int, batch: int = 1024,
    lr: float = 3e-3, width: int = 64, depth: int = 2, seed: int = 0,
    net: nn.Module | None = None,
) -> nn.Module:
    """Train D on fresh samples of both distributions (infinite data, so no overfitting).

    Adam with a cosine decay of the learning rate to zero: the last steps average out the
    minibatch noise, so D settles at the minimiser of the expected loss, which is D*.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    D = net if net is not None else discriminator(p_data.dim, width, depth)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        real, fake = p_data.sample(batch, gen), p_g.sample(batch, gen)
        loss = discriminator_loss(D(real), D(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return D.eval()


@torch.no_grad()
def logits_of(D: nn.Module, x: np.ndarray | Tensor) -> np.ndarray:
    """D's logits at the rows of x, float64 numpy."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if x.ndim == 1:
        x = x.view(-1, 1)
    return D(x).double().numpy()


def save_figure(fig, path) -> str:
    """Save a figure as a 256-colour PNG (the docs keep each figure well under 250 KB)."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    buf.seek(0)
    Image.open(buf).convert("RGB").quantize(colors=256).save(path, optimize=True)
    return path.name
