"""Image data sets: the training tensor, held-out real images for evaluation, fixed-noise sample
grids every `frame_every` steps, and the pictures of a finished run.

Pixels live in the training range `data.pixel_range` ([-1, 1] for tanh generators, [0, 1] for
the Keras recipe's sigmoid); metrics and pictures convert to [0, 1] through `unit()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit import seeds
from gankit.config import Config
from gankit.data.images import ImageSet, to_range, to_uint8, to_unit
from gankit.errors import DataError, GankitError
from gankit.registry import METRICS
from gankit.tasks.protocol import Model

GRID_SIZE = 64  # 8×8 fixed-noise grid


class ImageTask:
    #: The formats save_samples writes (checked before any sample is drawn).
    sample_suffixes = (".png", ".npy", ".npz")

    def __init__(self, cfg: Config, data: ImageSet | None = None) -> None:
        d = cfg.data
        self.cfg = cfg
        if data is None:
            from gankit.data.sets import load_image_set

            data = load_image_set(d)
        self.data = data
        self.cache: dict[str, Any] = {}  # metrics' features of sample sets
        self.pixel_range = d.pixel_range
        self.sample_shape = (d.channels, d.resolution, d.resolution)
        shape = tuple(self.data.train_x.shape[1:])
        if shape != self.sample_shape:
            raise DataError(f"{self.data.name} images have shape {shape}, the config expects "
                            f"{self.sample_shape}")
        needs = [m for m in cfg.eval.metrics if "labels" in METRICS.info(m)["needs"]]
        if needs and not self.data.labelled:
            raise DataError(
                f"eval.metrics {', '.join(needs)} need a labelled data set (mnist, fashion-mnist, "
                f"digits) for the domain classifier; {self.data.name} has no labels: set "
                "eval.metrics=[] or pass --inception-weights for the Inception FID"
            )
        self._classifier = None

    # -- data -----------------------------------------------------------------------------------
    def train_data(self) -> Tensor:
        """The training images in the training range; at most data.n_train (a fixed subset)."""
        return to_range(self._subset(self.data.train_x), self.pixel_range)

    def train_labels(self) -> tuple[Tensor, int] | None:
        """The training images' labels (row for row) and the number of classes; None without."""
        if self.data.train_y is None:
            return None
        return self._subset(self.data.train_y), self.data.n_classes

    def _subset(self, rows: Tensor) -> Tensor:
        """The fixed data.n_train rows of the training split (all of them when it has fewer)."""
        n = self.cfg.data.n_train
        if n < len(rows):
            idx = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0))[:n]
            rows = rows[idx.sort().values]
        return rows

    def real_samples(self, n: int, seed: int) -> Tensor:
        """n held-out real images (the test split; drawn with replacement past its size)."""
        return to_range(self.real_uint8(n, seed, split="test"), self.pixel_range)

    def real_uint8(self, n: int, seed: int, split: str = "test") -> Tensor:
        pool = self.data.test_x if split == "test" else self.data.train_x
        g = torch.Generator().manual_seed(seed + seeds.REAL)
        idx = (torch.randperm(len(pool), generator=g)[:n] if n <= len(pool)
               else torch.randint(len(pool), (n,), generator=g))
        return pool[idx]

    def unit(self, x: Tensor) -> Tensor:
        """Images in the training range -> float32 [0, 1] on the CPU."""
        return to_unit(x.detach().float().cpu(), self.pixel_range)

    def classifier(self):
        """The domain classifier of this data set (trained once, then loaded from the cache)."""
        if self._classifier is None:
            from gankit.metrics.classifier import domain_classifier

            self._classifier = domain_classifier(self.data)
        return self._classifier

    # -- pictures -------------------------------------------------------------------------------
    def fixed_grid(self, model: Model) -> np.ndarray:
        """uint8 64×C×H×W samples from the run's fixed noise (the same z at every frame); for a
        conditional run each row of 8 is one class (the first 8 classes)."""
        z_seed = self.cfg.train.seed + seeds.FRAMES
        if self.cfg.model.conditional == "none" or self.data.n_classes < 2:
            return to_uint8(self.unit(model.sample(GRID_SIZE, z_seed))).numpy()
        rows = (torch.arange(GRID_SIZE) // 8) % self.data.n_classes
        return to_uint8(self.unit(model.sample(GRID_SIZE, z_seed, labels=rows))).numpy()

    def frame(self, model: Model) -> dict[str, Any]:
        return {"grid": self.fixed_grid(model)}

    def render(self, model: Model, run_dir: Path, samples: Tensor) -> list[Path]:
        """grid.png (fixed noise), real.png, training.gif; Keras-recipe runs also two figures."""
        from gankit.viz.curves import read_log
        from gankit.viz.grids import (
            save_grid,
            save_grid_animation,
            save_keras_grid,
            save_keras_losses,
        )

        run_dir = Path(run_dir)
        grid = self.fixed_grid(model)
        written = [save_grid(run_dir / "grid.png", grid),
                   save_grid(run_dir / "real.png", self.real_uint8(GRID_SIZE, 0).numpy())]
        gif = save_grid_animation(run_dir / "training.gif", run_dir / "frames")
        if gif is not None:
            written.append(gif)
        if self.cfg.model.g_arch == "keras-mnist":
            written.append(save_keras_grid(run_dir / "keras_grid.png", grid[:24]))
            loss = save_keras_losses(run_dir / "keras_loss.png",
                                       read_log(run_dir / "metrics.jsonl"))
            if loss is not None:
                written.append(loss)
        return written

    def save_samples(self, samples: Tensor, path: Path) -> None:
        """.png (a grid), .npy (float32 N×C×H×W in [0, 1]) or .npz (uint8 'images')."""
        from gankit.viz.grids import save_grid

        unit = self.unit(samples)
        if path.suffix == ".png":
            save_grid(path, to_uint8(unit).numpy())
        elif path.suffix == ".npy":
            np.save(path, unit.numpy())
        elif path.suffix == ".npz":
            np.savez_compressed(path, images=to_uint8(unit).numpy())
        else:
            raise GankitError(f"cannot write image samples to '{path.name}': use .png, .npy or "
                              ".npz")
