"""Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial
Networks"): every convolution and linear layer's weight divided by an estimate of its largest
singular value, so each layer is (about) 1-Lipschitz and D cannot sharpen without bound.

`model.spectral_norm` = "d", "g", "both" or "none" says which nets gankit builds get it; the layers
use torch's own parametrization (torch.nn.utils.parametrizations.spectral_norm). Its power
iteration keeps two vectors u, v per layer as buffers: they are in the module's state_dict, so a
checkpoint holds them and a resumed run continues the iteration exactly where it stopped. One
iteration runs in every forward pass in training mode, none in eval mode (sampling changes
nothing).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

#: model.spectral_norm: which nets are normalised.
CHOICES = ("none", "d", "g", "both")
#: The layers whose weight is normalised (BatchNorm's scale is not a linear map's weight).
LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
          nn.ConvTranspose3d, nn.Linear)


def applies(setting: str, role: str) -> bool:
    """Whether `model.spectral_norm = setting` normalises the net of `role` (generator or
    discriminator)."""
    return setting == "both" or setting == role[0]


def spectral_normalise(net: nn.Module) -> nn.Module:
    """`net` with every conv / linear weight spectrally normalised (in place; a layer that already
    has a weight parametrization is left alone). Transposed convolutions are normalised over
    their output channels, as torch's spectral_norm chooses for them."""
    for layer in list(net.modules()):
        if isinstance(layer, LAYERS) and not parametrize.is_parametrized(layer, "weight"):
            spectral_norm(layer)
    return net


def normalised_layers(net: nn.Module) -> list[nn.Module]:
    """The layers of `net` whose weight is spectrally normalised."""
    return [m for m in net.modules()
            if parametrize.is_parametrized(m, "weight") and any(
                type(p).__name__ == "_SpectralNorm" for p in m.parametrizations.weight)]


@torch.no_grad()
def power_iteration_(net: nn.Module) -> None:
    """One power-iteration step of every normalised layer of `net`, whatever its mode.

    For G's weight average (train.ema): it is never trained, so its u, v would stay those of the
    weights it was copied from; one step after each average update follows the averaged weights
    (as training follows G's), deterministically, and the state is in its state_dict."""
    for layer in normalised_layers(net):
        params = layer.parametrizations.weight
        was_training = params.training
        params.train()
        try:
            layer.weight  # noqa: B018 -- computing it in training mode runs one iteration
        finally:
            params.train(was_training)
