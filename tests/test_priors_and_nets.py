import pytest
import torch

from gankit.config import Config
from gankit.nets import build_discriminator, build_generator
from gankit.nets.mlp import Maxout
from gankit.priors import sample_prior


def test_normal_prior_moments():
    z = sample_prior("normal", 200_000, 3, torch.Generator().manual_seed(0))
    assert z.shape == (200_000, 3)
    assert z.mean().abs() < 0.01 and (z.std() - 1).abs() < 0.01


def test_uniform_prior_is_on_the_cube():
    z = sample_prior("uniform", 100_000, 4, torch.Generator().manual_seed(0))
    assert z.min() >= -1 and z.max() <= 1
    assert (z.var() - 1 / 3).abs() < 0.01  # variance of U[-1, 1]


def test_unknown_prior():
    with pytest.raises(ValueError, match="unknown prior"):
        sample_prior("cauchy", 2, 2)


def test_maxout_takes_the_max_of_its_pieces():
    m = Maxout(3, 2, pieces=4)
    x = torch.randn(5, 3)
    pieces = m.linear(x).view(5, 2, 4)
    assert torch.equal(m(x), pieces.max(-1).values)


@pytest.mark.parametrize("d_arch", ["mlp", "maxout"])
@pytest.mark.parametrize("bn", [False, True])
def test_builders_shapes(d_arch, bn):
    cfg = Config().with_overrides({"model.d_arch": d_arch, "model.g_batchnorm": bn,
                                   "model.d_batchnorm": bn, "prior.dim": 5})
    G, D = build_generator(cfg, (2,)), build_discriminator(cfg, (2,))
    x = G(torch.randn(7, 5))
    assert x.shape == (7, 2)
    assert D(x).shape == (7,)  # one logit per sample
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in G.modules()) == (3 if bn else 0)
