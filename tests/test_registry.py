"""The registries: names with facts, read by config validation, a run's description, `gankit data`
and the command line's help; and the one-time import of the built-in names."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import gankit
from gankit import registry, seeds
from gankit.cli import app
from gankit.config import Config, load_preset, summary
from gankit.data import catalog
from gankit.errors import ConfigError
from gankit.losses import Objective, critic_wasserstein, fake_only, generator_wasserstein
from gankit.tasks import build_task


@pytest.fixture
def restore_registries():
    """Names registered by a test are gone after it (the registries are process-wide)."""
    regs = (registry.GENERATORS, registry.DISCRIMINATORS, registry.DATASETS, registry.LOSSES)
    saved = [(dict(r._items), dict(r._info), dict(r._aliases)) for r in regs]
    yield
    for r, (items, info, aliases) in zip(regs, saved):
        r._items, r._info, r._aliases = items, info, aliases


def _linear_g(cfg, shape):
    return nn.Linear(cfg.prior.dim, shape[0])


def _points(d):
    return torch.zeros(10, 2)


# -- the built-in names are imported once, and again after a failure -------------------------
def test_a_failed_builtin_import_is_raised_and_retried(monkeypatch):
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_BUILTINS", ("gankit.nets", "gankit._no_such_module"))
    for _ in range(2):  # the second look-up tries again instead of using a half-filled registry
        with pytest.raises(ModuleNotFoundError, match="gankit._no_such_module"):
            registry.GENERATORS.knows("mlp")
        assert not registry._loaded and not registry._loading
    monkeypatch.setattr(registry, "_BUILTINS", ("gankit.nets",))
    assert registry.GENERATORS.knows("mlp") and registry._loaded


# -- facts, with defaults ---------------------------------------------------------------------
def test_facts_default_for_own_entries_and_import_paths(restore_registries):
    gankit.register_arch("test-plain", _linear_g, role="generator")
    assert registry.GENERATORS.info("test-plain") == registry.ARCH_FACTS
    assert registry.DATASETS.info("pkg.mod:loader") == registry.DATA_FACTS  # not imported
    assert registry.LOSSES.info("wasserstein")["critic"] is True
    assert registry.LOSSES.info("nonsaturating")["critic"] is False
    assert registry.DATASETS.info("ring")["modes"] == 8
    assert registry.DATASETS.info("grid")["modes"] == 25
    assert registry.DISCRIMINATORS.info("keras-mnist")["packable"] is False
    assert registry.GENERATORS.info("dcgan")["resolutions"] == (28, 32, 64)


def test_an_own_arch_declares_what_it_can_take(restore_registries):
    gankit.register_arch("test-conv16", _linear_g, role="generator", image=True,
                         resolutions=(16,), channels=(3,))
    base = {"data": {"name": "folder", "channels": 3, "resolution": 16},
            "model": {"g_arch": "test-conv16"}}
    assert Config.from_dict(base).model.g_arch == "test-conv16"
    with pytest.raises(ConfigError, match=r"data.resolution = 28 .* 16 for model.g_arch"):
        Config.from_dict({**base, "data": {**base["data"], "resolution": 28}})
    with pytest.raises(ConfigError, match=r"data.channels = 1 .* 3 \(RGB\)"):
        Config.from_dict({**base, "data": {**base["data"], "channels": 1}})
    with pytest.raises(ConfigError, match="needs an image data set"):
        Config.from_dict({"model": {"g_arch": "test-conv16"}})


def test_an_own_discriminator_may_refuse_packing(restore_registries):
    gankit.register_arch("test-fixed", _linear_g, role="discriminator", packable=False)
    Config.from_dict({"model": {"d_arch": "test-fixed"}})
    with pytest.raises(ConfigError, match="train.pack > 1 needs a D whose input size follows"):
        Config.from_dict({"model": {"d_arch": "test-fixed"}, "train": {"pack": 2}})


def test_an_own_data_set_declares_channels_labels_and_its_own_check(restore_registries):
    def check(d):
        if d.radius != 1.0:
            raise ConfigError("data.radius: test-square has no radius")

    gankit.register_dataset("test-square", _points, image=True, channels=(3,), check=check)
    Config.from_dict({"data": {"name": "test-square", "channels": 3},
                      "eval": {"metrics": ["w1"]}})
    with pytest.raises(ConfigError, match="data.channels = 1 .* for data set 'test-square'"):
        Config.from_dict({"data": {"name": "test-square"}, "eval": {"metrics": ["w1"]}})
    with pytest.raises(ConfigError, match="test-square has no radius"):
        Config.from_dict({"data": {"name": "test-square", "channels": 3, "radius": 2.0}})
    with pytest.raises(ConfigError, match="labelled grayscale"):  # stacking needs labels
        Config.from_dict({"data": {"name": "test-square", "channels": 3, "stack": 3}})


def test_an_own_mixture_is_described_by_its_facts(restore_registries):
    gankit.register_dataset("test-dots", _points, mixture=True, modes=4, std=0.2)
    cfg = load_preset("toy-grid").with_overrides({"data.name": "test-dots"})
    assert cfg.description.startswith("4-mode test-dots (std 0.2)")
    assert "modes" in cfg.eval.metrics  # a mixture's metrics, as for ring and grid


def test_descriptions_of_the_builtin_mixtures_are_unchanged():
    assert summary(load_preset("toy-ring")).startswith("8-mode ring (std 0.01)")
    assert summary(load_preset("toy-grid")).startswith("25-mode grid (std 0.05)")
    mixture = Config.from_dict({"data": {"name": "mixture", "means": [[0, 0], [1, 1], [2, 2]]}})
    assert summary(mixture).startswith("3-mode mixture (std 0.05)")


# -- critic losses ----------------------------------------------------------------------------
def test_a_critic_loss_refuses_d_pretraining(restore_registries):
    critic = Objective(critic_wasserstein, fake_only(generator_wasserstein))
    gankit.register_loss("test-critic", critic, critic=True)
    gankit.register_loss("test-log-odds", critic)  # critic=False unless it says
    for loss in ("wasserstein", "test-critic"):
        with pytest.raises(ConfigError, match="critic loss .* set train.pretrain_d_samples=0"):
            load_preset("toy-grid").with_overrides(
                {"train.loss": loss, "train.pretrain_d_samples": 64})
    cfg = load_preset("toy-grid").with_overrides(
        {"train.loss": "test-log-odds", "train.pretrain_d_samples": 64})
    assert cfg.train.pretrain_d_samples == 64


# -- `gankit data` reads the registry ---------------------------------------------------------
def test_the_catalog_lists_data_sets_registered_with_files(restore_registries, tmp_path):
    (tmp_path / "a.bin").write_bytes(b"12345")
    fetched = []
    gankit.register_dataset("test-here", _points, files=lambda data_dir: [tmp_path / "a.bin"],
                            how="it is always here")
    gankit.register_dataset("test-away", _points, files=lambda data_dir: [],
                            how="ask a friend",
                            fetch=lambda wheel, log: fetched.append(wheel) or tmp_path)
    assert {"mnist", "fashion-mnist", "digits", "test-here", "test-away"} <= set(catalog.names())
    assert "ring" not in catalog.names()  # nothing on disk to look for
    here = catalog.entry("test-here")
    assert (here.where, here.size) == (str(tmp_path), 5)
    assert catalog.entry("test-away").where is None
    assert catalog.fetch("test-away", log=lambda line: None) == tmp_path and fetched == [None]
    result = CliRunner().invoke(app, ["data", "list"], terminal_width=200)
    assert "test-away: not on this machine; get it with ask a friend" in result.output


# -- the command line's help lists what the registries hold -----------------------------------
def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=300)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_help_lists_every_theory_check_suite_protocol_and_data_set(restore_registries):
    from gankit.bench.suites import CURVES, SUITES
    from gankit.theory.runner import CHECKS

    theory = _help("theory")
    assert all(key in theory for key in CHECKS) and "function_space" in theory
    bench = _help("bench")
    for name, suite in {**SUITES, **{k: c.suite for k, c in CURVES.items()}}.items():
        assert name in bench and all(p in bench for p in suite.protocols)
    gankit.register_dataset("test-fetchable", _points, files=lambda data_dir: [])
    assert "test-fetchable" in _help("data", "fetch")
    assert "{choices}" not in theory + bench


# -- seeds --------------------------------------------------------------------------------------
def test_fresh_real_samples_keep_their_stream():
    """Stored results depend on it: seed s draws from 10,000 + s, as before the offset had a
    name."""
    assert seeds.REAL == 10_000
    task = build_task(load_preset("toy-ring"))
    expected = task.mixture.sample(50, torch.Generator().manual_seed(10_003))
    assert torch.equal(task.real_samples(50, 3), expected)
