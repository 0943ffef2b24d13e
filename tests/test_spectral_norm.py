"""Spectral normalisation (model.spectral_norm): which layers it normalises, that their largest
singular value is ≈ 1, that the EMA generator's estimate follows its own weights, and that a
resumed run is bit for bit an uninterrupted one (u, v are in the checkpoint)."""

from __future__ import annotations

import pytest
import torch
from image_helpers import write_mnist_like
from torch import nn

from gankit import run
from gankit.config import Config, load_preset
from gankit.errors import ConfigError
from gankit.nets import build_discriminator, build_generator
from gankit.nets.spectral import LAYERS, normalised_layers, power_iteration_
from gankit.train.checkpoint import load_checkpoint

TOY = ["train.steps=12", "train.log_every=3", "train.ckpt_every=3", "train.frame_every=6",
       "model.g_width=16", "model.d_width=16", "data.n_train=256", "train.batch_size=32",
       "eval.n_samples=64", "eval.metrics=[]", "train.threads=1"]

#: (g_arch, d_arch, data overrides): every built-in architecture.
ARCHS = [
    ("mlp", "mlp", {}),
    ("mlp", "maxout", {}),
    ("dcgan", "dcgan", {"data.name": "digits", "data.resolution": 32}),
    ("dcgan-pacgan", "dcgan-pacgan", {"data.name": "digits"}),
    ("keras-mnist", "keras-mnist", {"data.name": "digits", "data.pixel_range": "unit"}),
    ("resnet", "resnet", {"data.name": "digits"}),
]


def config(g_arch: str, d_arch: str, data: dict, setting: str) -> Config:
    return load_preset("toy-grid").with_overrides({
        "model.g_arch": g_arch, "model.d_arch": d_arch, "model.g_width": 8, "model.d_width": 8,
        "model.spectral_norm": setting, **data})


def linear_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, LAYERS)]


def largest_singular_value(layer: nn.Module) -> float:
    """σ_max of the layer's effective weight, as a matrix the way torch's spectral_norm reads
    it (transposed convolutions: output channels first)."""
    w = layer.weight.detach()
    if isinstance(layer, nn.ConvTranspose1d | nn.ConvTranspose2d | nn.ConvTranspose3d):
        w = w.transpose(0, 1)
    return float(torch.linalg.matrix_norm(w.flatten(1), ord=2))


@pytest.mark.parametrize(("g_arch", "d_arch", "data"), ARCHS)
def test_every_built_in_architecture_is_normalised_as_asked(g_arch, d_arch, data):
    shape_of = {"mlp": (2,), "maxout": (2,)}
    shape = shape_of.get(d_arch, (1, data.get("data.resolution", 28),
                                  data.get("data.resolution", 28)))
    for setting, g_on, d_on in (("none", 0, 0), ("d", 0, 1), ("g", 1, 0), ("both", 1, 1)):
        cfg = config(g_arch, d_arch, data, setting)
        G, D = build_generator(cfg, shape), build_discriminator(cfg, shape)
        for net, on in ((G, g_on), (D, d_on)):
            assert len(normalised_layers(net)) == on * len(linear_layers(net)) > 0 or not on


def test_a_packed_discriminator_is_normalised_once():
    cfg = config("mlp", "mlp", {"train.pack": 2, "train.batch_size": 64}, "d")
    D = build_discriminator(cfg, (2,))
    assert len(normalised_layers(D)) == len(linear_layers(D)) == 4
    assert all(len(m.parametrizations.weight) == 1 for m in normalised_layers(D))


@pytest.mark.parametrize("d_arch", ["dcgan", "resnet", "keras-mnist"])
def test_largest_singular_value_is_one_after_a_few_iterations(d_arch):
    torch.manual_seed(0)
    data = {"data.name": "digits", "data.pixel_range": "unit"}
    cfg = config(d_arch, d_arch, data, "both")
    G, D = build_generator(cfg, (1, 28, 28)), build_discriminator(cfg, (1, 28, 28))
    for net in (G, D):
        with torch.no_grad():  # a scaled-up weight: the estimate has to catch up
            for layer in normalised_layers(net):
                layer.parametrizations.weight.original.mul_(7.0)
        for _ in range(30):  # each training-mode weight computation is one iteration
            power_iteration_(net)
        sigmas = [largest_singular_value(m) for m in normalised_layers(net)]
        assert sigmas and all(abs(s - 1) < 0.02 for s in sigmas), sigmas
        unnormalised = [float(torch.linalg.matrix_norm(
            m.parametrizations.weight.original.detach().flatten(1), ord=2))
            for m in normalised_layers(net)]
        assert max(unnormalised) > 1.5  # the raw weights are not 1-Lipschitz themselves


def test_sampling_leaves_the_power_iteration_alone(tmp_path):
    cfg = load_preset("toy-grid").with_overrides([*TOY, "model.spectral_norm=both"])
    trainer = run.start(cfg, tmp_path / "r")
    trainer.fit(3)
    before = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    trainer.sample(50)
    trainer.discriminate(torch.zeros(4, 2))
    after = trainer.G.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def ema_sigmas(tmp_path, name: str) -> list[float]:
    cfg = load_preset("toy-grid").with_overrides([*TOY, "model.spectral_norm=g", "train.ema=0.9",
                                                  "train.lr_g=0.01", "train.steps=40"])
    trainer = run.start(cfg, tmp_path / name)
    trainer.fit(40)
    trainer.G_ema.eval()  # reading σ without another iteration
    layers = normalised_layers(trainer.G_ema)
    assert len(layers) == len(linear_layers(trainer.G_ema)) == 4
    return [largest_singular_value(m) for m in layers]


def test_the_ema_generator_estimates_its_own_weights(tmp_path, monkeypatch):
    """G's weight average gets one power-iteration step per update, so its normalised weights
    keep σ ≈ 1; with u, v left as copied from G at the start they drift far from it."""
    assert all(abs(s - 1) < 0.05 for s in ema_sigmas(tmp_path, "followed"))
    monkeypatch.setattr("gankit.train.ema.power_iteration_", lambda net: None)
    assert max(ema_sigmas(tmp_path, "stale")) > 1.3


@pytest.mark.parametrize("extra", [
    ["model.spectral_norm=both", "train.ema=0.9", "train.k=2"],
    ["model.spectral_norm=d", "train.loss=rpgan", "train.penalties={r1 = 1.0}"],
])
def test_a_resumed_run_with_spectral_norm_is_bit_exact(tmp_path, extra):
    cfg = load_preset("toy-grid").with_overrides([*TOY, *extra])
    full = run.start(cfg, tmp_path / "full")
    run.train_run(full)
    half = run.start(cfg.with_overrides({"train.steps": 6}), tmp_path / "half")
    run.train_run(half)
    state = load_checkpoint(tmp_path / "half" / "checkpoint.pt")
    assert any(k.endswith("_u") for k in state["D"]) and any(k.endswith("_v") for k in state["D"])
    resumed = run.open_trainer(tmp_path / "half", steps=12)
    assert resumed.step == 6
    run.train_run(resumed)
    for name in ("G", "D", "G_ema"):
        a, b = getattr(full, name), getattr(resumed, name)
        if a is None:
            continue
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key} differs"
    assert (tmp_path / "full/metrics.jsonl").read_text() == \
        (tmp_path / "half/metrics.jsonl").read_text()


def test_an_image_run_with_spectral_norm_resumes_bit_exactly(tmp_path, train_twice):
    data = write_mnist_like(tmp_path / "mnist", n_train=64, n_test=32)
    cfg = load_preset("mnist-dcgan").with_overrides({
        "data.data_dir": str(data), "model.spectral_norm": "both", "model.g_arch": "resnet",
        "model.d_arch": "resnet", "model.g_width": 4, "model.d_width": 4, "train.steps": 4,
        "train.log_every": 2, "train.ckpt_every": 2, "train.frame_every": 2,
        "train.batch_size": 8, "eval.n_samples": 16, "eval.metrics": [], "train.threads": 1})
    full, resumed = train_twice(cfg, 2)
    for name in ("G", "D"):
        sa, sb = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_torch_compile_stays_off_with_spectral_norm():
    """torch.compile's backward reads u after the next forward pass updated it in place (a
    RuntimeError in the D step): asked for or automatic, it is turned off, with a note."""
    cfg = load_preset("toy-grid").with_overrides([*TOY, "model.spectral_norm=d",
                                                  "train.compile=true"])
    trainer = run.start(cfg, None)
    assert not trainer.fast.compile
    assert any("off with spectral normalisation" in n for n in trainer.nets.notes)
    trainer.fit(2)


def test_config_errors_are_one_line():
    base = load_preset("toy-grid")
    with pytest.raises(ConfigError, match="model.spectral_norm = 'yes' is not one of: none, d, "
                                          "g, both"):
        base.with_overrides(["model.spectral_norm=yes"])
    raw = base.to_dict()
    raw["model"].update(d_arch="python", spectral_norm="d")
    with pytest.raises(ConfigError, match="discriminator was passed from Python") as e:
        Config.from_dict(raw)
    assert "\n" not in str(e.value)
