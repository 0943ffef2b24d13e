"""R1 and R2 (½ E‖∇_x D(x)‖² on real / on generated samples): values where ∇_x D is known in
closed form, their gradients in D's weights against finite differences, and the lazy schedule
(train.penalty_every) in the D step and across a resume."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit import run
from gankit.config import load_preset
from gankit.errors import ConfigError
from gankit.losses import OBJECTIVES, r1_penalty, r2_penalty
from gankit.nets.pack import Packed
from gankit.registry import PENALTIES
from gankit.train.objective import DObjective

TOY = ["train.steps=12", "train.log_every=4", "train.ckpt_every=4", "train.frame_every=6",
       "model.g_width=16", "model.d_width=16", "data.n_train=256", "train.batch_size=32",
       "eval.n_samples=64", "eval.metrics=[]", "train.threads=1"]


class Quadratic(nn.Module):
    """D(x) = ½ xᵀAx + bᵀx on flattened x: ∇_x D = ½ (A + Aᵀ) x + b."""

    def __init__(self, n: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(1)
        self.A = nn.Parameter(torch.randn(n, n, generator=gen, dtype=torch.float64))
        self.b = nn.Parameter(torch.randn(n, generator=gen, dtype=torch.float64))

    def forward(self, x):
        x = x.flatten(1)
        return 0.5 * ((x @ self.A) * x).sum(1) + x @ self.b

    def input_gradient(self, x):
        return x.flatten(1) @ (0.5 * (self.A + self.A.T)).T + self.b


def batches(n=6, shape=(1, 2, 2)):
    gen = torch.Generator().manual_seed(2)
    real = torch.randn(n, *shape, generator=gen, dtype=torch.float64)
    fake = torch.randn(n, *shape, generator=gen, dtype=torch.float64)
    return real, fake


@pytest.mark.parametrize(("penalty", "on"), [(r1_penalty, "real"), (r2_penalty, "fake")])
def test_value_on_a_quadratic_d_is_the_hand_computation(penalty, on):
    D = Quadratic(4)
    real, fake = batches()
    x = real if on == "real" else fake
    expected = 0.5 * D.input_gradient(x).square().sum(1).mean()
    assert torch.allclose(penalty(D, real, fake), expected, rtol=1e-12)


def test_a_linear_d_has_the_penalty_half_its_squared_weight_norm_on_any_input():
    lin = nn.Linear(8, 1).double()
    D = lambda x: lin(x.flatten(1)).squeeze(1)  # noqa: E731
    real, fake = batches(5, (2, 2, 2))
    expected = 0.5 * lin.weight.square().sum()
    for penalty in (r1_penalty, r2_penalty):
        assert torch.allclose(penalty(D, real, fake), expected, rtol=1e-12)


def test_a_packed_d_takes_the_norm_over_each_pack():
    """PacGAN's D sees 2 samples at once: ‖∇‖² per pack (over both), averaged over packs."""
    inner = nn.Linear(8, 1, bias=False).double()
    D = Packed(nn.Sequential(nn.Flatten(), inner, nn.Flatten(0)), 2)
    real, fake = batches(6, (2, 2))  # 3 packs of two 4-value samples
    assert torch.allclose(r1_penalty(D, real, fake), 0.5 * inner.weight.square().sum())


def finite_difference_gradient(fn, params, eps=1e-6):
    grads = []
    for p in params:
        g = torch.zeros_like(p)
        flat = p.data.view(-1)  # moved without autograd; fn() takes its own input gradients
        for i in range(p.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = fn().item()
            flat[i] = old - eps
            down = fn().item()
            flat[i] = old
            g.view(-1)[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("penalty", [r1_penalty, r2_penalty])
def test_gradient_in_d_weights_matches_finite_differences(penalty):
    """The double backward is right: d(penalty)/dθ_D by autograd = central differences, on a
    small tanh MLP (whose input gradient depends on every weight)."""
    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1),
                      nn.Flatten(0)).double()
    real, fake = batches()
    params = list(D.parameters())
    autograd = [torch.zeros_like(p) if g is None else g for p, g in zip(params, torch.autograd.grad(
        penalty(D, real, fake), params, allow_unused=True))]  # D's last bias: no input gradient
    numeric = finite_difference_gradient(lambda: penalty(D, real, fake), params)
    for a, n in zip(autograd, numeric):
        assert torch.allclose(a, n, rtol=1e-6, atol=1e-9)


def test_r2_keeps_the_fakes_graph_to_g():
    """With G's graph kept (the unrolled GAN's second-order steps), R2's gradient reaches G, and
    equals finite differences there too; R1 never depends on G."""
    torch.manual_seed(0)
    G = nn.Linear(3, 4).double()
    D = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1), nn.Flatten(0)).double()
    z = torch.randn(5, 3, dtype=torch.float64)
    real = torch.randn(5, 4, dtype=torch.float64)
    params = list(G.parameters())
    autograd = torch.autograd.grad(r2_penalty(D, real, G(z)), params)
    numeric = finite_difference_gradient(lambda: r2_penalty(D, real, G(z)), params)
    assert all(torch.allclose(a, n, rtol=1e-6, atol=1e-9) for a, n in zip(autograd, numeric))
    assert max(float(a.abs().max()) for a in autograd) > 1e-3
    r1 = r1_penalty(D, real, G(z))
    assert all(g is None for g in torch.autograd.grad(r1, params, allow_unused=True))


def test_registered_and_weighted_by_gamma():
    assert PENALTIES["r1"] is r1_penalty and PENALTIES["r2"] is r2_penalty
    D = Quadratic(4)
    real, fake = batches()
    obj = DObjective((("r1", 3.0, r1_penalty), ("r2", 0.5, r2_penalty)))
    loss, stats = obj.loss(OBJECTIVES["rpgan"], D, real, fake)
    plain = OBJECTIVES["rpgan"].d_loss(D(real), D(fake))
    gamma_terms = 3.0 * r1_penalty(D, real, fake) + 0.5 * r2_penalty(D, real, fake)
    assert torch.allclose(loss, plain + gamma_terms)
    assert set(stats) >= {"r1", "r2"}


def test_lazy_schedule_applies_every_nth_d_step_weighted_n_times():
    D = Quadratic(4)
    real, fake = batches()
    objective = OBJECTIVES["nonsaturating"]
    lazy = DObjective((("r1", 2.0, r1_penalty),), every=4)
    plain = objective.d_loss(D(real), D(fake))
    value = r1_penalty(D, real, fake)
    for step in range(9):
        loss, stats = lazy.loss(objective, D, real, fake, step=step)
        on = step % 4 == 0
        assert torch.allclose(loss, plain + (4 * 2.0 * value if on else 0))
        assert torch.allclose(stats["r1"], 4 * value if on else torch.zeros(()))
    loss, _ = lazy.loss(objective, D, real, fake)  # no step (unrolled steps): always, 1×
    assert torch.allclose(loss, plain + 2.0 * value)


def test_a_lazy_run_penalises_only_every_nth_step_and_logs_the_mean(tmp_path):
    cfg = load_preset("toy-grid").with_overrides(
        [*TOY, "train.penalties={r1 = 1.0}", "train.penalty_every=4", "train.log_every=1"])
    trainer = run.start(cfg, tmp_path / "r")
    seen = []
    trainer.fit(8, lambda t: seen.append(t.last_record["r1"]))
    assert [v > 0 for v in seen] == [True, False, False, False] * 2


def test_a_lazy_run_resumes_bit_exactly_off_the_schedules_phase(tmp_path, train_twice):
    """Interrupted after 6 D steps (6 % 4 = 2): the resumed run penalises the same steps."""
    cfg = load_preset("toy-grid").with_overrides(
        [*TOY, "train.loss=rpgan", "train.penalties={r1 = 1.0, r2 = 0.5}",
         "train.penalty_every=4", "train.ckpt_every=6", "train.log_every=2"])
    full, resumed = train_twice(cfg, 6)
    for name in ("G", "D"):
        sa, sb = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert (tmp_path / "full/metrics.jsonl").read_text() == \
        (tmp_path / "half/metrics.jsonl").read_text()


def test_config_errors_are_one_line():
    base = load_preset("toy-grid")
    for overrides, words in (
            (["train.penalty_every=0"], "train.penalty_every = 0 is out of range: must be ≥ 1"),
            (["train.penalty_every=16"], "train.penalty_every = 16 spaces out D's penalties, "
                                         "but this run has none"),
            (["train.penalties={r3 = 1.0}"], "unknown penalty 'r3'; known: gp, "),
            (["train.penalties={r1 = -1.0}"], "train.penalties.r1 = -1.0 is out of range")):
        with pytest.raises(ConfigError) as e:
            base.with_overrides(overrides)
        assert words in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"known: .*\br1, r2\b"):  # the built-in names listed
        base.with_overrides(["train.penalties={r3 = 1.0}"])
    lazy = base.with_overrides(["train.penalties={r1 = 1.0}", "train.penalty_every=16"])
    assert lazy.train.penalty_every == 16
