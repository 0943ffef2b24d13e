"""Class-conditional DCGAN and ResNet nets: G(z, y) and D(x, y) for `model.conditional`.

G: a learned class embedding concatenated to z, and conditional batch norm (de Vries et al. 2017,
"Modulating early visual processing by language"): every BatchNorm's scale and shift are looked
up per class, so the class steers every stage, not only the input.

The ResNet generator has no normalisation layers (R3GAN's design): it gets the class embedding
at its input only.

D: the DCGAN (or ResNet) body, then one of two heads on its last feature map h (C×s×s):
- "projection" (Miyato & Koyama 2018, "cGANs with Projection Discriminator"):
  logit = ψ(h) + <embed(y), Σ_spatial h>;
- "acgan" (Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs"):
  the unconditional logit, plus class logits that the trainer's cross-entropy fits (D on real
  and fake images, G on its own).

PacGAN packing (train.pack = m) happens inside D: m consecutive samples are stacked as channels
and their labels travel with them. The projection embeds a pack's labels per position
(member i of class c has its own vector), so D can check each member against its class; the
auxiliary classifier predicts every member's class.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from gankit.nets.dcgan import INIT_STD, _layout

#: model.conditional: how the nets see the class.
MODES = ("none", "projection", "acgan")
#: Width of G's class embedding, concatenated to z.
CLASS_DIM = 32


def _init(module: nn.Module) -> None:
    """The DCGAN paper's init (gankit.nets.dcgan.dcgan_init), skipping BatchNorms without an
    affine map of their own (the conditional ones carry theirs per class)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, INIT_STD)
            nn.init.zeros_(m.bias)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine map, then a per-class scale (init 1) and shift (init 0)."""

    def __init__(self, features: int, n_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(features, affine=False)
        self.gain = nn.Embedding(n_classes, features)
        self.shift = nn.Embedding(n_classes, features)
        nn.init.normal_(self.gain.weight, 1.0, INIT_STD)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.bn(x) * self.gain(y)[:, :, None, None] + self.shift(y)[:, :, None, None]


class ConditionalDCGANGenerator(nn.Module):
    """The DCGAN generator's layout (gankit.nets.dcgan) with conditional batch norm; input
    [z, embed(y)]."""

    def __init__(self, z_dim: int, channels: int, resolution: int, n_classes: int,
                 width: int = 64, output: str = "tanh") -> None:
        super().__init__()
        start, stages = _layout(resolution)
        chans = [width * 2 ** i for i in reversed(range(stages))]
        self.z_dim, self.n_classes = z_dim, n_classes
        self.embed = nn.Embedding(n_classes, CLASS_DIM)
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(z_dim + CLASS_DIM, chans[0], start, 1, 0, bias=False)]
            + [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False) for a, b in itertools.pairwise(chans)])
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(c, n_classes) for c in chans])
        self.out = nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1)
        self.act = nn.Tanh() if output == "tanh" else nn.Sigmoid()
        _init(self)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)  # on the scale of z

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        h = torch.cat([z, self.embed(y)], 1).view(z.shape[0], -1, 1, 1)
        for up, norm in zip(self.ups, self.norms):
            h = torch.relu(norm(up(h), y))
        return self.act(self.out(h))


class ConditionalDiscriminator(nn.Module):
    """A D body (`features`: packed images -> feature map h, C×s×s) with the unconditional
    logit (`unconditional(h)`) and a projection or auxiliary-classifier head; judges packs of
    `pack` samples. forward(x, y) -> logits (B/pack,); with_classes=True: (logits, class logits
    (B, n_classes) or None)."""

    def __init__(self, n_classes: int, mode: str, pack: int) -> None:
        super().__init__()
        if mode not in MODES[1:]:
            raise ValueError(f"conditional D mode must be one of {MODES[1:]}, got {mode!r}")
        self.mode, self.n_classes, self.pack = mode, n_classes, pack

    def _projection(self, features: int) -> nn.Embedding | None:
        """The projection's class embeddings (per pack position), N(0, 0.02); None for AC-GAN.
        Made after the body, so the parameters keep the order checkpoints were saved in."""
        if self.mode != "projection":
            return None
        embed = nn.Embedding(self.n_classes * self.pack, features)
        nn.init.normal_(embed.weight, 0.0, INIT_STD)
        return embed

    def features(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def unconditional(self, h: Tensor) -> Tensor:
        raise NotImplementedError

    def class_logits(self, h: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, y: Tensor, with_classes: bool = False
                ) -> Tensor | tuple[Tensor, Tensor | None]:
        b, m = x.shape[0], self.pack
        if b % m:
            raise ValueError(f"a packed D (train.pack = {m}) needs a batch divisible by {m}, got "
                             f"{b} samples")
        h = self.features(x.reshape(b // m, m * x.shape[1], *x.shape[2:]))
        out = self.unconditional(h).view(b // m)
        if self.embed is not None:  # member i of class c: embedding row c + i·K
            rows = y.view(b // m, m) + self.n_classes * torch.arange(m, device=y.device)
            out = out + (self.embed(rows).sum(1) * h.sum((2, 3))).sum(1)
        if not with_classes:
            return out
        classes = None if self.mode != "acgan" else self.class_logits(h).reshape(b, self.n_classes)
        return out, classes


class ConditionalDCGANDiscriminator(ConditionalDiscriminator):
    """The DCGAN discriminator's body and logit (gankit.nets.dcgan), conditional heads."""

    def __init__(self, channels: int, resolution: int, n_classes: int, mode: str,
                 width: int = 64, pack: int = 1) -> None:
        super().__init__(n_classes, mode, pack)
        start, stages = _layout(resolution)
        chans = [width * 2 ** i for i in range(stages)]
        layers: list[nn.Module] = [nn.Conv2d(channels * pack, chans[0], 4, 2, 1),
                                   nn.LeakyReLU(0.2, True)]
        for c_in, c_out in itertools.pairwise(chans):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.LeakyReLU(0.2, True)]
        self.body = nn.Sequential(*layers)
        self.logit = nn.Conv2d(chans[-1], 1, start, 1, 0)
        self.classify = (nn.Conv2d(chans[-1], n_classes * pack, start, 1, 0)
                         if mode == "acgan" else None)
        _init(self)
        self.embed = self._projection(chans[-1])

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def unconditional(self, h: Tensor) -> Tensor:
        return self.logit(h)

    def class_logits(self, h: Tensor) -> Tensor:
        return self.classify(h)


class ConditionalResNetGenerator(nn.Module):
    """The ResNet generator (gankit.nets.resnet) on [z, embed(y)]. It has no normalisation
    layers (R3GAN's design), so the class enters at the input only."""

    def __init__(self, z_dim: int, channels: int, resolution: int, n_classes: int,
                 width: int = 64, output: str = "tanh") -> None:
        super().__init__()
        from gankit.nets.resnet import ResNetGenerator

        self.embed = nn.Embedding(n_classes, CLASS_DIM)
        self.net = ResNetGenerator(z_dim + CLASS_DIM, channels, resolution, width, output)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([z, self.embed(y)], 1))


class ConditionalResNetDiscriminator(ConditionalDiscriminator):
    """The ResNet discriminator's blocks and logit (gankit.nets.resnet), conditional heads."""

    def __init__(self, channels: int, resolution: int, n_classes: int, mode: str,
                 width: int = 64, pack: int = 1) -> None:
        from gankit.nets.resnet import ResNetDiscriminator

        super().__init__(n_classes, mode, pack)
        self.net = ResNetDiscriminator(channels * pack, resolution, width)
        flat = self.net.logit.in_features
        self.classify = nn.Linear(flat, n_classes * pack) if mode == "acgan" else None
        self.embed = self._projection(flat // _layout(resolution)[0] ** 2)

    def features(self, x: Tensor) -> Tensor:
        from gankit.nets.resnet import SLOPE

        return nn.functional.leaky_relu(self.net.blocks(self.net.from_image(x)), SLOPE)

    def unconditional(self, h: Tensor) -> Tensor:
        return self.net.logit(h.flatten(1))

    def class_logits(self, h: Tensor) -> Tensor:
        return self.classify(h.flatten(1))


# -- builders: the architectures with a conditional version ---------------------------------------
def _dcgan_generator(cfg, sample_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    output = "tanh" if cfg.data.pixel_range == "signed" else "sigmoid"
    return ConditionalDCGANGenerator(cfg.prior.dim, sample_shape[0], sample_shape[-1], n_classes,
                                     cfg.model.g_width, output)


def _dcgan_discriminator(cfg, sample_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    return ConditionalDCGANDiscriminator(sample_shape[0], sample_shape[-1], n_classes,
                                         cfg.model.conditional, cfg.model.d_width, cfg.train.pack)


def _resnet_generator(cfg, sample_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    output = "tanh" if cfg.data.pixel_range == "signed" else "sigmoid"
    return ConditionalResNetGenerator(cfg.prior.dim, sample_shape[0], sample_shape[-1],
                                      n_classes, cfg.model.g_width, output)


def _resnet_discriminator(cfg, sample_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    return ConditionalResNetDiscriminator(sample_shape[0], sample_shape[-1], n_classes,
                                          cfg.model.conditional, cfg.model.d_width,
                                          cfg.train.pack)


#: model.g_arch / model.d_arch -> (G builder, D builder), each fn(cfg, sample_shape, n_classes);
#: G and D may mix (a DCGAN G with a ResNet D).
ARCHS = {"dcgan": (_dcgan_generator, _dcgan_discriminator),
         "resnet": (_resnet_generator, _resnet_discriminator)}


def build_conditional(cfg, sample_shape: tuple[int, ...], n_classes: int, role: str) -> nn.Module:
    """The conditional version of the configured G (role "generator") or D, for n_classes."""
    if n_classes < 2:
        from gankit.errors import DataError

        raise DataError(f"model.conditional = {cfg.model.conditional!r} needs at least two "
                        f"classes in the data, found {n_classes}")
    if role == "generator":
        return ARCHS[cfg.model.g_arch][0](cfg, tuple(sample_shape), n_classes)
    return ARCHS[cfg.model.d_arch][1](cfg, tuple(sample_shape), n_classes)
