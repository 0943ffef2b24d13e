"""2-D pictures: generated samples over the true mode centres on a D(x) background."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from gankit.viz import frame_files  # (importing gankit.viz selects the Agg backend)


def draw_scatter(ax, samples, centres, d_grid, extent, title="") -> None:
    if d_grid is not None:
        im = ax.imshow(d_grid, origin="lower", extent=extent, cmap="RdBu", vmin=0, vmax=1,
                       alpha=0.55, aspect="auto")
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="D(x)")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="k", alpha=0.5, label="G(z)")
    ax.scatter(centres[:, 0], centres[:, 1], s=40, marker="x", c="tab:orange", label="modes")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_title(title)


def save_scatter(path: Path, samples, centres, d_grid, extent, title: str = "") -> Path:
    fig, ax = plt.subplots(figsize=(5.6, 5))
    draw_scatter(ax, samples, centres, d_grid, extent, title)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_animation(path: Path, frames_dir: Path, centres, extent, ms: int = 150) -> Path | None:
    """GIF of the saved frames (samples and D(x) over training)."""
    files = frame_files(frames_dir)
    if not files:
        return None
    images = []
    fig, ax = plt.subplots(figsize=(4.2, 4))
    for f in files:
        with np.load(f) as fr:
            ax.clear()
            d_grid = fr.get("d_grid")
            if d_grid is not None:
                ax.imshow(d_grid, origin="lower", extent=extent, cmap="RdBu", vmin=0, vmax=1,
                          alpha=0.55, aspect="auto")
            s = fr["samples"]
            ax.scatter(s[:, 0], s[:, 1], s=2, c="k", alpha=0.5)
            ax.scatter(centres[:, 0], centres[:, 1], s=30, marker="x", c="tab:orange")
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            ax.set_title(f"step {int(fr['step'])}")
            ax.set_aspect("equal")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=70)
        buf.seek(0)
        images.append(Image.open(buf).convert("P", palette=Image.Palette.ADAPTIVE))
    plt.close(fig)
    images[0].save(path, save_all=True, append_images=images[1:], duration=ms, loop=0)
    return path
