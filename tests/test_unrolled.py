"""Unrolled GAN: K = 0 is the standard update, the unrolled gradient is d f_K / d θ_G, resuming
stays exact, and unrolling works with conv nets without touching D."""

import pytest
import torch
from torch import nn
from torch.func import functional_call

from gankit import run
from gankit.config import load_preset
from gankit.losses import OBJECTIVES, discriminator_loss, generator_nonsaturating
from gankit.nets.dcgan import DCGANDiscriminator
from gankit.tasks import build_task
from gankit.train.loop import Trainer
from gankit.train.optim import FunctionalOptimizer
from gankit.train.unrolled import unrolled_g_loss, unrolled_parameters


def trainer(tiny_overrides, *extra):
    cfg = load_preset("toy-grid").with_overrides([*tiny_overrides, "train.steps=8", *extra])
    return Trainer(cfg, build_task(cfg))


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values()))


def test_k0_is_bitwise_the_standard_update(tiny_overrides, monkeypatch):
    standard = trainer(tiny_overrides)
    standard.fit(8)
    explicit = trainer(tiny_overrides, "train.unroll=0")
    explicit.fit(8)
    assert same_weights(standard.G, explicit.G) and same_weights(standard.D, explicit.D)
    unrolled = trainer(tiny_overrides, "train.unroll=1")
    unrolled.fit(8)
    assert not same_weights(standard.G, unrolled.G)  # K = 1 does change the update

    # the functional path itself with K = 0 steps gives the very same generator update
    import gankit.train.loop as loop

    functional = trainer(tiny_overrides)

    def zero_step_unroll(tr, fake):  # the real-data term has no path to G when K = 0
        return unrolled_g_loss(tr, fake, steps=0)

    monkeypatch.setattr(loop, "unrolled_g_loss", zero_step_unroll)
    functional.cfg = functional.cfg.with_overrides({"train.unroll": 1})  # take the unroll branch
    functional.fit(8)
    assert same_weights(standard.G, functional.G) and same_weights(standard.D, functional.D)


def test_unrolled_steps_leave_d_and_its_optimizer_untouched(tiny_overrides):
    tr = trainer(tiny_overrides, "train.unroll=3", "model.d_batchnorm=true")
    tr.fit(4)
    before = {k: v.clone() for k, v in tr.D.state_dict().items()}
    opt_before = {k: v.clone() for k, v in tr.opt_d.state[next(tr.D.parameters())].items()}
    tr.g_step()
    assert all(torch.equal(before[k], v) for k, v in tr.D.state_dict().items())
    opt_after = tr.opt_d.state[next(tr.D.parameters())]
    assert all(torch.equal(opt_before[k], opt_after[k]) for k in opt_before)


@pytest.mark.parametrize("kind", ["adam", "rmsprop"])
def test_functional_step_is_the_torch_optimizer_step(kind):
    torch.manual_seed(0)
    net = nn.Linear(3, 2).double()
    opt = (torch.optim.Adam(net.parameters(), lr=0.01, betas=(0.5, 0.9)) if kind == "adam"
           else torch.optim.RMSprop(net.parameters(), lr=0.01))
    x = torch.randn(5, 3, dtype=torch.float64)
    for _ in range(3):  # warm moments
        opt.zero_grad()
        net(x).square().sum().backward()
        opt.step()
    fopt = FunctionalOptimizer.mirror(opt, net)
    params = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt.zero_grad()
    net(x).square().sum().backward()
    grads = {n: p.grad.clone() for n, p in net.named_parameters()}
    opt.step()
    new = fopt.step(params, grads)
    for n, p in net.named_parameters():
        assert torch.allclose(new[n], p, rtol=1e-12, atol=1e-14), n


def tiny_problem(K, first_order=False):
    """A 2-D GAN in double precision small enough for finite differences."""
    torch.manual_seed(1)
    G = nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 2)).double()
    D = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Flatten(0)).double()
    opt = torch.optim.Adam(D.parameters(), lr=0.05, betas=(0.5, 0.999))
    z, real = torch.randn(6, 1, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    for _ in range(4):  # a D optimizer that has taken some steps: non-zero moments
        opt.zero_grad()
        discriminator_loss(D(real), D(G(z).detach())).backward()
        opt.step()

    def f_K(g_params):
        fake = functional_call(G, g_params, (z,))
        weights = unrolled_parameters(D, real, fake, OBJECTIVES["nonsaturating"], K,
                                      FunctionalOptimizer.mirror(opt, D), first_order)
        return generator_nonsaturating(functional_call(D, weights, (fake,)))

    theta = {n: p.detach().clone() for n, p in G.named_parameters()}
    return f_K, theta


def gradient(f, theta):
    leaves = {n: t.clone().requires_grad_(True) for n, t in theta.items()}
    f(leaves).backward()
    return torch.cat([leaves[n].grad.flatten() for n in theta])


def finite_difference(f, theta, h=1e-6):
    out = []
    for n, t in theta.items():
        for i in range(t.numel()):
            plus = {k: v.clone() for k, v in theta.items()}
            minus = {k: v.clone() for k, v in theta.items()}
            plus[n].view(-1)[i] += h
            minus[n].view(-1)[i] -= h
            out.append((f(plus) - f(minus)).item() / (2 * h))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("K", [1, 3])
def test_unrolled_gradient_matches_finite_differences(K):
    f_K, theta = tiny_problem(K)
    analytic, numeric = gradient(f_K, theta), finite_difference(f_K, theta)
    assert torch.allclose(analytic, numeric, rtol=1e-6, atol=1e-9), (analytic - numeric).abs().max()
    # ... and it is not the K = 0 gradient, nor the first-order one: the unrolling matters
    f_0, _ = tiny_problem(0)
    f_first, _ = tiny_problem(K, first_order=True)
    for other in (gradient(f_0, theta), gradient(f_first, theta)):
        assert (analytic - other).abs().max() > 1e3 * (analytic - numeric).abs().max()


def test_unrolling_a_conv_discriminator_with_batchnorm():
    torch.manual_seed(0)
    D = DCGANDiscriminator(channels=1, resolution=28, width=4)
    opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.randn(4, 1, 28, 28)
    fake_source = torch.randn(4, 1, 28, 28, requires_grad=True)  # stands in for G's output
    buffers = {k: v.clone() for k, v in D.named_buffers()}
    weights = unrolled_parameters(D, real, fake_source * 1.0, OBJECTIVES["nonsaturating"], 2,
                                  FunctionalOptimizer.mirror(opt, D))
    loss = generator_nonsaturating(functional_call(D, weights, (fake_source,)))
    loss.backward()
    assert fake_source.grad is not None and torch.isfinite(fake_source.grad).all()
    assert all(torch.equal(buffers[k], v) for k, v in D.named_buffers())  # stats untouched
    assert not torch.equal(weights["net.3.running_mean"], buffers["net.3.running_mean"])


@pytest.mark.parametrize("extra", [
    ("train.unroll=2",),
    ("train.unroll=2", "train.unroll_first_order=true", "train.pack=2",
     "train.loss=wasserstein", "train.gp_lambda=1", "train.clip=0.5"),
])
def test_resume_with_unrolling_is_bit_exact(tmp_path, tiny_overrides, extra):
    cfg = load_preset("toy-grid").with_overrides([*tiny_overrides, "train.steps=40", *extra])
    full = run.start(cfg, tmp_path / "full")
    run.train_run(full)
    half = run.start(cfg.with_overrides({"train.steps": 20}), tmp_path / "half")
    run.train_run(half)
    resumed = run.open_trainer(tmp_path / "half", steps=40)
    run.train_run(resumed)
    assert same_weights(full.G, resumed.G) and same_weights(full.D, resumed.D)
    assert (tmp_path / "full/metrics.jsonl").read_text() == \
        (tmp_path / "half/metrics.jsonl").read_text()
