"""2-D (or n-D) Gaussian mixtures: exact densities, mode metrics, scatter + D(x) pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit import seeds
from gankit.config import Config
from gankit.data.toy import GaussianMixture, build_mixture
from gankit.tasks.protocol import Model

FRAME_SAMPLES = 1000
GRID_RES = 80


class ToyTask:
    #: The formats save_samples writes (checked before any sample is drawn).
    sample_suffixes = (".npy", ".csv", ".png")

    def __init__(self, cfg: Config, mixture: GaussianMixture | None = None) -> None:
        d = cfg.data
        self.cfg = cfg
        self.mixture = mixture if mixture is not None else build_mixture(
            d.name, d.std, d.means, d.weights, d.radius)
        self.cache: dict[str, Any] = {}
        self.sample_shape = (self.mixture.dim,)
        centres = self.mixture.centres
        margin = max(0.5, 0.25 * float((centres.max(0).values - centres.min(0).values).max()))
        self.extent = (float(centres[:, 0].min()) - margin, float(centres[:, 0].max()) + margin,
                       float(centres[:, -1].min()) - margin, float(centres[:, -1].max()) + margin)

    def train_data(self) -> Tensor:
        """The fixed training set: data.n_train points drawn once from the mixture."""
        gen = torch.Generator().manual_seed(self.cfg.train.seed)
        return self.mixture.sample(self.cfg.data.n_train, gen)

    def real_samples(self, n: int, seed: int) -> Tensor:
        """Fresh real samples, independent of the training set."""
        return self.mixture.sample(n, torch.Generator().manual_seed(seed + seeds.REAL))

    def decision_grid(self, model: Model) -> tuple[np.ndarray, tuple[float, ...]]:
        """D(x) on a regular grid over the data (2-D mixtures only)."""
        x0, x1, y0, y1 = self.extent
        xs, ys = torch.linspace(x0, x1, GRID_RES), torch.linspace(y0, y1, GRID_RES)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")
        points = torch.stack([gx.ravel(), gy.ravel()], 1)
        return model.discriminate(points).view(GRID_RES, GRID_RES).cpu().numpy(), self.extent

    def frame(self, model: Model) -> dict[str, Any]:
        samples = model.sample(FRAME_SAMPLES).cpu().numpy()
        out = {"samples": samples}
        if self.mixture.dim == 2:
            out["d_grid"], _ = self.decision_grid(model)
        return out

    def render(self, model: Model, run_dir: Path, samples: Tensor) -> list[Path]:
        """Pictures of a finished run: scatter over D(x), and the training animation."""
        from gankit.viz.toy import save_animation, save_scatter

        written = []
        if self.mixture.dim == 2:
            d_grid, extent = self.decision_grid(model)
            path = run_dir / "samples.png"
            save_scatter(path, samples.cpu().numpy(), self.mixture.centres.numpy(), d_grid,
                         extent, title=f"{self.cfg.data.name}, step {model.step}")
            written.append(path)
            gif = save_animation(run_dir / "training.gif", run_dir / "frames",
                                 self.mixture.centres.numpy(), extent)
            if gif is not None:
                written.append(gif)
        return written

    def save_samples(self, samples: Tensor, path: Path) -> None:
        """.npy, .csv or .png (scatter) by the file's suffix."""
        arr = samples.cpu().numpy()
        if path.suffix == ".npy":
            np.save(path, arr)
        elif path.suffix == ".csv":
            header = ",".join(f"x{i}" for i in range(arr.shape[1]))
            np.savetxt(path, arr, delimiter=",", header=header, comments="")
        elif path.suffix == ".png":
            from gankit.viz.toy import save_scatter

            save_scatter(path, arr, self.mixture.centres.numpy(), None, self.extent,
                         title=f"{len(arr)} samples")
        else:
            from gankit.errors import GankitError

            raise GankitError(f"cannot write samples to '{path.name}': use .npy, .csv or .png")
