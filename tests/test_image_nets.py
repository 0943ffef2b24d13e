"""Shapes of the image nets at every resolution, DCGAN's guidelines, seed 003 layer for layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import load_preset
from gankit.nets import build_discriminator, build_generator
from gankit.nets.dcgan import (
    DCGANDiscriminator,
    DCGANGenerator,
    PacGANDCGANDiscriminator,
    PacGANDCGANGenerator,
)
from gankit.nets.keras_mnist import KerasMnistDiscriminator, KerasMnistGenerator


@pytest.mark.parametrize("resolution", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("width", [8, 16])
def test_dcgan_shapes(resolution, channels, width):
    G = DCGANGenerator(20, channels, resolution, width)
    D = DCGANDiscriminator(channels, resolution, width)
    x = G(torch.randn(5, 20)).detach()
    assert x.shape == (5, channels, resolution, resolution)
    assert float(x.abs().max()) <= 1.0
    assert D(x).shape == (5,)


def test_dcgan_follows_the_guidelines():
    G, D = DCGANGenerator(100, 1, 64, 16), DCGANDiscriminator(1, 64, 16)
    g_layers, d_layers = list(G.net), list(D.net)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    assert d_layers[1].negative_slope == 0.2
    assert isinstance(d_layers[-1], nn.Conv2d)  # a logit: no sigmoid inside D
    for net in (G, D):
        assert not any(isinstance(m, nn.Linear | nn.MaxPool2d) for m in net.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 3
    w = torch.cat([m.weight.detach().flatten() for m in D.modules() if isinstance(m, nn.Conv2d)])
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002


def test_dcgan_sigmoid_output():
    G = DCGANGenerator(10, 1, 28, 8, output="sigmoid")
    x = G(torch.randn(4, 10)).detach()
    assert float(x.min()) >= 0 and float(x.max()) <= 1


def test_seed003_intermediate_shapes():
    G = KerasMnistGenerator()
    shapes = [tuple(t.shape[1:]) for t in G.stages(torch.rand(3, 100) * 2 - 1)]
    # channels-first of 7×7×200 -> 14×14×100 -> 28×28×50 -> 28×28×25 -> 28×28×1
    assert shapes == [(200, 7, 7), (100, 14, 14), (50, 28, 28), (25, 28, 28), (1, 28, 28)]
    D = KerasMnistDiscriminator()
    assert D(G(torch.rand(3, 100))).shape == (3,)


def _keras_count(module: nn.Module) -> int:
    """Parameters as Keras counts them: BatchNorm moving mean/variance included."""
    return (sum(p.numel() for p in module.parameters())
            + sum(b.numel() for n, b in module.named_buffers() if "running" in n))


def test_seed003_parameter_counts_match_the_keras_summary():
    # seed 003's summary: generator 1,586,351; discriminator 9,707,266 with Dense(2) softmax,
    # i.e. 257 more than our single logit (one extra 256-weight unit and its bias).
    assert _keras_count(KerasMnistGenerator()) == 1_586_351
    assert _keras_count(KerasMnistDiscriminator()) == 9_707_266 - 257


def test_seed003_keras_details():
    G = KerasMnistGenerator()
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    assert len(bns) == 4 and all(b.momentum == 0.1 and b.eps == 1e-3 for b in bns)
    drops = [m for m in G.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 4 and all(d.p == 0.3 for d in drops)
    assert isinstance(list(G.out)[-1], nn.Sigmoid)
    D = KerasMnistDiscriminator()
    assert isinstance(list(D.net)[-1], nn.Linear) and list(D.net)[-1].out_features == 1
    assert all(float(m.bias.abs().max()) == 0 for m in D.modules() if isinstance(m, nn.Linear))


@pytest.mark.parametrize("preset", ["seed003-mnist", "seed003-fashion", "fashion-dcgan",
                                    "mnist-dcgan", "folder-dcgan", "digits-tiny",
                                    "stacked-mnist-pacgan"])
def test_builders_for_every_image_preset(preset):
    cfg = load_preset(preset)
    if preset == "folder-dcgan":
        cfg = cfg.with_overrides({"model.g_width": 8, "model.d_width": 8})
    d = cfg.data
    shape = (d.channels * d.stack, d.resolution, d.resolution)
    G, D = build_generator(cfg, shape), build_discriminator(cfg, shape)
    x = G(torch.randn(2, cfg.prior.dim)).detach()
    assert x.shape == (2, *shape)
    lo = 0.0 if d.pixel_range == "unit" else -1.0
    assert float(x.min()) >= lo and float(x.max()) <= 1.0
    assert D(x).shape == (2,)


def test_pacgan_dcgan_layers_as_in_pacgan_stacked_mnist_code():
    """28×28×3: z -> linear -> 2×2×512 -> 4×4×256 -> 7×7×128 -> 14×14×64 -> 28×28×3 with 5×5
    transposed convolutions; D mirrors it (14, 7, 4, 2) and ends in a linear layer."""
    G, D = PacGANDCGANGenerator(100, 3, 28), PacGANDCGANDiscriminator(3, 28)
    sides = []
    for m in G.net:
        if isinstance(m, nn.ConvTranspose2d):
            m.register_forward_hook(lambda mod, i, o: sides.append((o.shape[1], o.shape[-1])))
            assert m.kernel_size == (5, 5) and m.stride == (2, 2)
    x = G(torch.rand(4, 100) * 2 - 1)
    assert G.start == (512, 2, 2) and G.project.out_features == 512 * 4
    assert sides == [(256, 4), (128, 7), (64, 14), (3, 28)]
    assert x.shape == (4, 3, 28, 28) and float(x.abs().max()) <= 1.0
    convs = [m for m in D.net if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512]
    assert all(c.kernel_size == (5, 5) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.net) == 3  # none after the first conv
    assert isinstance(D.net[-1], nn.Linear) and D.net[-1].in_features == 512 * 2 * 2
    assert D(x).shape == (4,)
    n_g = sum(p.numel() for p in G.parameters())
    n_d = sum(p.numel() for p in D.parameters())
    assert 4.4e6 < n_g < 4.6e6 and 4.2e6 < n_d < 4.4e6


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_pacgan_dcgan_other_resolutions(resolution):
    G, D = PacGANDCGANGenerator(8, 1, resolution, 8), PacGANDCGANDiscriminator(2, resolution, 8)
    x = G(torch.randn(4, 8))
    assert x.shape == (4, 1, resolution, resolution)
    assert D(torch.cat([x, x], 1)).shape == (4,)  # a packed D: twice the channels
