"""One frame of a lab run, as plain numbers for the page: G's samples and how they moved, D on a
grid, the exact D* beside it, and the mode metrics of gankit's registry (PacGAN's definitions).

The samples come from the same latent draws every frame, so an arrow from a sample's position a
few frames ago to its position now shows where G moved it.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any

import numpy as np
import torch

from gankit.lab import theory_panel
from gankit.lab.session import LabRun
from gankit.metrics.modes import hq_fraction, mode_histogram, modes_recovered, reverse_kl
from gankit.metrics.wasserstein import wasserstein1

GRID_RES = 40  # D and D* on a GRID_RES × GRID_RES grid over the data
N_SAMPLES = 512  # G's samples drawn each frame (also the kernel density's)
N_ARROWS = 100  # the first N_ARROWS samples get an arrow from their earlier position ...
ARROW_FRAMES = 4  # ... that many frames ago (about a second)
N_W1 = 256  # W1 between this many samples of G and fresh real samples (exact assignment)
SAMPLE_SEED = 20_251  # the fixed latent draws of the frames
REAL_SEED = 31_337


def extent(centres: np.ndarray) -> tuple[float, float, float, float]:
    """A square view around the modes, with a margin (as gankit's own 2-D pictures)."""
    lo, hi = centres.min(0), centres.max(0)
    half = 0.5 * float((hi - lo).max()) + max(0.5, 0.25 * float((hi - lo).max()))
    cx, cy = (lo + hi) / 2
    return (float(cx) - half, float(cx) + half, float(cy) - half, float(cy) + half)


def grid_points(view: tuple[float, float, float, float], res: int = GRID_RES) -> np.ndarray:
    """res² points, row by row from the bottom (y0) up, each row from x0 to x1."""
    x0, x1, y0, y1 = view
    gx, gy = np.meshgrid(np.linspace(x0, x1, res), np.linspace(y0, y1, res), indexing="xy")
    return np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)


def numbers(values: np.ndarray, digits: int = 4) -> list[float]:
    """A flat list of finite, rounded floats (JSON has no inf or NaN)."""
    flat = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel(), nan=0.0, posinf=1e6,
                         neginf=-1e6)
    return np.round(flat, digits).tolist()


def finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def load_w1() -> None:
    """Load what W1 needs (its solver's library: seconds of imports on a busy machine), so that
    the lab can do it beside training after the first frame instead of before it."""
    wasserstein1(np.zeros((1, 2)), np.ones((1, 2)))


class FrameMaker:
    """Makes the frames of one run; remembers the last samples for the arrows. `w1_ready`: W1 is
    left out (None) until it is set (see `load_w1`); without it W1 is in every frame."""

    def __init__(self, run: LabRun, w1_ready: threading.Event | None = None) -> None:
        self.run, self.w1_ready = run, w1_ready
        mix = run.mixture
        self.centres = mix.centres.numpy()
        self.view = extent(self.centres)
        self.points = grid_points(self.view)
        self.bandwidth = theory_panel.bandwidth(self.view[1] - self.view[0])
        self.real = mix.sample(N_W1, torch.Generator().manual_seed(REAL_SEED)).numpy()
        self.previous: deque[np.ndarray] = deque(maxlen=ARROW_FRAMES)

    def background(self) -> dict[str, Any]:
        """What does not change during a run: the true mixture and the view."""
        mix = self.run.mixture
        return {"centres": numbers(self.centres), "std": mix.std,
                "weights": numbers(mix.weights.numpy()), "extent": list(self.view),
                "grid_res": GRID_RES, "critic": self.run.critic, "bandwidth": self.bandwidth,
                "cross_entropy": self.run.cross_entropy}

    def metrics(self, samples: np.ndarray) -> dict[str, Any]:
        """modes, HQ fraction, reverse KL, W1, and each mode's share of the high-quality samples
        (all zero when there are none): a collapsed G gives one mode the whole share."""
        mix = self.run.mixture
        fake = torch.from_numpy(samples)
        counts = mode_histogram(fake, mix.centres, mix.std).numpy()
        return {"modes": modes_recovered(fake, mix.centres, mix.std),
                "n_modes": len(self.centres),
                "hq": hq_fraction(fake, mix.centres, mix.std),
                "rkl": finite(reverse_kl(fake, mix.centres, mix.std, mix.weights)),
                "w1": wasserstein1(samples[:N_W1], self.real) if self.w1_ready is None
                or self.w1_ready.is_set() else None,
                "shares": numbers(counts / max(counts.sum(), 1), 3)}

    def make(self, with_value: bool) -> dict[str, Any]:
        """The frame now; `with_value`: also C(G) (a Monte Carlo estimate, the costly part)."""
        samples = self.run.sample(N_SAMPLES, SAMPLE_SEED)
        samples = np.nan_to_num(samples, nan=0.0, posinf=1e6, neginf=-1e6)
        p_data, p_g = theory_panel.smoothed_pair(self.run.mixture, samples, self.bandwidth)
        frame: dict[str, Any] = {
            "step": self.run.step,
            "samples": numbers(samples, 3),
            "arrows_from": numbers(self.previous[0][:N_ARROWS], 3) if self.previous else None,
            "d": numbers(self.run.d_values(self.points), 4),
            "d_star": numbers(theory_panel.optimal_d(p_data, p_g, self.points), 4),
            "metrics": self.metrics(samples),
        }
        if with_value:
            value, se = theory_panel.value_at_optimum(p_data, p_g, seed=self.run.step)
            frame["c_of_g"], frame["c_of_g_se"] = finite(value), finite(se)
        self.previous.append(samples[:N_ARROWS])
        return frame

    def densities(self) -> tuple[int, Any, Any]:
        """(step, smoothed p_data, kernel density of G now): what Theorem 1's check needs, so
        that the check (seconds) can run apart from training."""
        samples = self.run.sample(N_SAMPLES, SAMPLE_SEED)
        pair = theory_panel.smoothed_pair(self.run.mixture, samples, self.bandwidth)
        return (self.run.step, *pair)


def theorem(step: int, p_data: Any, p_g: Any) -> dict[str, Any]:
    """Theorem 1's two sides for G at `step` (seconds: the JSD by quadrature)."""
    result = theory_panel.theorem_check(p_data, p_g, seed=step)
    return {"step": step, **{k: finite(v) for k, v in result.items()}}
