"""The relativistic losses: RpGAN (pairs) and the relativistic average loss, at hand-computed
logits, their symmetries, and how a run uses them (G's loss sees D on real data)."""

from __future__ import annotations

import math

import pytest
import torch

from gankit import run
from gankit.config import load_preset
from gankit.errors import ConfigError
from gankit.losses import OBJECTIVES
from gankit.registry import LOSSES


def sp(a: float) -> float:
    """softplus, by hand: log(1 + e^a)."""
    return math.log1p(math.exp(a))


REAL = torch.tensor([1.0, 2.0, -0.5])
FAKE = torch.tensor([0.0, 3.0, 0.25])


def test_rpgan_at_known_logits():
    rp = OBJECTIVES["rpgan"]
    d = sum(sp(-(r - f)) for r, f in zip(REAL.tolist(), FAKE.tolist())) / 3
    g = sum(sp(-(f - r)) for r, f in zip(REAL.tolist(), FAKE.tolist())) / 3
    assert rp.d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert rp.g_loss(REAL, FAKE).item() == pytest.approx(g, rel=1e-6)


def test_ragan_at_known_logits():
    ra = OBJECTIVES["ragan"]
    mr, mf = REAL.mean().item(), FAKE.mean().item()
    d = (sum(sp(-(r - mf)) for r in REAL.tolist()) / 3
         + sum(sp(f - mr) for f in FAKE.tolist()) / 3)
    g = (sum(sp(-(f - mr)) for f in FAKE.tolist()) / 3
         + sum(sp(r - mf) for r in REAL.tolist()) / 3)
    assert ra.d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert ra.g_loss(REAL, FAKE).item() == pytest.approx(g, rel=1e-6)


@pytest.mark.parametrize(("name", "at_equal"), [("rpgan", math.log(2)), ("ragan", 2 * math.log(2))])
def test_symmetries(name, at_equal):
    loss = OBJECTIVES[name]
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(16, generator=gen), torch.randn(16, generator=gen)
    # G's loss is D's with real and fake swapped
    assert torch.allclose(loss.g_loss(real, fake), loss.d_loss(fake, real))
    # relativistic: only differences of outputs matter
    assert torch.allclose(loss.d_loss(real + 5.0, fake + 5.0), loss.d_loss(real, fake))
    assert torch.allclose(loss.g_loss(real - 3.0, fake - 3.0), loss.g_loss(real, fake))
    # D that cannot tell real from fake (one output for all): log 2 per term
    same = torch.full((16,), 0.7)
    assert loss.d_loss(same, same).item() == pytest.approx(at_equal, rel=1e-6)
    # D is rewarded for ranking real above fake
    assert loss.d_loss(real + 2.0, real) < loss.d_loss(real, real) < loss.d_loss(real, real + 2.0)


def test_rpgan_pairs_samples_and_ragan_averages_them():
    gen = torch.Generator().manual_seed(1)
    real, fake = torch.randn(32, generator=gen), torch.randn(32, generator=gen)
    shuffled = fake[torch.randperm(32, generator=gen)]
    assert not torch.allclose(OBJECTIVES["rpgan"].d_loss(real, fake),
                              OBJECTIVES["rpgan"].d_loss(real, shuffled))
    assert torch.allclose(OBJECTIVES["ragan"].d_loss(real, fake),
                          OBJECTIVES["ragan"].d_loss(real, shuffled))


def test_registered_as_relativistic_scores():
    for name in ("rpgan", "ragan"):
        assert OBJECTIVES[name].g_uses_real
        assert LOSSES.info(name)["critic"]  # D's output is a score, not a log-odds
    with pytest.raises(ConfigError, match="critic loss") as e:
        load_preset("toy-grid").with_overrides(["train.loss=rpgan",
                                                "train.pretrain_d_samples=64"])
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("name", "uses_real"),
                         [("rpgan", True), ("ragan", True), ("nonsaturating", False)])
def test_g_steps_see_d_on_real_data(name, uses_real):
    """G's step alone (same D, same latents), with other real data: G's update differs for a
    relativistic loss, and only for one."""
    cfg = load_preset("toy-grid").with_overrides(
        [f"train.loss={name}", "train.steps=1", "model.g_width=16", "model.d_width=16",
         "data.n_train=256", "train.batch_size=32", "eval.metrics=[]"])
    a, b = run.start(cfg, None), run.start(cfg, None)
    assert a.sampler.data is not b.sampler.data
    b.sampler.data.add_(0.5)
    for t in (a, b):
        t.d_batches = 1  # as after one D step, without its update
        t.g_step()
    same = all(torch.equal(p, q) for p, q in zip(a.G.parameters(), b.G.parameters()))
    assert same is not uses_real
