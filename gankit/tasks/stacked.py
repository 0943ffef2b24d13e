"""The stacked task: an image task whose samples are data.stack images of the base set, one per
channel; modes are counted by the base set's domain classifier applied channel by channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gankit import seeds
from gankit.config import Config
from gankit.data.images import ImageSet, to_range
from gankit.data.stacked import stack, stack_indices
from gankit.tasks.images import ImageTask
from gankit.tasks.protocol import Model


class StackedTask:
    sample_suffixes = (".png", ".npy", ".npz")  # those of ImageTask

    def __init__(self, cfg: Config, data: ImageSet | None = None) -> None:
        self.cfg = cfg
        self.base = ImageTask(cfg, data)  # the single-image set (channels = 1), its classifier
        self.cache: dict[str, Any] = {}
        self.k = cfg.data.stack
        side = cfg.data.resolution
        self.sample_shape = (self.k, side, side)
        self.pixel_range = cfg.data.pixel_range
        self.n_classes = self.base.data.n_classes
        self.n_modes = self.n_classes ** self.k

    def train_data(self) -> Tensor:
        """data.n_train stacks of training images, drawn once (seed 0) from the whole split."""
        pool = self.base.data.train_x
        index = stack_indices(len(pool), self.cfg.data.n_train, self.k,
                              torch.Generator().manual_seed(0))
        return to_range(stack(pool, index), self.pixel_range)

    def real_samples(self, n: int, seed: int) -> Tensor:
        """n stacks of held-out (test) images."""
        pool = self.base.data.test_x
        draws = torch.Generator().manual_seed(seed + seeds.REAL)
        index = stack_indices(len(pool), n, self.k, draws)
        return to_range(stack(pool, index), self.pixel_range)

    def unit(self, x: Tensor) -> Tensor:
        return self.base.unit(x)

    def classifier(self):
        return self.base.classifier()

    @torch.no_grad()
    def classes(self, x: Tensor) -> Tensor:
        """The classifier's class of each channel: (n, k) labels."""
        single = self.unit(x).reshape(-1, 1, *x.shape[-2:])
        _, logits = self.classifier().features_and_logits(single)
        return logits.argmax(1).view(len(x), self.k)

    # -- pictures: the image task's, on k-channel (RGB for k = 3) images -----------------------
    def frame(self, model: Model) -> dict[str, Any]:
        return self.base.frame(model) if self.k in (1, 3) else {}

    def render(self, model: Model, run_dir: Path, samples: Tensor) -> list[Path]:
        if self.k not in (1, 3):
            return []
        from gankit.data.images import to_uint8
        from gankit.viz.grids import save_grid

        run_dir = Path(run_dir)
        return [save_grid(run_dir / "grid.png", self.base.fixed_grid(model)),
                save_grid(run_dir / "real.png",
                          to_uint8(self.unit(self.real_samples(64, 0))).numpy())]

    def save_samples(self, samples: Tensor, path: Path) -> None:
        self.base.save_samples(samples, path)
