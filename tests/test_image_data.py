"""Image data sources: folder loader, digits, finding MNIST-style IDX files, the image task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from image_helpers import write_mnist_like
from PIL import Image

from gankit.config import load_preset
from gankit.data.digits import load_digits_set
from gankit.data.folder import load_folder
from gankit.data.mnist import DEBIAN_FASHION, load_mnist_like, locate
from gankit.errors import ConfigError, DataError
from gankit.tasks import build_task


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GANKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("GANKIT_MNIST_MIRRORS", "http://127.0.0.1:9/")  # closed port: offline


# -- folder ---------------------------------------------------------------------------------------
def make_images(folder, n=6):
    (folder / "sub" / "deeper").mkdir(parents=True)
    for i in range(n):
        arr = np.full((30 + 7 * i, 50, 3), 40 * i % 256, np.uint8)
        where = folder / ("sub/deeper" if i % 2 else "sub")
        Image.fromarray(arr).save(where / f"im{i}.{'png' if i % 3 else 'JPG'}")


@pytest.mark.parametrize("channels", [1, 3])
def test_folder_recursive_resize_crop(tmp_path, channels):
    make_images(tmp_path)
    data = load_folder(tmp_path, 32, channels)
    assert data.train_x.shape == (6, channels, 32, 32)
    assert data.train_x.dtype == torch.uint8
    assert not data.labelled


def test_folder_centre_crop_keeps_the_middle(tmp_path):
    arr = np.zeros((20, 60), np.uint8)
    arr[:, 20:40] = 255  # the middle square is white, the sides black
    Image.fromarray(arr).save(tmp_path / "wide.png")
    x = load_folder(tmp_path, 16, 1).train_x
    assert x.shape == (1, 1, 16, 16)
    assert float(x.float().mean()) > 245  # a left- or right-aligned crop would be mostly black


def test_folder_empty_missing_and_unset(tmp_path):
    with pytest.raises(DataError, match="no PNG or JPEG images"):
        load_folder(tmp_path, 28)
    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "nope", 28)
    with pytest.raises(DataError, match="--data-dir"):
        load_folder(None, 28)


def test_folder_skips_and_counts_broken_files(tmp_path):
    make_images(tmp_path, n=3)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not an image")
    data = load_folder(tmp_path, 28, 1)  # a note (one line, printed by the caller), no warning
    assert len(data.train_x) == 3
    assert "skipped 1 of the 4 image files" in data.notes[0] and "broken.png" in data.notes[0]


def test_folder_of_only_broken_files(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"junk")
    with pytest.raises(DataError, match="none of the 1 image files"):
        load_folder(tmp_path, 28)


# -- digits ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("resolution", [28, 32, 64])
def test_digits(resolution):
    d = load_digits_set(resolution)
    assert d.train_x.shape == (1500, 1, resolution, resolution)
    assert d.test_x.shape == (297, 1, resolution, resolution)
    assert d.n_classes == 10 and set(d.train_y.tolist()) == set(range(10))
    assert int(d.train_x[:, :, 0, :].max()) == 0  # black border, as in MNIST
    assert int(d.train_x.max()) > 200


# -- MNIST / Fashion-MNIST on disk ----------------------------------------------------------------
@pytest.mark.parametrize("sub, gz", [("", True), ("MNIST/raw", False), ("mnist", True)])
def test_mnist_from_data_dir(tmp_path, sub, gz):
    write_mnist_like(tmp_path / "d" / sub if sub else tmp_path / "d", gz=gz)
    data = load_mnist_like("mnist", 28, str(tmp_path / "d"))
    assert data.train_x.shape == (40, 1, 28, 28) and data.test_x.shape == (20, 1, 28, 28)
    assert data.class_names[0] == "0"


def test_resized_on_load(tmp_path):
    write_mnist_like(tmp_path)
    assert load_mnist_like("mnist", 32, str(tmp_path)).train_x.shape[-1] == 32


def test_data_dir_from_environment(tmp_path, monkeypatch):
    write_mnist_like(tmp_path / "fashion-mnist")
    monkeypatch.setenv("GANKIT_DATA_DIR", str(tmp_path))
    assert locate("fashion-mnist")[("train", "images")].parent == tmp_path / "fashion-mnist"


def test_explicit_data_dir_without_files(tmp_path):
    with pytest.raises(DataError, match=r"no mnist files in .*train-images-idx3-ubyte\[\.gz\]"):
        locate("mnist", str(tmp_path))


def test_mnist_offline_names_both_options(tmp_path):
    with pytest.raises(DataError) as err:
        locate("mnist")
    text = str(err.value)
    assert "could not be downloaded" in text and "--data-dir" in text and "internet" in text
    assert "\n" not in text


def test_mnist_no_download(tmp_path):
    with pytest.raises(DataError, match="data.download = false.*--data-dir"):
        locate("mnist", download=False)


def test_fashion_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr("gankit.data.mnist.DEBIAN_FASHION", tmp_path / "none")
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist.*--data-dir"):
        locate("fashion-mnist")


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(),
                    reason="package dataset-fashion-mnist not installed (.ci/run installs it)")
def test_fashion_from_debian_package():
    data = load_mnist_like("fashion-mnist")
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    assert data.class_names[9] == "Ankle boot"
    assert torch.bincount(data.test_y).tolist() == [1000] * 10


def test_corrupt_file_in_data_dir(tmp_path):
    write_mnist_like(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist_like("mnist", 28, str(tmp_path))


# -- config and task ------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides, words", [
    ({"model.g_arch": "dcgan"}, "needs an image data set"),
    ({"data.name": "digits", "model.g_arch": "dcgan", "data.resolution": 30}, "28, 32 or 64"),
    ({"data.name": "digits", "model.g_arch": "seed003", "data.resolution": 32}, "28×28"),
    ({"data.name": "mnist", "data.channels": 3}, "grayscale"),
    ({"data.name": "digits", "data.pixel_range": "bytes"}, "signed, unit"),
    ({"train.pretrain_d_samples": -1}, "≥ 0"),
])
def test_image_config_errors(overrides, words):
    with pytest.raises(ConfigError, match=words):
        load_preset("toy-grid").with_overrides(overrides)


@pytest.mark.parametrize("pixel_range, lo, hi", [("signed", -1.0, 1.0), ("unit", 0.0, 1.0)])
def test_task_ranges_and_subset(pixel_range, lo, hi):
    cfg = load_preset("digits-tiny").with_overrides(
        {"data.pixel_range": pixel_range, "data.n_train": 100})
    task = build_task(cfg)
    x = task.train_data()
    assert x.shape == (100, 1, 28, 28)
    assert float(x.min()) == lo and float(x.max()) == hi
    real = task.real_samples(50, seed=3)
    assert real.shape == (50, 1, 28, 28)
    assert torch.equal(real, task.real_samples(50, seed=3))
    assert float(task.unit(real).min()) >= 0


def test_folder_config_rejects_label_metrics(tmp_path):
    make_images(tmp_path)
    with pytest.raises(ConfigError, match="fd_classifier needs a labelled image data set"):
        load_preset("folder-dcgan").with_overrides(
            {"data.data_dir": str(tmp_path), "eval.metrics": ["fd_classifier"]})
