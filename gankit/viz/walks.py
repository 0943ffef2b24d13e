"""Latent walks as pictures: a PNG with one walk per row (its frames left to right), or a GIF in
which every walk moves at once, there and back (frames 1 … K … 2, looping).

`gankit sample RUN --interpolate K --out walk.gif|png` draws them (gankit.latent makes the walks).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.errors import GankitError
from gankit.viz.grids import auto_scale, tile, to_pil

SUFFIXES = (".png", ".gif", ".npy")
#: How long a GIF shows each frame.
FRAME_MS = 80


def save_walk(path: Path, images: np.ndarray, per_row: int | None = None) -> Path:
    """uint8 (walks, frames, C, H, W) images as a PNG (a walk per row) or a GIF (.gif) whose
    frame tiles the walks `per_row` to a row (default: a square)."""
    walks, frames = images.shape[:2]
    scale = auto_scale(images.shape[-1])
    if Path(path).suffix == ".png":
        to_pil(tile(images.reshape(walks * frames, *images.shape[2:]), nrow=frames),
               scale).save(path)
        return Path(path)
    per_row = per_row or math.ceil(math.sqrt(walks))
    there_and_back = [*range(frames), *range(frames - 2, 0, -1)]
    pictures = [to_pil(tile(images[:, i], nrow=per_row), scale).convert("RGB")
                for i in there_and_back]
    palette = [p.convert("P", palette=Image.Palette.ADAPTIVE) for p in pictures]
    palette[0].save(path, save_all=True, append_images=palette[1:], duration=FRAME_MS, loop=0)
    return Path(path)


def check_target(out: Path, sample_shape: tuple[int, ...]) -> None:
    """Refuse a walk file this run cannot write, before anything is drawn."""
    if out.suffix not in SUFFIXES:
        raise GankitError(f"cannot write a latent walk to '{out.name}': use .gif (animated), "
                          ".png (a walk per row) or .npy (the samples)")
    if out.suffix != ".npy" and not (len(sample_shape) == 3 and sample_shape[0] in (1, 3)):
        shape = "×".join(str(s) for s in sample_shape)
        raise GankitError(f"a .gif or .png walk needs image samples (1 or 3 channels); this "
                          f"run's samples have shape {shape}: write .npy instead")


def walk_to_file(run_dir: Path, frames: int, walks: int, out: Path, seed: int | None = None,
                 truncation: float | None = None, trust_code: bool = False,
                 classes: str | None = None) -> Path:
    """Draw `walks` latent walks of `frames` steps from a run into a file; the run folder is
    only read. Images go to .gif/.png/.npy (float32 in [0, 1]), other samples to .npy.
    A conditional run's walks keep one class each: `classes` C (every walk of class C) or
    'all' (`walks` walks of every class, a class per GIF row; default: the classes in turn)."""
    import torch

    from gankit import run, runinfo
    from gankit.data.images import to_uint8, to_unit
    from gankit.latent import check_truncation, check_walk, walk_from
    from gankit.tasks import build_task

    check_walk(frames, walks)
    out = Path(out)
    if seed is not None and not 0 <= seed < 2**63:
        raise GankitError(f"--seed must be in [0, 2^63), got {seed}")
    if out.is_dir():
        raise GankitError(f"--out {out} is a folder; name a file, e.g. {out / 'walk.gif'}")
    trainer = run.open_trainer(run_dir, write=False, trust_code=trust_code,
                               task_factory=runinfo.sampling_tasks(Path(run_dir), build_task))
    check_target(out, tuple(trainer.task.sample_shape))
    check_truncation(trainer.cfg.prior.name, truncation)
    asked = run.asked_classes(trainer, classes, walks)  # --class: conditional runs
    per_row = walks if asked is not None and len(asked) > walks else None  # 'all': a class a row
    walks = walks if asked is None else len(asked)
    seed = int(torch.randint(0, 2**31 - 1, ())) if seed is None else seed
    x = walk_from(trainer, walks, frames, seed, truncation, asked).float().cpu()
    image = len(trainer.task.sample_shape) == 3
    if image:
        x = to_unit(x, trainer.cfg.data.pixel_range)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".npy":
            np.save(out, x.numpy())
        else:
            save_walk(out, to_uint8(x).numpy(), per_row)
    except OSError as e:
        raise GankitError(f"cannot write {out}: {e.strerror or e}") from None
    return out
