"""Image grids: tiles of samples as one picture, the fixed-noise animation, the Keras figures.

Grids are assembled with NumPy/PIL (no axes, one pixel per pixel, scaled up for small images);
matplotlib is used only for the figures the Keras recipe draws with it (its 3×8 grid and loss plot).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from gankit.viz import frame_files


def tile(images: np.ndarray, nrow: int | None = None, pad: int = 2, fill: int = 255) -> np.ndarray:
    """uint8 N×C×H×W images as one uint8 H'×W'×C picture, nrow images per row."""
    images = np.asarray(images)
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    out = np.full((pad + ncol * (h + pad), pad + nrow * (w + pad), c), fill, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y:y + h, x:x + w] = images[i].transpose(1, 2, 0)
    return out


def to_pil(picture: np.ndarray, scale: int = 1) -> Image.Image:
    im = Image.fromarray(picture[:, :, 0] if picture.shape[2] == 1 else picture)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    return im


def auto_scale(side: int) -> int:
    """Upscale factor so small images stay visible: 28 px -> 2, 64 px -> 1."""
    return 2 if side <= 32 else 1


def save_grid(path: Path, images: np.ndarray, nrow: int | None = None,
              scale: int | None = None) -> Path:
    """uint8 N×C×H×W images as a PNG grid."""
    scale = auto_scale(images.shape[-1]) if scale is None else scale
    to_pil(tile(images, nrow), scale).save(path)
    return Path(path)


def save_grid_animation(path: Path, frames_dir: Path, ms: int = 200) -> Path | None:
    """GIF of the fixed-noise grids saved in frames/step_*.npz (key 'grid'), step in the corner."""
    files = frame_files(frames_dir)
    if not files:
        return None
    images = []
    for f in files:
        with np.load(f) as fr:
            grid, step = fr["grid"], int(fr["step"])
        im = to_pil(tile(grid), auto_scale(grid.shape[-1])).convert("RGB")
        canvas = Image.new("RGB", (im.width, im.height + 14), "white")
        canvas.paste(im, (0, 14))
        ImageDraw.Draw(canvas).text((3, 1), f"step {step}", fill="black")
        images.append(canvas.convert("P", palette=Image.Palette.ADAPTIVE))
    images[0].save(path, save_all=True, append_images=images[1:], duration=ms, loop=0)
    return Path(path)


def save_keras_grid(path: Path, images: np.ndarray) -> Path:
    """The Keras recipe's figure: 'Generated Images', 3 rows × 8 columns (first 24 images)."""
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (Agg backend)

    fig, axs = plt.subplots(3, 8, sharey=True, figsize=(10, 4))
    fig.suptitle("Generated Images")
    for i, ax in enumerate(axs.ravel()):
        img = images[i].transpose(1, 2, 0)
        ax.imshow(img[:, :, 0] if img.shape[2] == 1 else img,
                  cmap="gray" if img.shape[2] == 1 else None, vmin=0, vmax=255)
        ax.axis("off")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def save_keras_losses(path: Path, records: list[dict]) -> Path | None:
    """The Keras recipe's loss plot: Discriminator (red) and Adversarial (blue) loss per step."""
    if not records:
        return None
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (Agg backend)

    steps = [r["step"] for r in records]
    fig, ax = plt.subplots(figsize=(6, 4))
    marker = "o" if len(records) < 20 else None  # a handful of log lines: show the points
    ax.plot(steps, [r["d_loss"] for r in records], color="r", marker=marker)
    ax.plot(steps, [r["g_loss"] for r in records], color="b", marker=marker)
    ax.set_xlabel("Steps")
    ax.set_ylabel("Value")
    ax.set_title("Loss")
    ax.legend(["Discriminator", "Adversarial"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
