"""DCGAN generator and discriminator (Radford et al. 2016; its guidelines as listed in
Huang's slides "Machine Learning I (DATS 6202): Generative Adversarial Network").

Strided convolutions in D, transposed convolutions in G, BatchNorm everywhere except G's output
and D's input, ReLU in G with a tanh (or sigmoid, for [0, 1] data) output, LeakyReLU 0.2 in D,
no hidden fully connected layers, weights ~ N(0, 0.02). D ends in a convolution over the last
feature map that returns one logit per image.

Layouts, with w = width (channels of G's last / D's first hidden layer):
    28×28: 7 → 14 → 28        G channels 2w, w       D channels w, 2w
    32×32: 4 → 8 → 16 → 32    G channels 4w, 2w, w   D channels w, 2w, 4w
    64×64: 4 → 8 → 16 → 32 → 64, with 8w at the 4×4 stage
"""

from __future__ import annotations

import itertools

from torch import Tensor, nn

#: resolution -> (side of the first feature map, number of ×2 stages)
LAYOUTS = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
INIT_STD = 0.02


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) conv weights; BatchNorm scale ~ N(1, 0.02), shift 0 (the DCGAN paper's init)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, INIT_STD)
            nn.init.zeros_(m.bias)


def _layout(resolution: int) -> tuple[int, int]:
    if resolution not in LAYOUTS:
        raise ValueError(f"DCGAN nets support resolutions {sorted(LAYOUTS)}, got {resolution}")
    return LAYOUTS[resolution]


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64,
                 output: str = "tanh") -> None:
        super().__init__()
        start, stages = _layout(resolution)
        chans = [width * 2 ** i for i in reversed(range(stages))]  # e.g. 4w, 2w, w
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, chans[0], start, 1, 0, bias=False),  # project + reshape
            nn.BatchNorm2d(chans[0]), nn.ReLU(True),
        ]
        for c_in, c_out in itertools.pairwise(chans):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1),
                   nn.Tanh() if output == "tanh" else nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int, resolution: int, width: int = 64) -> None:
        super().__init__()
        start, stages = _layout(resolution)
        chans = [width * 2 ** i for i in range(stages)]  # w, 2w, 4w
        layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 4, 2, 1),
                                   nn.LeakyReLU(0.2, True)]  # no BatchNorm at D's input
        for c_in, c_out in itertools.pairwise(chans):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(chans[-1], 1, start, 1, 0))  # the whole last map -> one logit
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).view(x.shape[0])
