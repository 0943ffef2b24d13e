"""Exponential moving average of the generator's weights, with BatchNorm statistics of its own.

Averaging G's weights over the last ~1/(1 − decay) steps smooths the oscillation of simultaneous
gradient play around an equilibrium (Yazıcı et al. 2019), at no cost to training: the average is
only used for sampling. BatchNorm running statistics are not weights, though. Copying G's would
pair the averaged weights with the statistics of other weights — visible as washed-out or
saturated samples — so the statistics of the average are re-estimated from its own activations
(`recalibrate_batchnorm`) before it samples.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from gankit.nets.spectral import power_iteration_

_BN = nn.modules.batchnorm._BatchNorm


def decay_at(decay: float, step: int, warmup: bool) -> float:
    """The decay of the update after generator step `step` (from 0): `decay`, or with `warmup`
    min(decay, (1 + step) / (10 + step)), the num_updates rule of TensorFlow's
    ExponentialMovingAverage. Without it the average of a 0.999 run still holds 74 % of G's
    initial weights after 300 steps; with it, the average spans about the last step/9 steps
    until that reaches 1/(1 − decay): it follows G in short runs and is `decay` in long ones."""
    return min(decay, (1 + step) / (10 + step)) if warmup else decay


@torch.no_grad()
def update(average: nn.Module, model: nn.Module, decay: float) -> None:
    """average ← decay · average + (1 − decay) · model, parameters only; then one power-iteration
    step of the average's spectral normalisation (model.spectral_norm), which follows its own
    weights as training follows G's."""
    for a, p in zip(average.parameters(), model.parameters()):
        a.lerp_(p, 1 - decay)
    power_iteration_(average)


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, _BN) for m in module.modules())


@torch.no_grad()
def recalibrate_batchnorm(module: nn.Module, inputs: Iterable[Tensor]) -> None:
    """Replace every BatchNorm's running mean and variance by their plain average over the
    forward passes of `inputs` (each a batch), with everything else (dropout) in inference mode.
    The module's training flag is left as it was."""
    layers = [m for m in module.modules() if isinstance(m, _BN)]
    if not layers:
        return
    was_training = module.training
    momenta = [m.momentum for m in layers]
    module.eval()
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
        m.train()
    try:
        for x in inputs:  # a batch, or a tuple of a conditional G's inputs (z, y)
            module(*x) if isinstance(x, tuple) else module(x)
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        module.train(was_training)
