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


# -- the deeper DCGAN of PacGAN's Stacked MNIST experiments -------------------------------------
def _halvings(resolution: int, stages: int = 4) -> list[int]:
    """Feature-map sides of stride-2 "same" convolutions: 28 -> [28, 14, 7, 4, 2]."""
    sides = [resolution]
    for _ in range(stages):
        sides.append(-(-sides[-1] // 2))
    return sides


class PacGANDCGANGenerator(nn.Module):
    """G of the DCGAN that PacGAN's Stacked MNIST experiments trained (the "VEEGAN setting"):
    z -> linear -> 8w × s/16 × s/16 (BatchNorm, ReLU), then four 5×5 stride-2 transposed
    convolutions to 4w, 2w, w and the image channels (28×28: 2 → 4 → 7 → 14 → 28).

    Much larger than `DCGANGenerator` / `DCGANDiscriminator` (28×28×3, w = 64: G 4.5 M
    parameters against 0.76 M, D 4.3 M against 0.14 M), with the 5×5 kernels of that TensorFlow
    DCGAN; "same" padding, so odd sides (7) work."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64,
                 output: str = "tanh") -> None:
        super().__init__()
        sides = _halvings(resolution)[::-1]  # e.g. 2, 4, 7, 14, 28
        chans = [width * 8, width * 4, width * 2, width, channels]
        self.start = (chans[0], sides[0], sides[0])
        self.project = nn.Linear(z_dim, chans[0] * sides[0] ** 2)
        layers: list[nn.Module] = [nn.BatchNorm2d(chans[0]), nn.ReLU(True)]
        for i in range(4):
            extra = sides[i + 1] - (2 * sides[i] - 1)  # 1 doubles the side, 0 gives 2s − 1
            layers.append(nn.ConvTranspose2d(chans[i], chans[i + 1], 5, 2, 2, output_padding=extra))
            layers += ([nn.BatchNorm2d(chans[i + 1]), nn.ReLU(True)] if i < 3 else
                       [nn.Tanh() if output == "tanh" else nn.Sigmoid()])
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.project(z).view(z.shape[0], *self.start))


class PacGANDCGANDiscriminator(nn.Module):
    """D of the same DCGAN: four 5×5 stride-2 "same" convolutions to w, 2w, 4w, 8w channels
    (LeakyReLU 0.2, BatchNorm after all but the first), then a linear layer to one logit."""

    def __init__(self, channels: int, resolution: int, width: int = 64) -> None:
        super().__init__()
        chans = [channels, width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        for i in range(4):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], 5, 2, 2))
            if i:
                layers.append(nn.BatchNorm2d(chans[i + 1]))
            layers.append(nn.LeakyReLU(0.2, True))
        side = _halvings(resolution)[-1]
        layers += [nn.Flatten(), nn.Linear(chans[-1] * side * side, 1)]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).view(x.shape[0])
