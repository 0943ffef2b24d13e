"""Your own convolutional generator and discriminator on a folder of images.

    python examples/own_convnets_folder.py [FOLDER] [--steps N] [--out DIR]

Without FOLDER, it first writes a tiny folder of 16×16 PNGs (bright discs on black) to train on.
gankit reads the folder (PNG/JPEG, searched recursively), resizes and centre-crops each image to
data.resolution, and draws grid.png, real.png and training.gif into the run folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

import gankit

SIDE = 16


def write_discs(folder: Path, n: int = 64, seed: int = 0) -> Path:
    """n grayscale SIDE×SIDE PNGs, each a disc of random centre and radius."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    for i in range(n):
        cx, cy = rng.uniform(4, SIDE - 4, 2)
        r = rng.uniform(2, 4)
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r) * 255
        Image.fromarray(disc.astype(np.uint8), mode="L").save(folder / f"disc_{i:03d}.png")
    return folder


class Generator(nn.Module):  # z (n, 32) -> images (n, 1, 16, 16) in [-1, 1]
    def __init__(self, z_dim: int = 32, width: int = 32) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(z_dim, 2 * width * 4 * 4), nn.ReLU())
        self.width = width
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.project(z).view(len(z), 2 * self.width, 4, 4))


class Discriminator(nn.Module):  # images (n, 1, 16, 16) -> one logit each
    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 4 * 4, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("runs/example-folder"))
    args = parser.parse_args()
    folder = args.folder or write_discs(args.out.with_name(args.out.name + "-images"))
    torch.manual_seed(0)
    run = gankit.fit(Generator(), Discriminator(), folder, config="folder-dcgan",
                     overrides={"data.resolution": SIDE, "data.channels": 1, "prior.dim": 32,
                                "train.batch_size": 32, "train.log_every": 10,
                                "train.frame_every": 50, "eval.metrics": ["w1"],
                                "eval.n_samples": 64},
                     steps=args.steps, out=args.out, force=True)
    print(f"{run}: W1 to the folder's images = {run.metrics['w1']:.2f}; "
          f"pictures: {', '.join(p.name for p in sorted(run.run_dir.glob('*.png')))}")


if __name__ == "__main__":
    main()
