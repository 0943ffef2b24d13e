"""A task ties a kind of data to what a run does with it: the training tensor, the fresh real
samples evaluation compares with, the animation frames, and the pictures of a finished run.

`Task` is the protocol the trainer, the metrics and the pictures rely on; `build_task` makes one
from what the configured data set's loader returns (gankit.registry.DATASETS).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from torch import Tensor

from gankit.config import Config

if TYPE_CHECKING:
    from gankit.train.loop import Trainer


class Task(Protocol):
    """What a run needs from its data. `cache` holds what metrics compute once per sample set."""

    cfg: Config
    sample_shape: tuple[int, ...]
    cache: dict[str, Any]
    #: The file suffixes save_samples writes (checked before any sample is drawn).
    sample_suffixes: tuple[str, ...]

    def train_data(self) -> Tensor:
        """The fixed training set, (n, *sample_shape), in the range G produces."""
        ...

    def real_samples(self, n: int, seed: int) -> Tensor:
        """n fresh real samples for evaluation, a function of `seed`."""
        ...

    def frame(self, trainer: Trainer) -> dict[str, Any]:
        """Arrays of one animation frame (saved as frames/step_XXXXXXX.npz)."""
        ...

    def render(self, trainer: Trainer, run_dir: Path, samples: Tensor) -> list[Path]:
        """The pictures of a finished run; returns the files written."""
        ...

    def save_samples(self, samples: Tensor, path: Path) -> None:
        """Write samples to a file whose format the suffix names."""
        ...


def build_task(cfg: Config, data: Any = None) -> Task:
    """The task of cfg's data set, or of `data` (a tensor, an ImageSet, a Dataset, a task)."""
    from gankit.data.images import ImageSet
    from gankit.data.toy import GaussianMixture
    from gankit.registry import DATASETS

    loaded = DATASETS[cfg.data.name](cfg.data) if data is None else data
    if isinstance(loaded, GaussianMixture):
        from gankit.tasks.toy import ToyTask

        return ToyTask(cfg, loaded)
    if isinstance(loaded, ImageSet):
        if cfg.data.stack > 1:  # the stacked benchmark: data.stack images as channels
            from gankit.tasks.stacked import StackedTask

            return StackedTask(cfg, loaded)
        from gankit.tasks.images import ImageTask

        return ImageTask(cfg, loaded)
    from gankit.tasks.tensor import TensorTask, as_tensor

    if isinstance(loaded, TensorTask) or not _is_samples(loaded):
        return loaded  # a task of the user's own
    return TensorTask(cfg, as_tensor(loaded))


def _is_samples(obj: Any) -> bool:
    import torch
    from torch.utils.data import Dataset

    return isinstance(obj, torch.Tensor | Dataset) or hasattr(obj, "__array__")
