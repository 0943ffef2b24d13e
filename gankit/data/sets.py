"""The built-in data sets, registered by name (gankit.registry.DATASETS).

A data set is `loader(data_config)` returning a tensor of samples, an `ImageSet` (registered with
`image=True`) or a Gaussian mixture; `gankit.tasks.build_task` wraps what it returns in the task
that trains on it. This module imports the loaders; they do not import it (no import cycle).
"""

from __future__ import annotations

from typing import Any

from gankit.data.images import ImageSet
from gankit.data.toy import GaussianMixture, build_mixture
from gankit.registry import DATASETS, PYTHON, register_dataset


def _mixture(d: Any) -> GaussianMixture:
    return build_mixture(d.name, d.std, d.means, d.weights, d.radius)


for _name in ("ring", "grid", "mixture"):
    register_dataset(_name, _mixture)


@register_dataset("mnist", image=True)
def mnist(d: Any) -> ImageSet:
    from gankit.data.mnist import load_mnist_like

    return load_mnist_like("mnist", d.resolution, d.data_dir, download=d.download)


@register_dataset("fashion-mnist", image=True)
def fashion_mnist(d: Any) -> ImageSet:
    from gankit.data.mnist import load_mnist_like

    return load_mnist_like("fashion-mnist", d.resolution, d.data_dir, download=d.download)


@register_dataset("digits", image=True)
def digits(d: Any) -> ImageSet:
    from gankit.data.digits import load_digits_set

    return load_digits_set(d.resolution)


@register_dataset("folder", image=True)
def folder(d: Any) -> ImageSet:
    from gankit.data.folder import load_folder

    return load_folder(d.data_dir, d.resolution, d.channels)


@register_dataset(PYTHON)
def given_from_python(d: Any) -> Any:
    from gankit.errors import GankitError

    raise GankitError("this run's data were passed from Python and are not saved with it: open "
                      "it from Python with gankit.open_run(path, data=...) (or "
                      "gankit.fit(..., resume=True))")


def load_image_set(d: Any) -> ImageSet:
    """The image data set a `DataConfig` names, at its resolution and channel count."""
    loaded = DATASETS[d.name](d)
    if not isinstance(loaded, ImageSet):
        from gankit.errors import DataError

        raise DataError(f"data set '{d.name}' is not an image data set")
    return loaded
