"""Your own generator and discriminator on your own 2-D data (two interleaved half-moons).

    python examples/own_nets_2d.py [--steps N] [--out DIR]

Writes the run folder (checkpoint, metrics, samples.png) and prints the final W1 distance.
"""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn

import gankit


def moons(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * math.pi
    upper = torch.rand(n, generator=g) < 0.5
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    return torch.stack([x, y], 1) + 0.05 * torch.randn(n, 2, generator=g)


class Generator(nn.Module):
    def __init__(self, z_dim: int = 4, width: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU(), nn.Linear(width, width),
                                 nn.ReLU(), nn.Linear(width, 2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, width), nn.LeakyReLU(0.2),
                                 nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # one logit per sample, no sigmoid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", default="runs/example-moons")
    args = parser.parse_args()
    torch.manual_seed(0)
    run = gankit.fit(Generator(), Discriminator(), moons(20_000), loss="nonsaturating",
                     overrides={"prior.dim": 4, "train.batch_size": 128, "train.lr_g": 1e-3,
                                "train.lr_d": 1e-3, "train.log_every": 50,
                                "eval.n_samples": 500},
                     steps=args.steps, out=args.out, force=True)
    print(f"{run}: W1 to the data = {run.metrics['w1']:.3f}; pictures in {run.run_dir}")


if __name__ == "__main__":
    main()
