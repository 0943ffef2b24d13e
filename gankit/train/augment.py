"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020, "Differentiable
Augmentation for Data-Efficient GAN Training"), with the adaptive probability of ADA (Karras et al.
2020, "Training Generative Adversarial Networks with Limited Data").

With `train.augment = "translation,cutout,color"` D never sees an unaugmented image: real and fake
batches pass through the same ops before every D evaluation (the D step, the G step, the
penalties, the unrolled GAN's steps, the Keras recipe's D pretraining). Every op is a
differentiable function of its input, so G's gradient flows through it; its random parameters come
from the run's own augmentation stream (`Augment.gen`), checkpointed with the probability p, so a
resumed run is the uninterrupted one bit for bit.

An op is `op(x, gen, p) -> x'`: x is N×C×H×W in [-1, 1] (the data's range is mapped there and
back), `gen` the stream to draw from (a number of draws that depends only on x's shape), `p` a
0-d tensor: each sample is transformed with probability p. `gankit.register_augmentation` adds one.

In a D step the i-th real and the i-th fake image get the same draws (one shift, one cutout, one
colour change for the pair), so the two batches see exactly the same distribution of transforms.

ADA (`train.ada_target`, e.g. 0.6): p starts at 0 and every `ADA_INTERVAL` D steps moves by
sign(r_t − target) · (images in those steps) / `train.ada_images`, where r_t = E[sign(D(x_real))]
over those steps: D too sure of the real images (overfitting) raises p, otherwise it falls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError, did_you_mean
from gankit.registry import AUGMENTATIONS, register_augmentation
from gankit.train import distributed

#: D steps between two updates of ADA's p (StyleGAN2-ADA's interval).
ADA_INTERVAL = 4
TRANSLATE_RATIO = 1 / 8  # DiffAugment: shifts of up to 1/8 of the image side, zero padded
CUTOUT_RATIO = 1 / 2  # DiffAugment: a square of half the image side set to zero

#: op(x in [-1, 1], generator, p) -> augmented x
AugmentOp = Callable[[Tensor, torch.Generator, Tensor], Tensor]


def chosen(n: int, gen: torch.Generator, p: Tensor, device: torch.device) -> Tensor:
    """(n,) floats: 1 for the samples an op transforms (each with probability p), else 0."""
    return (torch.rand(n, generator=gen, device=device) < p).float()


def uniform(n: int, gen: torch.Generator, device: torch.device, low: float, high: float
            ) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=gen, device=device)


@register_augmentation("translation")
def translation(x: Tensor, gen: torch.Generator, p: Tensor) -> Tensor:
    """Each image shifted by whole pixels, up to 1/8 of its side each way; zeros fill the gap."""
    n, _, h, w = x.shape
    dev = x.device
    sy, sx = (int(h * TRANSLATE_RATIO + 0.5), int(w * TRANSLATE_RATIO + 0.5))
    on = chosen(n, gen, p, dev).long()
    dy = torch.randint(-sy, sy + 1, (n,), generator=gen, device=dev) * on
    dx = torch.randint(-sx, sx + 1, (n,), generator=gen, device=dev) * on
    padded = F.pad(x, (1, 1, 1, 1))  # one ring of zeros; indices past the edge land on it
    ys = (torch.arange(h, device=dev).view(1, h, 1) + dy.view(n, 1, 1) + 1).clamp(0, h + 1)
    xs = (torch.arange(w, device=dev).view(1, 1, w) + dx.view(n, 1, 1) + 1).clamp(0, w + 1)
    rows = torch.arange(n, device=dev).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[rows, ys, xs].permute(0, 3, 1, 2).contiguous()


@register_augmentation("cutout")
def cutout(x: Tensor, gen: torch.Generator, p: Tensor) -> Tensor:
    """A square of half the image's side, centred anywhere in it (clipped at the edges), zeroed."""
    n, _, h, w = x.shape
    dev = x.device
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    on = chosen(n, gen, p, dev)
    cy = torch.randint(0, h, (n, 1, 1), generator=gen, device=dev) - ch // 2
    cx = torch.randint(0, w, (n, 1, 1), generator=gen, device=dev) - cw // 2
    ys = torch.arange(h, device=dev).view(1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, w)
    hole = (ys >= cy) & (ys < cy + ch) & (xs >= cx) & (xs < cx + cw)  # (n, h, w)
    keep = 1 - hole.float() * on.view(n, 1, 1)
    return x * keep.unsqueeze(1)


@register_augmentation("color")
def color(x: Tensor, gen: torch.Generator, p: Tensor) -> Tensor:
    """DiffAugment's colour: brightness + U(−0.5, 0.5); saturation × U(0, 2) around the pixel's
    channel mean (a no-op on grayscale); contrast × U(0.5, 1.5) around the image's mean. Each of
    the three is applied to a sample with probability p."""
    n, dev = len(x), x.device
    shape = (n, 1, 1, 1)
    on = [chosen(n, gen, p, dev).view(shape) for _ in range(3)]
    bright = uniform(n, gen, dev, -0.5, 0.5).view(shape)
    sat = uniform(n, gen, dev, 0.0, 2.0).view(shape)
    con = uniform(n, gen, dev, 0.5, 1.5).view(shape)
    x = x + bright * on[0]
    mean = x.mean(dim=1, keepdim=True)
    x = x + on[1] * ((x - mean) * sat + mean - x)  # exactly x where not chosen
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return x + on[2] * ((x - mean) * con + mean - x)


def parse_ops(text: str) -> tuple[str, ...]:
    """'translation, cutout,color' -> the op names, each registered; a one-line ConfigError for
    an unknown or repeated one (with the nearest registered name)."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    known = list(AUGMENTATIONS)
    for name in names:
        if not AUGMENTATIONS.knows(name):
            raise ConfigError(f"train.augment: unknown augmentation '{name}'"
                              f"{did_you_mean(name, known)}; known: "
                              f"{', '.join(known)}, comma-separated, e.g. "
                              "train.augment=\"translation,cutout,color\"")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"train.augment names '{repeated[0]}' twice; name each op once")
    return names


class Augment:
    """The augmentation of one run: its ops in order, the probability p of each, its own random
    stream, and (with a target) ADA's running estimate of r_t."""

    def __init__(self, ops: tuple[str, ...], device: torch.device, seed: int,
                 pixel_range: str = "signed", target: float = 0.0,
                 images: int = 100_000, world_size: int = 1) -> None:
        self.names = ops
        self.ops: list[AugmentOp] = [AUGMENTATIONS[name] for name in ops]
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.signed = pixel_range == "signed"
        self.target, self.images = target, images
        self.world_size = world_size  # torchrun: images of all ranks count towards p's moves
        self.p = torch.tensor(0.0 if target else 1.0, device=device)
        self.sign_sum = torch.zeros((), device=device)  # Σ of the steps' mean real-logit signs
        self.steps = 0  # D steps since p last moved
        self.seen = 0  # real images in those steps

    @property
    def adaptive(self) -> bool:
        return bool(self.target)

    @property
    def stat_names(self) -> tuple[str, ...]:
        """What the training log shows of it: p and r_t (mean over each logging interval)."""
        return ("augment_p", "d_real_sign") if self.adaptive else ()

    def __call__(self, x: Tensor) -> Tensor:
        """One batch through every op (in the data's range)."""
        y = x if self.signed else x * 2 - 1
        for op in self.ops:
            y = op(y, self.gen, self.p)
        return y if self.signed else (y + 1) / 2

    def pair(self, real: Tensor | None, fake: Tensor) -> tuple[Tensor | None, Tensor]:
        """Real and fake batches with the same draws: sample i of each gets the same transform
        (batches of equal size; a None real batch is left None)."""
        if real is None:
            return None, self(fake)
        before = self.gen.get_state()
        real = self(real)
        self.gen.set_state(before)
        return real, self(fake)

    def stats(self, real_out: Tensor) -> dict[str, Tensor]:
        if not self.adaptive:
            return {}
        return {"augment_p": self.p.detach().clone(),
                "d_real_sign": torch.sign(real_out.detach().float()).mean()}

    def observe(self, stats: dict[str, Tensor], n_images: int) -> None:
        """After a real D step: ADA's update of p every ADA_INTERVAL steps (on the device: no
        host read). Under torchrun r_t and the images are those of all ranks."""
        if not self.adaptive:
            return
        self.sign_sum = self.sign_sum + stats["d_real_sign"]
        self.steps += 1
        self.seen += n_images
        if self.steps < ADA_INTERVAL:
            return
        r_t = distributed.all_mean(self.sign_sum / self.steps)
        step = torch.sign(r_t - self.target) * (self.seen * self.world_size / self.images)
        self.p = (self.p + step).clamp(0.0, 1.0)
        self.sign_sum = torch.zeros_like(self.sign_sum)
        self.steps = self.seen = 0

    def state(self) -> dict[str, Any]:
        return {"rng": self.gen.get_state(), "p": self.p.detach().cpu(),
                "sign_sum": self.sign_sum.detach().cpu(), "steps": self.steps, "seen": self.seen}

    def load_state(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["rng"])
        device = self.p.device
        self.p = state["p"].to(device)
        self.sign_sum = state["sign_sum"].to(device)
        self.steps, self.seen = int(state["steps"]), int(state["seen"])


def from_config(cfg: Any, sample_shape: tuple[int, ...], device: torch.device) -> Augment | None:
    """The run's augmentation, or None when train.augment is empty. Refuses samples that are not
    images (data passed from Python is only seen here)."""
    t = cfg.train
    ops = parse_ops(t.augment)
    if not ops:
        return None
    if len(sample_shape) != 3:
        raise ConfigError(f"train.augment = {t.augment!r} transforms images (C×H×W), but this "
                          f"run's samples have shape {tuple(sample_shape)}: leave train.augment "
                          "empty for data that are not images")
    from gankit import seeds

    return Augment(ops, device, t.seed + seeds.AUGMENT, cfg.data.pixel_range, t.ada_target,
                   t.ada_images, distributed.from_env().world_size)
