"""PacGAN packing (Lin et al. 2018): D judges m samples at once.

`Packed` wraps an ordinary discriminator built for m× the input: m consecutive samples of a
batch are concatenated (features for vectors, channels for images) into one input, so a batch of
B samples gives B/m logits. Real packs hold m real samples, fake packs m independent fakes; the
trainer is unchanged, since it already feeds D all-real and all-fake batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from torch import Tensor, nn


def packed_shape(sample_shape: tuple[int, ...], m: int) -> tuple[int, ...]:
    """The input shape of the inner D: m samples stacked along the first (feature/channel) axis."""
    return (m * sample_shape[0], *sample_shape[1:])


class Packed(nn.Module):
    """D(x_1, ..., x_m): (B, *shape) -> (B/m,) logits, packs of m consecutive samples."""

    def __init__(self, inner: nn.Module, m: int) -> None:
        super().__init__()
        self.inner, self.m = inner, m

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        if b % self.m:
            raise ValueError(f"a packed D (train.pack = {self.m}) needs a batch divisible by "
                             f"{self.m}, got {b} samples")
        return self.inner(x.reshape(b // self.m, self.m * x.shape[1], *x.shape[2:]))


def pack_discriminator(cfg, sample_shape: tuple[int, ...],
                       build: Callable[..., nn.Module]) -> Packed:
    """The configured D built for packs of `cfg.train.pack` samples, wrapped to unpack batches."""
    m = cfg.train.pack
    single = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, pack=1))
    return Packed(build(single, packed_shape(tuple(sample_shape), m)), m)
