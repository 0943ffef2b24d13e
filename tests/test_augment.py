"""Differentiable augmentation (DiffAugment) and ADA's adaptive probability: gradients flow through
every op, real and fake get the same transform, the draws follow the seed, p moves the right way,
runs resume bit for bit, and bad settings are one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gankit import run
from gankit.config import load_preset
from gankit.errors import ConfigError
from gankit.registry import AUGMENTATIONS
from gankit.train.augment import ADA_INTERVAL, Augment, from_config, parse_ops
from gankit.train.objective import DObjective

OPS = ("translation", "cutout", "color")
SMALL = {"train.steps": 6, "train.log_every": 2, "train.ckpt_every": 2, "train.frame_every": 2,
         "train.batch_size": 8, "eval.n_samples": 16, "eval.metrics": [], "train.threads": 1,
         "model.g_width": 8, "model.d_width": 8}


def images(n=6, c=3, side=16, seed=0):
    return torch.rand(n, c, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def augment(ops=OPS, seed=0, **kw):
    return Augment(tuple(ops), torch.device("cpu"), seed, **kw)


@pytest.mark.parametrize("name", OPS)
def test_gradient_flows_through_each_op_to_its_input(name):
    x = images().requires_grad_(True)
    y = AUGMENTATIONS[name](x, torch.Generator().manual_seed(1), torch.tensor(1.0))
    assert y.shape == x.shape and not torch.equal(y.detach(), x.detach())  # it did something
    weights = torch.randn(y.shape, generator=torch.Generator().manual_seed(2))
    (y * weights).sum().backward()
    assert torch.isfinite(x.grad).all()
    for i in range(len(x)):  # every image's gradient reaches its input
        assert x.grad[i].abs().sum() > 0


def test_gradient_flows_through_the_pipeline_in_either_pixel_range():
    for pixel_range in ("signed", "unit"):
        x = images().requires_grad_(True)
        _, y = augment(pixel_range=pixel_range).pair(images(seed=5), x)
        y.square().sum().backward()
        assert (x.grad.flatten(1).abs().sum(1) > 0).all()


def test_probability_zero_is_the_identity():
    x = images()
    for name in OPS:
        assert torch.equal(AUGMENTATIONS[name](x, torch.Generator().manual_seed(0),
                                               torch.tensor(0.0)), x)


def test_translation_shifts_whole_images_by_at_most_an_eighth():
    x = images(n=8, c=1, side=16) + 2  # no pixel is 0, so the zero fill shows where it is
    y = AUGMENTATIONS["translation"](x, torch.Generator().manual_seed(3), torch.tensor(1.0))
    for xi, yi in zip(x[:, 0], y[:, 0]):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(yi, shifted(xi, dy, dx))]
        assert len(matches) == 1


def shifted(img, dy, dx):
    """img moved so that out[y, x] = img[y + dy, x + dx], zeros outside."""
    h, w = img.shape
    out = torch.zeros_like(img)
    ys, xs = slice(max(0, -dy), min(h, h - dy)), slice(max(0, -dx), min(w, w - dx))
    src = img[max(0, dy):min(h, h + dy), max(0, dx):min(w, w + dx)]
    out[ys, xs] = src
    return out


def test_cutout_zeroes_one_square_of_at_most_half_the_side():
    x = images(n=8, c=2, side=16) + 2
    y = AUGMENTATIONS["cutout"](x, torch.Generator().manual_seed(4), torch.tensor(1.0))
    zero = y == 0
    assert torch.equal(zero[:, 0], zero[:, 1])  # the same hole in every channel
    assert torch.equal(y[~zero], x[~zero])
    for hole in zero[:, 0]:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 8 and 1 <= len(cols) <= 8
        assert hole[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a rectangle


def test_real_and_fake_get_the_same_transform():
    x = images()
    real, fake = augment().pair(x, x.clone())
    assert torch.equal(real, fake)
    a, b = images(seed=1), images(seed=2)
    real, fake = augment(seed=9).pair(a, b)
    alone = augment(seed=9)
    assert torch.equal(real, alone(a))
    alone = augment(seed=9)
    assert torch.equal(fake, alone(b))


def test_draws_follow_the_seed():
    x = images()
    assert torch.equal(augment(seed=3)(x), augment(seed=3)(x))
    assert not torch.equal(augment(seed=3)(x), augment(seed=4)(x))
    aug = augment(seed=3)
    assert not torch.equal(aug(x), aug(x))  # fresh draws at every call


def test_d_loss_and_penalties_see_the_augmented_batches():
    seen = []

    def D(x):
        seen.append(x)
        return x.flatten(1).mean(1)

    def penalty(D_, real, fake, generator):
        seen.extend([real, fake])
        return torch.zeros(())

    from gankit.losses import OBJECTIVES

    real, fake = images(seed=1), images(seed=2)
    d_obj = DObjective(penalties=(("probe", 1.0, penalty),), augment=augment(seed=5))
    d_obj.loss(OBJECTIVES["nonsaturating"], D, real, fake)
    want_real, want_fake = augment(seed=5).pair(real, fake)
    assert all(torch.equal(s, w) for s, w in zip(seen, [want_real, want_fake] * 2))


def test_ada_raises_p_when_d_is_sure_of_the_reals_and_lowers_it_otherwise():
    aug = augment(target=0.6, images=1000)
    assert float(aug.p) == 0 and aug.stat_names == ("augment_p", "d_real_sign")
    for _ in range(ADA_INTERVAL):  # D overfits: every real logit positive
        aug.observe(aug.stats(torch.full((50,), 3.0)), 50)
    assert float(aug.p) == pytest.approx(ADA_INTERVAL * 50 / 1000)
    for _ in range(ADA_INTERVAL - 1):  # p moves only once per interval
        aug.observe(aug.stats(-torch.ones(50)), 50)
    assert float(aug.p) == pytest.approx(0.2)
    aug.observe(aug.stats(-torch.ones(50)), 50)
    assert float(aug.p) == pytest.approx(0.0)
    for _ in range(3 * ADA_INTERVAL):  # never below 0 ...
        aug.observe(aug.stats(torch.tensor([1.0, -1.0, -1.0])), 50)  # r_t = -1/3 < 0.6
    assert float(aug.p) == 0
    for _ in range(40 * ADA_INTERVAL):  # ... nor above 1
        aug.observe(aug.stats(torch.ones(3)), 50)
    assert float(aug.p) == 1


def test_without_a_target_every_op_is_always_applied():
    aug = augment()
    assert float(aug.p) == 1 and aug.stat_names == () and aug.stats(torch.ones(3)) == {}


def tiny_cfg(**extra):
    over = {**SMALL, "train.augment": "translation,cutout,color", **extra}
    return load_preset("digits-tiny").with_overrides(over)


@pytest.mark.parametrize("extra", [
    {},
    {"train.ada_target": 0.6, "train.ada_images": 200, "train.k": 2},
    {"train.loss": "rpgan", "train.penalties": {"r1": 0.1}},
    {"model.g_arch": "keras-mnist", "model.d_arch": "keras-mnist", "model.g_width": 40,
     "model.d_width": 16, "data.pixel_range": "unit", "train.pretrain_d_samples": 16,
     "train.pretrain_d_batch": 8, "train.augment": "cutout,color"},
    {"train.unroll": 2},
])
def test_augmented_runs_resume_bit_for_bit(tmp_path, train_twice, extra):
    cfg = tiny_cfg(**extra)
    full, resumed = train_twice(cfg, 3)
    for name in ("G", "D"):
        sa, sb = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
    assert torch.equal(full.augment.p, resumed.augment.p)
    assert torch.equal(full.augment.gen.get_state(), resumed.augment.gen.get_state())
    assert (tmp_path / "full/metrics.jsonl").read_text() == \
        (tmp_path / "half/metrics.jsonl").read_text()
    assert np.array_equal(full.task.fixed_grid(full), resumed.task.fixed_grid(resumed))


def test_ada_p_is_in_the_training_log(tmp_path):
    cfg = tiny_cfg(**{"train.ada_target": 0.6, "train.ada_images": 100})
    trainer = run.start(cfg, tmp_path / "r")
    run.train_run(trainer)
    log = [json.loads(x) for x in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert all({"augment_p", "d_real_sign"} <= set(r) for r in log)
    assert 0 <= log[-1]["augment_p"] <= 1 and -1 <= log[-1]["d_real_sign"] <= 1


def test_augmentation_changes_training():
    """The op is really in the loop: the same seed with and without it trains other weights."""
    plain = run.start(tiny_cfg(**{"train.augment": "", "train.steps": 2}), None)
    plain.fit(2)
    aug = run.start(tiny_cfg(**{"train.steps": 2}), None)
    aug.fit(2)
    assert not torch.equal(next(plain.D.parameters()), next(aug.D.parameters()))


@pytest.mark.parametrize("overrides, words", [
    (["train.augment=translation,cutuot"], "did you mean 'cutout'"),
    (["train.augment=colour"], "did you mean 'color'"),
    (["train.augment=cutout,cutout"], "twice"),
    (["train.ada_target=0.6"], "train.augment is empty"),
    (["train.augment=cutout", "train.ada_target=1.5"], "train.ada_target"),
    (["train.augment=cutout", "train.ada_images=0"], "train.ada_images"),
])
def test_bad_augmentation_settings_are_one_line_errors(overrides, words):
    with pytest.raises(ConfigError, match=words) as e:
        load_preset("digits-tiny").with_overrides(overrides)
    assert "\n" not in str(e.value)


def test_augmentation_is_refused_on_2d_data():
    with pytest.raises(ConfigError, match="not an image data set") as e:
        load_preset("toy-grid").with_overrides(["train.augment=translation"])
    assert "\n" not in str(e.value)
    cfg = load_preset("digits-tiny").with_overrides(["train.augment=cutout"])
    with pytest.raises(ConfigError, match=r"shape \(2,\)"):  # data passed from Python
        from_config(cfg, (2,), torch.device("cpu"))


def test_op_names_are_parsed_with_spaces_and_empty_means_off():
    assert parse_ops(" translation , color ") == ("translation", "color")
    assert parse_ops("") == ()
    assert from_config(load_preset("digits-tiny"), (1, 28, 28), torch.device("cpu")) is None


def test_an_op_of_your_own_is_registered_and_used(tmp_path):
    """The docs' example: a registered op is a name train.augment accepts and the run applies."""
    import gankit

    @gankit.register_augmentation("test-flip")
    def flip(x, generator, p):
        chosen = torch.rand(len(x), generator=generator, device=x.device) < p
        return torch.where(chosen.view(-1, 1, 1, 1), x.flip(-1), x)

    cfg = tiny_cfg(**{"train.augment": "test-flip,translation", "train.steps": 2})
    trainer = run.start(cfg, tmp_path / "r")
    assert trainer.augment.names == ("test-flip", "translation")
    x = images(n=4, c=1, side=8)
    replay = torch.Generator().set_state(trainer.augment.gen.get_state())
    real, _ = trainer.d_objective.augmented(x, x)
    torch.rand(4, generator=replay)  # the flip's draws (p = 1: every image flipped)
    want = AUGMENTATIONS["translation"](x.flip(-1), replay, torch.tensor(1.0))
    assert torch.equal(real, want)
    assert run.train_run(trainer)


def test_a_checkpoint_with_a_broken_augmentation_state_is_refused_in_one_line(tmp_path):
    from gankit.errors import CheckpointError

    trainer = run.start(tiny_cfg(**{"train.steps": 2}), tmp_path / "r")
    run.train_run(trainer)
    path = tmp_path / "r/checkpoint.pt"
    state = torch.load(path, weights_only=True)
    state["augment"]["p"] = 0.5  # a number where a tensor belongs
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="'augment' entry") as e:
        run.open_trainer(tmp_path / "r", steps=4)
    assert "\n" not in str(e.value)
