"""Latent walks and the truncation trick: the draws themselves, `gankit sample --interpolate /
--truncation`, `Run.sample(truncation=)` and `Run.interpolate`, and their refusals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats
from typer.testing import CliRunner

import gankit
from gankit.cli import app
from gankit.errors import GankitError
from gankit.latent import lerp, slerp, truncated_normal, walk

runner = CliRunner()
TOY = ["train.steps=20", "train.log_every=10", "train.ckpt_every=10", "train.frame_every=10",
       "model.g_width=16", "model.d_width=16", "data.n_train=500", "train.batch_size=32",
       "eval.n_samples=100"]
DIGITS = ["train.steps=4", "train.log_every=2", "train.ckpt_every=2", "train.frame_every=2",
          "train.batch_size=8", "model.g_width=8", "model.d_width=8", "eval.metrics=[]"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 2-D toy run (normal prior), one with a uniform prior, and a tiny image run."""
    root = tmp_path_factory.mktemp("latent")
    made = {}
    for name, preset, extra in (("toy", "toy-ring", TOY),
                                ("uniform", "toy-ring", [*TOY, "prior.name=uniform"]),
                                ("digits", "digits-tiny", DIGITS)):
        result = invoke("train", preset, "--out", root / name, *extra)
        assert result.exit_code == 0, result.output
        made[name] = root / name
    return made


def test_truncated_normal_is_the_conditioned_normal():
    z = truncated_normal(20_000, 5, 0.7, torch.Generator().manual_seed(0))
    assert z.abs().max() <= 0.7 and z.dtype == torch.float32
    expected = stats.truncnorm(-0.7, 0.7)
    assert float(z.var()) == pytest.approx(expected.var(), rel=0.03)
    assert stats.kstest(z[:, 0].numpy(), expected.cdf).pvalue > 1e-3
    wide = truncated_normal(20_000, 5, 8.0, torch.Generator().manual_seed(0))
    assert float(wide.std()) == pytest.approx(1.0, rel=0.02)  # ψ = 8: the plain normal


def test_one_seed_gives_corresponding_latents_at_every_psi():
    draws = [truncated_normal(100, 4, psi, torch.Generator().manual_seed(3)) for psi in
             (0.25, 0.5, 1.0, 2.0)]
    for tight, loose in itertools.pairwise(draws):
        assert torch.equal(tight.sign(), loose.sign())  # the same draws, tightened
        assert bool((tight.abs() <= loose.abs() + 1e-6).all())


def test_slerp_keeps_to_the_sphere_and_lerp_to_the_cube():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 50, generator=g), torch.randn(3, 50, generator=g)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)  # equal norms
    t = torch.linspace(0, 1, 7)
    path = slerp(a, b, t)
    assert torch.allclose(path[:, 0], a, atol=1e-5) and torch.allclose(path[:, -1], b, atol=1e-5)
    norms = path.norm(dim=2)
    assert torch.allclose(norms, norms[:, :1].expand_as(norms), rtol=1e-4)  # on the sphere
    assert float(lerp(a, b, t)[:, 3].norm(dim=1).mean()) < float(norms[:, 3].mean()) * 0.8
    cube = walk("uniform", 5, 9, 10, torch.Generator().manual_seed(1))
    assert cube.shape == (5, 9, 10) and cube.abs().max() <= 1
    assert torch.allclose(cube[:, 4], (cube[:, 0] + cube[:, -1]) / 2, atol=1e-6)  # straight
    parallel = slerp(a[:1], 2 * a[:1], t)  # no unique great circle: a straight line
    assert torch.isfinite(parallel).all()


def test_image_walks_as_gif_png_and_npy(runs, tmp_path):
    run_dir = runs["digits"]
    result = invoke("sample", run_dir, "--interpolate", 6, "-n", 3, "--out", tmp_path / "w.gif")
    assert result.exit_code == 0 and "3 latent walks of 6 frames" in result.output
    with Image.open(tmp_path / "w.gif") as gif:
        assert gif.n_frames == 10  # there and back: 1 … 6 … 2
    assert invoke("sample", run_dir, "--interpolate", 6, "-n", 3,
                  "--out", tmp_path / "w.png").exit_code == 0
    with Image.open(tmp_path / "w.png") as png:  # 3 rows of 6 images of 28 px, ×2, 2 px gaps
        assert png.size == (2 * (2 + 6 * 30), 2 * (2 + 3 * 30))
    assert invoke("sample", run_dir, "--interpolate", 6, "-n", 3, "--seed", 5,
                  "--out", tmp_path / "w.npy").exit_code == 0
    frames = np.load(tmp_path / "w.npy")
    assert frames.shape == (3, 6, 1, 28, 28) and frames.min() >= 0 and frames.max() <= 1
    run = gankit.open_run(run_dir)
    assert np.allclose(run.interpolate(6, walks=3, seed=5).add(1).div(2).clamp(0, 1).numpy(),
                       frames, atol=1e-6)


def test_two_d_walks_and_truncated_samples(runs, tmp_path):
    result = invoke("sample", runs["toy"], "--interpolate", 5, "--out", tmp_path / "w.npy")
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "w.npy").shape == (4, 5, 2)  # four walks by default
    result = invoke("sample", runs["toy"], "--interpolate", 5, "--out", tmp_path / "w.gif")
    assert result.exit_code == 2 and "needs image samples" in result.output
    assert "write .npy instead" in result.output
    result = invoke("sample", runs["toy"], "-n", 50, "--truncation", 0.5, "--seed", 2,
                    "--out", tmp_path / "t.npy")
    assert result.exit_code == 0, result.output
    run = gankit.open_run(runs["toy"])
    z = truncated_normal(50, run.config.prior.dim, 0.5, torch.Generator().manual_seed(2))
    expected = run.trainer.generate(z).numpy()
    assert np.allclose(np.load(tmp_path / "t.npy"), expected, atol=1e-6)
    assert np.allclose(run.sample(50, seed=2, truncation=0.5).numpy(), expected, atol=1e-6)
    assert not np.allclose(run.sample(50, seed=2).numpy(), expected, atol=1e-3)


@pytest.mark.parametrize(("args", "message"), [
    (["--interpolate", 1], "needs at least 2 frames"),
    (["--interpolate", 0], "needs at least 2 frames"),
    (["--interpolate", 4, "-n", 0], "number of walks) must be ≥ 1"),
    (["--interpolate", 4, "--out", "walk.txt"], "use .gif (animated), .png"),
    (["--truncation", 0], "must be a positive number"),
    (["--truncation", -1], "must be a positive number"),
    (["--truncation", "nan"], "must be a positive number"),
    (["--interpolate", 4, "--truncation", 0], "must be a positive number"),
])
def test_bad_walk_and_truncation_requests(runs, tmp_path, args, message):
    result = invoke("sample", runs["toy"], *args, "--out", tmp_path / "x.npy") \
        if "--out" not in args else invoke("sample", runs["toy"], *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_truncation_is_refused_for_a_uniform_prior(runs, tmp_path):
    result = invoke("sample", runs["uniform"], "--truncation", 1, "--out", tmp_path / "x.npy")
    assert result.exit_code == 2
    assert "applies to a normal prior; this run's prior is uniform" in result.output
    with pytest.raises(GankitError, match="normal prior"):
        gankit.open_run(runs["uniform"]).sample(10, truncation=1.0)
    assert invoke("sample", runs["uniform"], "--interpolate", 3,  # walks: straight lines
                  "--out", tmp_path / "u.npy").exit_code == 0
    assert np.load(tmp_path / "u.npy").shape == (4, 3, 2)
