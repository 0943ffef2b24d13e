"""The domain classifier and its metrics, on the 8×8 digits: cached, accurate, real images near
the floor and noise far from it."""

from __future__ import annotations

import fcntl
import math

import pytest
import torch

from gankit import run
from gankit.config import load_preset
from gankit.metrics import METRICS
from gankit.metrics.classifier import (
    classifier_path,
    domain_classifier,
    frechet_distance,
    gaussian_blur,
    ladder_images,
)
from gankit.tasks import build_task


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache folder in this session's pytest temp root, shared by the xdist workers."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.getbasetemp().parent / "gankit-cache"
    path.mkdir(exist_ok=True)
    mp.setenv("GANKIT_CACHE_DIR", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def task(cache):
    t = build_task(load_preset("digits-tiny"))
    with open(cache / "classifier.lock", "w") as lock:  # one worker trains, the other loads
        fcntl.flock(lock, fcntl.LOCK_EX)
        t.classifier()  # about 10 s of CPU, once per session
        fcntl.flock(lock, fcntl.LOCK_UN)
    return t


def metric(name, fake, real, task):
    return float(METRICS[name](fake, real, task))


def test_classifier_is_accurate_and_cached(task, cache, monkeypatch):
    clf = task.classifier()
    assert clf.accuracy >= 0.9
    path = classifier_path(task.data)
    assert path.is_file() and path.is_relative_to(cache)

    def no_training(*a, **k):
        raise AssertionError("retrained although cached")

    monkeypatch.setattr("gankit.metrics.classifier.train_classifier", no_training)
    again = domain_classifier(task.data)
    assert again.accuracy == pytest.approx(clf.accuracy)
    x = task.unit(task.real_samples(20, 0))
    assert torch.allclose(again.features_and_logits(x)[0], clf.features_and_logits(x)[0])


def test_real_vs_real_near_floor_and_noise_far(task):
    real = task.real_samples(297, seed=0)
    other_real = ladder_images(task, 297, "floor", seed=5)
    noise = torch.rand(297, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    floor = metric("fd_classifier_floor", noise, real, task)
    fd_real = metric("fd_classifier", other_real, real, task)
    fd_noise = metric("fd_classifier", noise, real, task)
    assert fd_real < 2 * floor + 1e-6
    assert fd_noise > 20 * fd_real
    assert metric("kid_classifier", noise, real, task) > \
        10 * max(metric("kid_classifier", other_real, real, task), 1e-3)
    assert metric("classes_present", other_real, real, task) == 10
    assert metric("class_kl", other_real, real, task) < 0.05
    assert metric("classes_present", noise, real, task) <= 3
    assert metric("class_kl", noise, real, task) > 1.0
    assert metric("is_classifier", other_real, real, task) > 5
    assert metric("is_classifier", noise, real, task) < 2


def test_the_ladder_is_ordered(task):
    real = task.real_samples(297, seed=0)
    floor = metric("fd_classifier_floor", real, real, task)
    noisy = metric("fd_classifier_noisy", real, real, task)
    blurred = metric("fd_classifier_blurred", real, real, task)
    assert floor < noisy and floor < blurred
    assert all(math.isfinite(v) for v in (floor, noisy, blurred))


def test_ladder_images_are_what_they_say(task):
    clean = ladder_images(task, 50, "floor")
    noisy = ladder_images(task, 50, "noisy")
    unit_diff = (task.unit(noisy) - task.unit(clean))
    assert 0.05 < float(unit_diff.std()) < 0.1  # σ = 0.1, less where clamped at 0 or 1
    blurred = task.unit(ladder_images(task, 50, "blurred"))
    assert float(blurred.max()) < float(task.unit(clean).max())


def test_blur_preserves_constants_and_mass():
    x = torch.full((2, 3, 16, 16), 0.4)
    assert torch.allclose(gaussian_blur(x), x, atol=1e-6)
    y = torch.zeros(1, 1, 15, 15)
    y[0, 0, 7, 7] = 1
    assert float(gaussian_blur(y).sum()) == pytest.approx(1.0, abs=1e-5)


def test_frechet_distance_of_shifted_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    b = torch.randn(4000, 3, generator=g, dtype=torch.float64) + torch.tensor([2.0, 0, 0])
    assert frechet_distance(a.float(), b.float()) == pytest.approx(4.0, rel=0.1)


def test_a_digits_run_reports_every_metric(task, tmp_path):
    names = ["fd_classifier", "fd_classifier_floor", "fd_classifier_noisy",
             "fd_classifier_blurred", "kid_classifier", "is_classifier", "classes_present",
             "class_kl", "classifier_accuracy"]
    cfg = load_preset("digits-tiny").with_overrides(
        {"train.steps": 2, "eval.metrics": names, "eval.n_samples": 200, "train.threads": 1})
    trainer = run.start(cfg, tmp_path / "run")
    run.train_run(trainer)
    result = run.evaluate(trainer)
    assert set(names) <= set(result)
    assert result["classifier_accuracy"] == pytest.approx(task.classifier().accuracy)
    assert result["fd_classifier"] > result["fd_classifier_floor"]


def test_classifier_trains_when_first_needed_under_no_grad(task, monkeypatch):
    """Metrics run under no_grad; the classifier they trigger must still learn (a regression:
    the stacked metrics once failed with 'does not require grad' on a cold cache)."""
    from gankit.metrics.classifier import train_classifier

    monkeypatch.setattr("gankit.metrics.classifier._epochs", lambda n: 1)
    with torch.no_grad():
        clf = train_classifier(task.data)
    assert clf.accuracy > 0.5  # one epoch; chance is 0.1
