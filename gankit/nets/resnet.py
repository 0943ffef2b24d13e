"""Residual generator and discriminator, in the style of SNGAN (Miyato et al. 2018, "Spectral
Normalization for Generative Adversarial Networks", appendix B) and R3GAN (Huang et al. 2024,
"The GAN is dead; long live the GAN! A Modern GAN Baseline"): pre-activation residual blocks
with 3×3 convolutions, nearest-neighbour ×2 upsampling in G and 2×2 average pooling in D, no
normalisation layers (R3GAN drops them; gradient penalties such as R1 assume a D of one sample at
a time, which BatchNorm is not).

Each block returns (skip(x) + residual(x)) · √½, the variance-preserving sum of StyleGAN2's
residual D, so activations keep their scale at any depth without a special initialisation (and
the Lipschitz bound of a spectrally normalised block stays √2).

Layouts, with w = width (model.g_width / model.d_width), by image side (as the DCGAN nets):
    28×28: 7 → 14 → 28          G channels 2w → w → w      D channels w → w → 2w
    32×32: 4 → 8 → 16 → 32      G 4w → 2w → w → w          D w → w → 2w → 4w
    64×64: 4 → 8 → 16 → 32 → 64, 8w at the 4×4 stage
G starts with a linear map of z to the first feature map and ends with a 3×3 convolution to the
image; D starts with a 3×3 convolution of the image and ends with a linear map of its last
feature map (kept whole, so D sees where things are) to one logit.
"""

from __future__ import annotations

import itertools
import math

from torch import Tensor, nn
from torch.nn import functional as F

from gankit.nets.dcgan import LAYOUTS

#: Negative slope of the LeakyReLUs (R3GAN's and DCGAN's D value).
SLOPE = 0.2


def resnet_init(module: nn.Module) -> None:
    """He-normal weights for the LeakyReLU (He et al. 2015), gain 1 for the skips' 1×1
    convolutions (no activation before them), zero biases: each path keeps the scale of its
    input, so the √½ sum keeps the signal's scale from block to block."""
    skips = {id(m.skip) for m in module.modules() if isinstance(m, ResBlock) and m.skip}
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            kind = "linear" if id(m) in skips else "leaky_relu"
            nn.init.kaiming_normal_(m.weight, a=SLOPE, nonlinearity=kind)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _layout(resolution: int) -> tuple[int, int]:
    if resolution not in LAYOUTS:
        raise ValueError(f"ResNet nets support resolutions {sorted(LAYOUTS)}, got {resolution}")
    return LAYOUTS[resolution]


class ResBlock(nn.Module):
    """act → conv3×3 → act → conv3×3 (the residual), plus a 1×1 convolution (the skip) when the
    channels change; `scale` "up" upsamples before both paths' convolutions, "down" average-pools
    after them, None keeps the side."""

    def __init__(self, c_in: int, c_out: int, scale: str | None = None) -> None:
        super().__init__()
        self.scale = scale
        hidden = c_out if scale == "up" else c_in  # G widens first, D narrows last
        self.conv1 = nn.Conv2d(c_in, hidden, 3, 1, 1)
        self.conv2 = nn.Conv2d(hidden, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False) if c_in != c_out else None

    def forward(self, x: Tensor) -> Tensor:
        h = F.leaky_relu(x, SLOPE)
        if self.scale == "up":
            h, x = F.interpolate(h, scale_factor=2.0), F.interpolate(x, scale_factor=2.0)
        h = self.conv2(F.leaky_relu(self.conv1(h), SLOPE))
        skip = x if self.skip is None else self.skip(x)
        if self.scale == "down":
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return (skip + h) * math.sqrt(0.5)


def generator_channels(width: int, stages: int) -> list[int]:
    """Channels of G's feature maps, first (smallest) to last: e.g. 32×32: [4w, 2w, w, w]."""
    return [width * 2 ** max(stages - 1 - i, 0) for i in range(stages + 1)]


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64,
                 output: str = "tanh") -> None:
        super().__init__()
        start, stages = _layout(resolution)
        chans = generator_channels(width, stages)
        self.start = (chans[0], start, start)
        self.project = nn.Linear(z_dim, chans[0] * start * start)
        self.blocks = nn.Sequential(*(ResBlock(a, b, "up") for a, b in itertools.pairwise(chans)))
        self.to_image = nn.Conv2d(chans[-1], channels, 3, 1, 1)
        self.output = nn.Tanh() if output == "tanh" else nn.Sigmoid()
        resnet_init(self)

    def forward(self, z: Tensor) -> Tensor:
        x = self.blocks(self.project(z).view(z.shape[0], *self.start))
        return self.output(self.to_image(F.leaky_relu(x, SLOPE)))


class ResNetDiscriminator(nn.Module):
    def __init__(self, channels: int, resolution: int, width: int = 64) -> None:
        super().__init__()
        start, stages = _layout(resolution)
        chans = generator_channels(width, stages)[::-1]  # w, w, 2w, 4w: G's, mirrored
        self.from_image = nn.Conv2d(channels, chans[0], 3, 1, 1)
        self.blocks = nn.Sequential(*(ResBlock(a, b, "down") for a, b in itertools.pairwise(chans)))
        self.logit = nn.Linear(chans[-1] * start * start, 1)
        resnet_init(self)

    def forward(self, x: Tensor) -> Tensor:
        h = F.leaky_relu(self.blocks(self.from_image(x)), SLOPE)
        return self.logit(h.flatten(1)).view(x.shape[0])
