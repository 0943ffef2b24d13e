"""One discriminator objective: registered penalties, the weight constraint and one argument order,
shared by the real D step and the unrolled GAN's functional steps."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import gankit
from gankit.config import load_preset
from gankit.errors import ConfigError, GankitError
from gankit.losses import OBJECTIVES, gradient_penalty
from gankit.registry import PENALTIES
from gankit.tasks import build_task
from gankit.train.loop import Trainer
from gankit.train.objective import DObjective, penalty_weights

TINY = ["train.log_every=5", "train.ckpt_every=10", "train.frame_every=10",
        "train.batch_size=32", "eval.n_samples=100"]

calls: list[tuple[int, int]] = []


def mean_square_output(D, real, fake, generator):
    """A toy penalty: E D(x)² on real data (it records the batch sizes it was given)."""
    calls.append((len(real), len(fake)))
    return D(real).square().mean()


if "test-square" not in PENALTIES:
    gankit.register_penalty("test-square", mean_square_output)


def trainer(tmp_path, *extra: str) -> Trainer:
    cfg = load_preset("toy-grid").with_overrides([*TINY, *extra])
    return Trainer(cfg, build_task(cfg), tmp_path)


def test_gradient_penalty_through_penalties_is_the_gp_lambda_run(tmp_path):
    a = trainer(tmp_path / "a", "train.loss=wasserstein", "train.gp_lambda=5")
    b = trainer(tmp_path / "b", "train.loss=wasserstein", "train.penalties={gp = 5.0}")
    assert a.stat_names == b.stat_names and a.stat_names[-1] == "gp"
    for t in (a, b):
        for _ in range(3):
            t.train_step()
    for pa, pb in zip(a.D.parameters(), b.D.parameters()):
        assert torch.equal(pa, pb)


def test_a_registered_penalty_enters_the_gradient_and_the_log(tmp_path):
    calls.clear()
    run = gankit.fit(config="toy-grid", overrides=[*TINY, "train.penalties={test-square = 3.0}",
                                                   "train.k=2"],
                     steps=5, evaluate=False, out=tmp_path / "r")
    assert calls and all(n == 32 for n, _ in calls) and len(calls) == 10  # k = 2 per step
    record = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[0])
    assert record["test-square"] > 0 and run.trainer.stat_names[-1] == "test-square"


def test_the_penalty_changes_the_d_update(tmp_path):
    plain = trainer(tmp_path / "a")
    penal = trainer(tmp_path / "b", "train.penalties={test-square = 100.0}")
    plain.train_step()
    penal.train_step()
    assert any(not torch.equal(p, q) for p, q in zip(plain.D.parameters(), penal.D.parameters()))


def test_the_unrolled_steps_use_the_same_penalties(tmp_path):
    calls.clear()
    t = trainer(tmp_path, "train.unroll=3", "train.penalties={test-square = 1.0}", "train.k=1")
    t.train_step()
    assert len(calls) == 1 + 3  # the real D step, then three functional steps


def test_clipping_is_the_constraint_after_every_update():
    d_obj = DObjective(clip=0.01)
    D = nn.Linear(3, 1)
    d_obj.constrain_(D)
    assert all(p.abs().max() <= 0.01 for p in D.parameters())
    w = {"a": torch.tensor([2.0, -3.0])}
    assert torch.equal(d_obj.constrain(w)["a"], torch.tensor([0.01, -0.01]))
    assert DObjective().constrain(w)["a"] is w["a"]  # no constraint: the same tensors


def test_penalty_weights_name_gp_lambda_as_gp():
    t = load_preset("toy-grid").with_overrides(["train.gp_lambda=2"]).train
    assert penalty_weights(t) == {"gp": 2.0}
    assert DObjective.from_config(t).penalties[0][2] is gradient_penalty


@pytest.mark.parametrize("override, message", [
    ("train.penalties={gq = 1.0}", "unknown penalty 'gq'.*did you mean 'gp'"),
    ("train.penalties={gp = -1.0}", r"train.penalties.gp = -1.0 is out of range"),
    ("train.penalties=3", "expects a table of name = value"),
])
def test_bad_penalties_are_refused_in_one_line(override, message):
    with pytest.raises(ConfigError, match=message):
        load_preset("toy-grid").with_overrides([override])


def test_gp_set_twice_is_refused():
    with pytest.raises(ConfigError, match="set twice"):
        load_preset("toy-grid").with_overrides(["train.gp_lambda=1", "train.penalties={gp=1.0}"])


def test_a_penalty_may_not_take_a_log_name():
    with pytest.raises(GankitError, match="already uses that name"):
        gankit.register_penalty("d_loss", mean_square_output)


def test_every_loss_takes_real_then_fake():
    for name in OBJECTIVES:
        if name == "python":
            continue
        obj = OBJECTIVES[name]
        real, fake = torch.randn(8), torch.randn(8)
        assert obj.d_loss(real, fake).shape == ()
        assert obj.g_loss(None if not obj.g_uses_real else real, fake).shape == ()


def test_a_one_argument_g_loss_is_refused_with_the_fix():
    with pytest.raises(GankitError, match="takes \\(real_out, fake_out\\).*fake_only"):
        gankit.Objective(lambda r, f: (r - f).mean(), lambda f: f.mean())
    ok = gankit.Objective(lambda r, f: (r - f).mean(), gankit.fake_only(lambda f: f.mean()))
    assert ok.g_loss(None, torch.ones(3)) == 1


def test_penalties_round_trip_through_toml():
    cfg = load_preset("toy-grid").with_overrides(["train.penalties={test-square = 0.5}"])
    again = type(cfg).from_toml(cfg.to_toml())
    assert again == cfg and again.train.penalties == {"test-square": 0.5}
    plain = load_preset("toy-grid")
    assert "penalties" not in plain.to_toml()  # the default writes nothing: old files unchanged
