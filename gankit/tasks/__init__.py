"""A task ties a kind of data to what a run does with it: the training tensor, the fresh real
samples evaluation compares with, the animation frames, and the pictures of a finished run."""

from __future__ import annotations

from typing import Any

from gankit.config import Config


def build_task(cfg: Config) -> Any:
    from gankit.tasks.toy import TOY_DATA, ToyTask

    if cfg.data.name in TOY_DATA:
        return ToyTask(cfg)
    from gankit.config import IMAGE_DATA

    if cfg.data.stack > 1:  # the stacked benchmark: data.stack images as channels
        from gankit.tasks.stacked import StackedTask

        return StackedTask(cfg)
    if cfg.data.name in IMAGE_DATA:  # mnist, fashion-mnist, digits, folder
        from gankit.tasks.images import ImageTask

        return ImageTask(cfg)
    raise ValueError(f"no task for data set {cfg.data.name!r}")
