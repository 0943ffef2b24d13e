"""Mode collapse over training: the scatter grid (methods × steps), the mode-hopping chart (the
share of samples at each mode against the step) and the metric curves, from the cells of a
`gankit bench unrolled` / `pacgan-grid` run (gankit/bench/curves.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

import gankit.viz  # noqa: F401  (selects the Agg backend)
from gankit.viz.toy import draw_scatter

Curve = list[dict[str, Any]]


def _extent(centres: np.ndarray) -> tuple[float, float, float, float]:
    margin = max(0.5, 0.25 * float((centres.max(0) - centres.min(0)).max()))
    return (centres[:, 0].min() - margin, centres[:, 0].max() + margin,
            centres[:, 1].min() - margin, centres[:, 1].max() + margin)


def column_steps(curve: Curve, columns: int) -> list[int]:
    """`columns` evaluation steps spread evenly over the curve, the first and last included."""
    steps = [r["step"] for r in curve]
    if len(steps) <= columns:
        return steps
    return [steps[round(i * (len(steps) - 1) / (columns - 1))] for i in range(columns)]


def scatter_grid(rows: list[tuple[str, Path, Curve]], centres: np.ndarray, path: Path,
                 columns: int = 6, title: str = "") -> Path:
    """One row per method (name, its samples folder, its curve), one column per step."""
    steps = column_steps(rows[0][2], columns)
    extent = _extent(centres)
    fig, axes = plt.subplots(len(rows), len(steps), figsize=(2.1 * len(steps), 2.2 * len(rows)),
                             squeeze=False)
    for i, (name, samples_dir, curve) in enumerate(rows):
        by_step = {r["step"]: r for r in curve}
        for j, step in enumerate(steps):
            ax = axes[i, j]
            file = Path(samples_dir) / f"step_{step:07d}.npy"
            if not file.exists() or step not in by_step:
                ax.axis("off")
                continue
            draw_scatter(ax, np.load(file), centres, None, extent,
                         f"step {step:,}: {by_step[step]['modes']} modes")
            ax.title.set_fontsize(7)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
    return _save(fig, path, title)


def mode_shares(grid: dict[str, list[tuple[int, Curve]]], n_modes: int, path: Path,
                title: str = "", key: str = "near_counts") -> Path:
    """Rows: methods; columns: seeds. Stacked areas: the share of all samples near each mode
    (`key` of the curve rows), against the step. A collapsed G that rotates shows one colour at
    a time, changing; a G that covers the modes shows equal bands."""
    cols = max(len(v) for v in grid.values())
    fig, axes = plt.subplots(len(grid), cols, figsize=(3.4 * cols, 2.0 * len(grid)),
                             squeeze=False, sharex=True, sharey=True)
    cmap = plt.get_cmap("tab10" if n_modes <= 10 else "hsv")
    colours = [cmap(k if n_modes <= 10 else k / n_modes) for k in range(n_modes)]
    for i, (name, seeds) in enumerate(grid.items()):
        for j in range(cols):
            ax = axes[i, j]
            if j >= len(seeds):
                ax.axis("off")
                continue
            seed, curve = seeds[j]
            steps = np.array([r["step"] for r in curve])
            shares = np.array([[c / r["n_samples"] for c in r[key]] for r in curve]).T
            ax.stackplot(steps, shares, colors=colours, linewidth=0)
            ax.set_ylim(0, 1)
            ax.set_title(f"{name}, seed {seed}", fontsize=8)
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel("share at each mode", fontsize=7)
            if i == len(grid) - 1:
                ax.set_xlabel("step", fontsize=7)
    return _save(fig, path, title)


def _save(fig, path: Path, title: str) -> Path:
    """Title, layout, write and close: the common end of every figure here."""
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


METRIC_LABELS = {"modes": "modes (≥ 1 HQ sample)", "hq_fraction": "high-quality fraction",
                 "reverse_kl": "reverse KL"}


def metric_curves(grid: dict[str, list[tuple[int, Curve]]], path: Path, n_modes: int,
                  title: str = "", published: dict[str, dict[str, float]] | None = None) -> Path:
    """Modes, HQ fraction and reverse KL against the step: the mean over seeds and, shaded, the
    range (min to max); dashed: the published end-of-training value, where there is one."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    colours = plt.get_cmap("tab10")
    for i, (name, seeds) in enumerate(grid.items()):
        n = min(len(c) for _, c in seeds)
        steps = np.array([r["step"] for r in seeds[0][1][:n]])
        for ax, metric in zip(axes, METRIC_LABELS):
            values = np.array([[float(r[metric]) for r in c[:n]] for _, c in seeds])
            values[~np.isfinite(values)] = np.nan
            with np.errstate(all="ignore"):
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = np.nanmean(values, 0)
                    low, high = np.nanmin(values, 0), np.nanmax(values, 0)
            ax.plot(steps, mean, color=colours(i), label=name, lw=1.4)
            if len(seeds) > 1:
                ax.fill_between(steps, low, high, color=colours(i), alpha=0.15, lw=0)
            ref = (published or {}).get(name, {}).get(metric)
            if ref is not None:
                ax.axhline(ref, color=colours(i), ls="--", lw=0.9)
    for ax, metric in zip(axes, METRIC_LABELS):
        ax.set_title(METRIC_LABELS[metric], fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylim(0, n_modes + 0.5)
    axes[1].set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    return _save(fig, path, title)
