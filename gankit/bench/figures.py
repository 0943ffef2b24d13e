"""The panel figure of a toy suite: one scatter of generated samples per method (seed 0), over
the true mode centres, like Figure 2 of Shah, Tu & Wagh's notes "Generative Adversarial Networks
- II" (grid: GAN collapses, PacGAN covers)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from gankit.bench.runner import Cell, Plan, cell_config


def panel(plan: Plan, results: list[dict[str, Any]], cells_dir: Path, path: Path,
          data: str, seed: int = 0) -> Path | None:
    """Scatter per method of `data` at `seed`, titled with its modes and reverse KL."""
    import matplotlib.pyplot as plt

    from gankit.data.toy import build_mixture
    from gankit.viz.toy import draw_scatter

    shown = []
    for method in plan.methods:
        cell = Cell(data, method, seed, cell_config(plan, data, method, seed).to_toml())
        file = Path(cells_dir) / f"{cell.key}.npy"
        result = next((r for r in results if r["data"] == data and r["method"] == method.name
                       and r["seed"] == seed), None)
        if file.exists() and result is not None:
            shown.append((method.name, np.load(file), result))
    if not shown:
        return None
    centres = build_mixture(data).centres.numpy()
    span = float((centres.max(0) - centres.min(0)).max())
    margin = max(0.5, 0.25 * span)
    extent = (centres[:, 0].min() - margin, centres[:, 0].max() + margin,
              centres[:, 1].min() - margin, centres[:, 1].max() + margin)
    cols = min(4, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, samples, result) in zip(axes.flat, shown):
        m = result["metrics"]
        title = f"{name}\nmodes {m['modes']:.0f}, rKL {m['reverse_kl']:.2f}"
        draw_scatter(ax, samples, centres, None, extent, title)
        ax.title.set_fontsize(9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    steps = shown[0][2]["steps"]
    fig.suptitle(f"{data}: {len(shown[0][1]):,} samples per method, seed {seed}, "
                 f"{steps:,} steps, protocol {plan.protocol.name}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
