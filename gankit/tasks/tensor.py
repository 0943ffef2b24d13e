"""A task over samples the user hands over: a tensor (or array, or torch Dataset) of real data.

Any shape works: vectors (n, d) are scattered when d = 2; images (n, C, H, W) with C in {1, 3}
are drawn as grids, assuming G's range `data.pixel_range`. Evaluation compares with rows drawn
from the same tensor (there is no held-out split unless the data set has one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit import seeds
from gankit.config import Config
from gankit.errors import DataError, GankitError
from gankit.tasks.protocol import Model

FRAME_SAMPLES = 1000


def as_labelled(data: Any) -> tuple[Tensor, Tensor | None]:
    """(samples, labels or None) from an (x, y) pair of tensors/arrays, or a map-style Dataset
    of (sample, label) items; anything else as `as_tensor`, without labels."""
    from torch.utils.data import Dataset

    if isinstance(data, tuple) and len(data) == 2:
        x, y = as_tensor(data[0]), torch.as_tensor(np.asarray(data[1]))
    elif isinstance(data, Dataset) and len(data) and isinstance(data[0], tuple | list):  # type: ignore[arg-type]
        items = [data[i] for i in range(len(data))]  # type: ignore[arg-type]
        try:  # class numbers; anything else (a target image, a caption) is no label
            y = torch.as_tensor([int(item[1]) for item in items])
        except (TypeError, ValueError, RuntimeError):
            return as_tensor(data), None
        x = as_tensor(torch.stack([torch.as_tensor(item[0]) for item in items]))
    else:
        return as_tensor(data), None
    if y.dim() != 1 or len(y) != len(x):
        raise DataError(f"labels must be one class number per sample: {len(x)} samples, labels "
                        f"of shape {tuple(y.shape)}")
    return x, y


def as_tensor(data: Any) -> Tensor:
    """A float32 tensor of samples from a tensor, an array or a map-style torch Dataset (whose
    items may be (sample, label) pairs: the label is dropped)."""
    from torch.utils.data import Dataset

    if isinstance(data, Dataset) and not isinstance(data, Tensor):
        items = [data[i] for i in range(len(data))]  # type: ignore[arg-type]
        items = [x[0] if isinstance(x, tuple | list) else x for x in items]
        data = torch.stack([torch.as_tensor(x) for x in items])
    x = torch.as_tensor(np.asarray(data) if not isinstance(data, Tensor) else data)
    if x.dim() < 2 or len(x) < 2:
        raise DataError(f"data must hold at least two samples, (n, ...), got shape "
                        f"{tuple(x.shape)}")
    x = x.detach().float().cpu()
    if not torch.isfinite(x).all():
        raise DataError("data holds NaN or infinite values")
    return x


class TensorTask:
    sample_suffixes = (".npy", ".png")  # .png for 2-D points or images
    def __init__(self, cfg: Config, data: Tensor, labels: Tensor | None = None) -> None:
        self.cfg = cfg
        self.data = data
        self.labels = labels  # one class per sample, or None
        self.sample_shape = tuple(data.shape[1:])
        self.cache: dict[str, Any] = {}

    @property
    def is_image(self) -> bool:
        return len(self.sample_shape) == 3 and self.sample_shape[0] in (1, 3)

    def train_data(self) -> Tensor:
        return self.data

    def train_labels(self) -> tuple[Tensor, int] | None:
        """The samples' labels and the number of classes (the largest label + 1), or None."""
        if self.labels is None:
            return None
        return self.labels, int(self.labels.max()) + 1 if len(self.labels) else 0

    def real_samples(self, n: int, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed + seeds.REAL)
        idx = (torch.randperm(len(self.data), generator=g)[:n] if n <= len(self.data)
               else torch.randint(len(self.data), (n,), generator=g))
        return self.data[idx]

    def _unit_uint8(self, x: Tensor) -> np.ndarray:
        from gankit.data.images import to_uint8, to_unit

        return to_uint8(to_unit(x.detach().float().cpu(), self.cfg.data.pixel_range)).numpy()

    def frame(self, model: Model) -> dict[str, Any]:
        if self.is_image:
            return {"grid": self._unit_uint8(model.sample(64, self.cfg.train.seed + seeds.FRAMES))}
        return {"samples": model.sample(FRAME_SAMPLES).cpu().numpy()}

    def render(self, model: Model, run_dir: Path, samples: Tensor) -> list[Path]:
        run_dir = Path(run_dir)
        if self.is_image:
            from gankit.viz.grids import save_grid

            return [save_grid(run_dir / "grid.png", self._unit_uint8(samples[:64])),
                    save_grid(run_dir / "real.png", self._unit_uint8(self.data[:64]))]
        if self.sample_shape == (2,):
            path = run_dir / "samples.png"
            self.save_samples(samples, path)
            return [path]
        return []

    def save_samples(self, samples: Tensor, path: Path) -> None:
        """.npy always; .png for 2-D points (scatter over the data) or images (a grid)."""
        path = Path(path)
        if path.suffix == ".npy":
            np.save(path, samples.cpu().numpy())
        elif path.suffix == ".png" and self.is_image:
            from gankit.viz.grids import save_grid

            save_grid(path, self._unit_uint8(samples))
        elif path.suffix == ".png" and self.sample_shape == (2,):
            import matplotlib.pyplot as plt

            import gankit.viz  # noqa: F401  (the backend: Agg, or a notebook's inline one)

            fig, ax = plt.subplots(figsize=(5, 5))
            real = self.data[:len(samples)].numpy()
            ax.scatter(real[:, 0], real[:, 1], s=3, alpha=0.4, label="data")
            arr = samples.cpu().numpy()
            ax.scatter(arr[:, 0], arr[:, 1], s=3, alpha=0.4, label="generated")
            ax.legend(loc="upper right", fontsize=7)
            fig.savefig(path, dpi=100)
            plt.close(fig)
        else:
            raise GankitError(f"cannot write samples to '{path.name}': use .npy"
                              + (" or .png" if self.is_image or self.sample_shape == (2,) else ""))
