"""A folder of the user's own PNG/JPEG images (searched recursively) as one uint8 tensor.

Each image is converted to grayscale or RGB, its shorter side resized to the model's resolution
(bicubic, antialiased) and centre-cropped to a square; 16-bit grayscale PNGs are scaled to 8 bits
(65535 is white), not clipped. Files that cannot be decoded are skipped and counted in one note
(printed by the command line and by gankit.fit); the run fails only when no image at all is
usable. A folder has no test split: the test split is the training set itself, and classifier
metrics do not apply. When every image lies in a first-level sub-folder and there are at least
two, the sub-folders are the classes (sorted by name) and the images carry their labels, which
class-conditional runs (model.conditional) train on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.data.images import ImageSet
from gankit.errors import DataError

SUFFIXES = (".png", ".jpg", ".jpeg")
#: Pillow's modes of 16-bit grayscale (PNG); converting them to "L" would clip at 255.
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*")
                  if p.suffix.lower() in SUFFIXES and p.is_file())


def load_image(path: Path, resolution: int, channels: int) -> np.ndarray:
    """One image as uint8 H×W×C (C = channels), resized and centre-cropped."""
    with Image.open(path) as im:
        im = _eight_bit(im).convert("L" if channels == 1 else "RGB")
        w, h = im.size
        scale = resolution / min(w, h)
        size = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
        im = im.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
        left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
        im = im.crop((left, top, left + resolution, top + resolution))
        arr = np.asarray(im, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def _eight_bit(im: Image.Image) -> Image.Image:
    """16-bit grayscale scaled to 8 bits (x / 257, so 65535 -> 255); other images unchanged."""
    if im.mode not in SIXTEEN_BIT:
        return im
    wide = np.asarray(im, dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8))  # "L"


def load_folder(folder: str | Path | None, resolution: int, channels: int = 3) -> ImageSet:
    if not folder:
        raise DataError("data.name = 'folder' needs a folder: pass --data-dir DIR")
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist or is not a folder")
    files = image_files(folder)
    if not files:
        raise DataError(f"no PNG or JPEG images under {folder} (searched recursively for "
                        f"{', '.join(SUFFIXES)})")
    images, skipped, kept = [], [], []
    for path in files:
        try:
            images.append(load_image(path, resolution, channels))
            kept.append(path)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
            skipped.append(f"{path.name} ({type(e).__name__})")
    if not images:
        raise DataError(f"none of the {len(files)} image files under {folder} could be read "
                        f"(first: {skipped[0]})")
    notes = []
    if skipped:
        shown = ", ".join(skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3
                                          else "")
        notes.append(f"skipped {len(skipped)} of the {len(files)} image files under {folder}, "
                     f"which cannot be read as images: {shown}; training uses the other "
                     f"{len(images)}")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    names, y = class_labels(folder, kept)
    return ImageSet(name="folder", train_x=x, test_x=x, train_y=y, test_y=y, class_names=names,
                    source=str(folder), notes=notes)


def class_labels(folder: Path, files: list[Path]) -> tuple[tuple[str, ...], torch.Tensor | None]:
    """(class names, one label per file) when the first-level sub-folders are classes (every
    file inside one, at least two of them); ((), None) otherwise."""
    parts = [p.relative_to(folder).parts for p in files]
    if any(len(q) < 2 for q in parts):
        return (), None
    names = tuple(sorted({q[0] for q in parts}))
    if len(names) < 2:
        return (), None
    index = {name: i for i, name in enumerate(names)}
    return names, torch.tensor([index[q[0]] for q in parts], dtype=torch.long)
