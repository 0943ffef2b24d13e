"""train.ema_warmup: G's weight average starts short (decay (1 + t) / (10 + t) at G step t) and
grows to train.ema, so it follows G in short runs; exact on resume."""

from __future__ import annotations

import pytest
import torch

from gankit import run
from gankit.config import load_preset
from gankit.errors import ConfigError
from gankit.train.ema import decay_at

TOY = ["train.steps=30", "train.log_every=10", "train.ckpt_every=10", "train.frame_every=30",
       "model.g_width=16", "model.d_width=16", "data.n_train=256", "train.batch_size=32",
       "eval.n_samples=64", "eval.metrics=[]", "train.threads=1", "train.ema=0.999"]


def test_decay_grows_to_the_configured_one():
    assert decay_at(0.999, 0, True) == pytest.approx(0.1)
    assert decay_at(0.999, 90, True) == pytest.approx(0.91)
    assert decay_at(0.999, 10**6, True) == 0.999
    assert decay_at(0.999, 0, False) == 0.999


def distance(a, b) -> float:
    return sum(float((p - q).detach().square().sum()) for p, q in zip(a.parameters(),
                                                                     b.parameters()))


def test_the_warmed_up_average_follows_g_in_a_short_run():
    """After 30 steps at decay 0.999, the plain average is still ~97 % G's initial weights; the
    warmed-up one is near G's current weights."""
    ends = {}
    for warmup in (False, True):
        base = load_preset("toy-grid").with_overrides(TOY)
        cfg = base.with_overrides({"train.ema_warmup": warmup})
        trainer = run.start(cfg, None)
        start = {k: v.clone() for k, v in trainer.G.state_dict().items()}
        trainer.fit(30)
        init = run.start(cfg, None).G  # a G of the same shape, holding the start weights
        init.load_state_dict(start)
        ends[warmup] = (distance(trainer.G_ema, trainer.G), distance(trainer.G_ema, init))
    to_g, to_init = ends[True]
    assert to_g < to_init / 5
    plain_to_g, plain_to_init = ends[False]
    assert plain_to_init < plain_to_g / 5


def test_resume_is_bit_exact_with_warmup(train_twice):
    cfg = load_preset("toy-grid").with_overrides([*TOY, "train.ema_warmup=true"])
    full, resumed = train_twice(cfg, 10)
    sa, sb = full.G_ema.state_dict(), resumed.G_ema.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_warmup_without_an_average_is_one_line():
    with pytest.raises(ConfigError, match="train.ema_warmup = true warms up G's weight average, "
                                          "but train.ema = 0 turns it off") as e:
        load_preset("toy-grid").with_overrides(["train.ema_warmup=true", "train.ema=0"])
    assert "\n" not in str(e.value)
