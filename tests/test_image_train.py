"""A short training run of every image preset on small data: the outputs exist, losses are finite,
the seed-003 phases and pictures are there, and image runs resume bit for bit."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from image_helpers import write_mnist_like
from PIL import Image
from typer.testing import CliRunner

from gankit import run
from gankit.cli import app
from gankit.config import load_preset
from gankit.data.mnist import DEBIAN_FASHION

SMALL = {"train.steps": 4, "train.log_every": 2, "train.ckpt_every": 2, "train.frame_every": 2,
         "train.batch_size": 8, "eval.n_samples": 16, "eval.metrics": [], "train.threads": 1}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GANKIT_MNIST_MIRRORS", "http://127.0.0.1:9/")


def folder_of_images(folder, n=12):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def small_cfg(preset, tmp_path):
    over = dict(SMALL)
    if preset.startswith("mnist") or preset == "seed003-mnist":
        over["data.data_dir"] = str(write_mnist_like(tmp_path / "mnist", n_train=64, n_test=32))
    if preset in ("fashion-dcgan", "seed003-fashion"):
        if not DEBIAN_FASHION.is_dir():
            pytest.skip("package dataset-fashion-mnist not installed (.ci/run installs it)")
        over["data.n_train"] = 64
    if preset == "folder-dcgan":
        over["data.data_dir"] = str(folder_of_images(tmp_path / "pics"))
    if "dcgan" in preset:
        over.update({"model.g_width": 8, "model.d_width": 8})
    if preset.startswith("seed003"):  # the seed's layers, narrower (full width: test_image_nets)
        over.update({"train.pretrain_d_samples": 16, "train.pretrain_d_batch": 8,
                     "model.g_width": 40, "model.d_width": 16})
    return load_preset(preset).with_overrides(over)


@pytest.mark.parametrize("preset", ["seed003-mnist", "seed003-fashion", "fashion-dcgan",
                                    "mnist-dcgan", "folder-dcgan", "digits-tiny"])
def test_every_image_preset_trains(tmp_path, preset):
    cfg = small_cfg(preset, tmp_path)
    out = tmp_path / "run"
    trainer = run.start(cfg, out)
    assert run.train_run(trainer)
    run.evaluate(trainer)
    pictures = {p.name for p in run.render(trainer)}
    assert {"grid.png", "real.png", "training.gif", "losses.png"} <= pictures
    records = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in records)
    assert sorted(p.name for p in (out / "frames").iterdir()) == [
        "step_0000000.npz", "step_0000002.npz", "step_0000004.npz"]
    with np.load(out / "frames" / "step_0000004.npz") as fr:
        assert fr["grid"].shape == (64, *trainer.task.sample_shape)
    assert (out / "checkpoint.pt").is_file() and (out / "metrics.json").is_file()
    with Image.open(out / "training.gif") as gif:
        assert gif.n_frames == 3
    if preset.startswith("seed003"):
        assert {"keras_grid.png", "keras_loss.png"} <= pictures
        stats = json.loads((out / "pretrain.json").read_text())
        assert stats["pretrain_d_samples"] == 32 and stats["pretrain_d_batches"] == 4
        assert math.isfinite(stats["pretrain_d_loss"])


def test_fixed_noise_grid_changes_as_g_learns(tmp_path):
    cfg = small_cfg("digits-tiny", tmp_path)
    trainer = run.start(cfg, tmp_path / "run")
    run.train_run(trainer)
    with np.load(tmp_path / "run/frames/step_0000000.npz") as a, \
            np.load(tmp_path / "run/frames/step_0000004.npz") as b:
        assert not np.array_equal(a["grid"], b["grid"])
    assert np.array_equal(trainer.task.fixed_grid(trainer), trainer.task.fixed_grid(trainer))


def assert_same(a, b):
    for name in ("G", "D"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key} differs"


@pytest.mark.parametrize("extra", [
    {"model.g_arch": "seed003", "model.d_arch": "seed003", "model.g_width": 40,
     "model.d_width": 16, "data.pixel_range": "unit", "prior.name": "uniform",
     "train.pretrain_d_samples": 24, "train.pretrain_d_batch": 8},
    {"train.ema": 0.9, "train.k": 2},
])
def test_image_runs_resume_bit_for_bit(tmp_path, extra):
    cfg = small_cfg("digits-tiny", tmp_path).with_overrides(extra)
    full = run.start(cfg, tmp_path / "full")
    run.train_run(full)
    half = run.start(cfg.with_overrides({"train.steps": 2}), tmp_path / "half")
    run.train_run(half)
    resumed = run.open_trainer(tmp_path / "half", steps=4)
    assert resumed.step == 2 and resumed.d_pretrained == bool(cfg.train.pretrain_d_samples)
    run.train_run(resumed)
    assert_same(full, resumed)
    assert (tmp_path / "full/metrics.jsonl").read_text() == \
        (tmp_path / "half/metrics.jsonl").read_text()
    assert np.array_equal(full.task.fixed_grid(full), resumed.task.fixed_grid(resumed))


def test_pretraining_is_not_repeated_after_a_crash(tmp_path):
    """A crash right after pretraining: the checkpoint written then already records it."""
    cfg = small_cfg("digits-tiny", tmp_path).with_overrides(
        {"train.pretrain_d_samples": 16, "train.ckpt_every": 100})
    trainer = run.start(cfg, tmp_path / "run")

    def crash(tr):
        raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError):
        run.train_run(trainer, crash)
    again = run.open_trainer(tmp_path / "run")
    assert again.step == 0 and again.d_pretrained


def test_cli_train_with_data_dir_and_sample(tmp_path):
    data = write_mnist_like(tmp_path / "files", n_train=64, n_test=32)
    runner = CliRunner()
    args = ["train", "mnist-dcgan", "--data-dir", str(data), "--out", str(tmp_path / "r"),
            *[f"{k}={json.dumps(v)}" for k, v in SMALL.items()],
            "model.g_width=8", "model.d_width=8"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r/grid.png").is_file()
    result = runner.invoke(app, ["sample", str(tmp_path / "r"), "-n", "9", "--out",
                                 str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "s.png") as im:
        assert im.size[0] > 28 * 3


def test_cli_missing_data_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(app, ["train", "mnist-dcgan", "--data-dir", str(tmp_path),
                                      "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "no mnist files in" in result.output and "Traceback" not in result.output
