"""A task ties a kind of data to what a run does with it: the training tensor, the fresh real
samples evaluation compares with, the animation frames, and the pictures of a finished run.

`Task` is the protocol the trainer, the metrics and the pictures rely on, `Model` the little of a
run that a task's pictures need (both in tasks/protocol.py); `build_task` makes a task from what
the configured data set's loader returns (gankit.registry.DATASETS).
"""

from __future__ import annotations

from typing import Any

from gankit.config import Config
from gankit.tasks.protocol import Model, Task

__all__ = ["Model", "Task", "build_task"]


def build_task(cfg: Config, data: Any = None) -> Task:
    """The task of cfg's data set, or of `data` (a tensor, an ImageSet, a Dataset, a task, or a
    (samples, labels) pair)."""
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
    from gankit.tasks.tensor import TensorTask, as_labelled

    if isinstance(loaded, TensorTask) or not _is_samples(loaded):
        return loaded  # a task of the user's own
    return TensorTask(cfg, *as_labelled(loaded))


def _is_samples(obj: Any) -> bool:
    import torch
    from torch.utils.data import Dataset

    pair = isinstance(obj, tuple) and len(obj) == 2  # (samples, labels)
    return pair or isinstance(obj, torch.Tensor | Dataset) or hasattr(obj, "__array__")
