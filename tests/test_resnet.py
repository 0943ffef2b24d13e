"""The ResNet nets (model.g_arch / d_arch = resnet) and the R3GAN presets: shapes at every
declared side, a D of one sample at a time (what R1/R2 assume), the registered facts, and the
presets training from the command line (fashion-r3gan; folder-r3gan at 32×32 and 64×64)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gankit.cli import app
from gankit.config import load_preset
from gankit.data.mnist import DEBIAN_FASHION
from gankit.errors import ConfigError
from gankit.nets.resnet import ResNetDiscriminator, ResNetGenerator, generator_channels
from gankit.registry import DISCRIMINATORS, GENERATORS


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GANKIT_MNIST_MIRRORS", "http://127.0.0.1:9/")


@pytest.mark.parametrize("resolution", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_declared_side(resolution, channels):
    torch.manual_seed(0)
    G = ResNetGenerator(16, channels, resolution, width=4)
    D = ResNetDiscriminator(channels, resolution, width=4)
    x = G(torch.randn(3, 16))
    assert x.shape == (3, channels, resolution, resolution)
    assert x.abs().max() <= 1
    assert D(x).shape == (3,)
    unit = ResNetGenerator(16, channels, resolution, width=4, output="sigmoid")(torch.randn(2, 16))
    assert unit.min() >= 0 and unit.max() <= 1


def test_channel_layouts():
    assert generator_channels(32, 2) == [64, 32, 32]  # 28×28: 7 -> 14 -> 28
    assert generator_channels(32, 3) == [128, 64, 32, 32]  # 32×32
    assert generator_channels(8, 4) == [64, 32, 16, 8, 8]  # 64×64: 8w at 4×4
    with pytest.raises(ValueError, match="resolutions \\[28, 32, 64\\], got 48"):
        ResNetGenerator(16, 1, 48)


def test_d_judges_each_sample_alone():
    """No normalisation layers: a sample's score does not depend on its batch (R1 and R2 take
    gradients per sample)."""
    torch.manual_seed(0)
    D = ResNetDiscriminator(3, 32, width=8).train()
    x = torch.randn(6, 3, 32, 32)
    assert torch.allclose(D(x)[:2], D(x[:2]), atol=1e-6)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in D.modules())


@torch.no_grad()
def test_the_signal_keeps_its_scale_through_the_blocks():
    """He initialisation and the (skip + residual) · √½ sum: through G's blocks, and through D's
    on smooth (image-like) inputs, the activations' scale stays within a factor of 3."""
    torch.manual_seed(0)
    G, D = ResNetGenerator(64, 3, 64, width=16), ResNetDiscriminator(3, 64, width=16)
    images = torch.nn.functional.interpolate(torch.randn(8, 3, 8, 8), size=64, mode="bilinear")
    for first, blocks in ((G.project(torch.randn(8, 64)).view(8, *G.start), G.blocks),
                          (D.from_image(images), D.blocks)):
        h, stds = first, [float(first.std())]
        for block in blocks:
            h = block(h)
            stds.append(float(h.std()))
        assert max(stds) / min(stds) < 3, stds


def test_registered_with_its_resolutions():
    for reg in (GENERATORS, DISCRIMINATORS):
        facts = reg.info("resnet")
        assert facts["image"] and facts["resolutions"] == (28, 32, 64)
    with pytest.raises(ConfigError, match="data.resolution = 48 is out of range: must be 28, 32 "
                                          "or 64 for model.g_arch = 'resnet'") as e:
        load_preset("folder-r3gan").with_overrides(["data.resolution=48"])
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="needs an image data set"):
        load_preset("toy-grid").with_overrides(["model.g_arch=resnet"])


def test_the_r3gan_presets_are_the_recipe():
    for name in ("fashion-r3gan", "folder-r3gan"):
        cfg = load_preset(name)
        t = cfg.train
        assert (cfg.model.g_arch, cfg.model.d_arch, t.loss) == ("resnet", "resnet", "rpgan")
        assert t.penalties == {"r1": 0.05, "r2": 0.05} and t.penalty_every == 1
        assert t.betas_g == t.betas_d == (0.0, 0.99) and t.lr_g == t.lr_d == 2e-4
        assert "narrowed for a CPU" in cfg.description


def read_log(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(),
                    reason="package dataset-fashion-mnist not installed (.ci/run installs it)")
def test_fashion_r3gan_trains_20_steps_from_the_command_line(tmp_path):
    """The preset's nets as they are; a smaller batch and evaluation keep the test short."""
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "train", "fashion-r3gan", "--steps", "20", "--out", str(out), "train.batch_size=8",
        "train.log_every=10", "data.n_train=512", "eval.n_samples=128", "train.threads=1"])
    assert result.exit_code == 0, result.output
    log = read_log(out)
    assert [r["step"] for r in log] == [10, 20]
    assert all(math.isfinite(r[k]) for r in log for k in ("d_loss", "g_loss", "r1", "r2"))
    assert all(r["r1"] > 0 and r["r2"] > 0 for r in log)
    metrics = json.loads((out / "metrics.json").read_text())
    assert math.isfinite(metrics["fd_classifier"])


@pytest.mark.parametrize("resolution", [32, 64])
def test_folder_r3gan_trains_on_a_folder(tmp_path, resolution):
    pics = tmp_path / "pics"
    pics.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)).save(pics / f"{i}.png")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "train", "folder-r3gan", "--data-dir", str(pics), "--steps", "2", "--out", str(out),
        f"data.resolution={resolution}", "model.g_width=4", "model.d_width=4",
        "train.batch_size=4", "train.log_every=1", "eval.n_samples=8", "train.threads=1"])
    assert result.exit_code == 0, result.output
    assert [r["step"] for r in read_log(out)] == [1, 2]
    with np.load(out / "frames" / "step_0000000.npz") as frame:
        assert frame["grid"].shape[1:] == (3, resolution, resolution)
