"""Image data sets as uint8 tensors at the model's resolution, and where gankit caches things.

Every image source (MNIST, Fashion-MNIST, the 8×8 digits, a folder) is turned into one `ImageSet`:
train and test images as uint8 N×C×H×W at `data.resolution`, with labels when the set has them.
Converting to the training range ([-1, 1] or [0, 1]) happens once, in the image task.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

#: Environment variable naming a folder that holds data sets (IDX files or sub-folders).
DATA_ENV = "GANKIT_DATA_DIR"
#: Environment variable overriding the cache folder (downloads, trained domain classifiers).
CACHE_ENV = "GANKIT_CACHE_DIR"


def cache_dir() -> Path:
    """$GANKIT_CACHE_DIR, else $XDG_CACHE_HOME/gankit, else ~/.cache/gankit."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gankit"


@dataclass
class ImageSet:
    """A data set at the model's resolution: uint8 images, int64 labels or None."""

    name: str
    train_x: Tensor
    test_x: Tensor
    train_y: Tensor | None = None
    test_y: Tensor | None = None
    class_names: tuple[str, ...] = ()
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        return self.train_y is not None and self.test_y is not None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def checksum(self) -> str:
        """SHA-256 of the training images and labels as prepared: keys cached classifiers."""
        h = hashlib.sha256()
        h.update(f"{self.name}:{tuple(self.train_x.shape)}".encode())
        h.update(self.train_x.contiguous().numpy().tobytes())
        if self.train_y is not None:
            h.update(self.train_y.numpy().astype("int64").tobytes())
        return h.hexdigest()


def resize_square(x: Tensor, side: int) -> Tensor:
    """uint8 N×C×H×W square images to side×side (antialiased bilinear); a no-op at equal size."""
    if x.shape[-1] == side and x.shape[-2] == side:
        return x
    y = F.interpolate(x.float(), size=(side, side), mode="bilinear", align_corners=False,
                      antialias=True)
    return y.round().clamp(0, 255).to(torch.uint8)


def to_range(x: Tensor, pixel_range: str) -> Tensor:
    """uint8 images to float32 in [-1, 1] ('signed') or [0, 1] ('unit')."""
    x = x.float() / 255.0
    return x * 2 - 1 if pixel_range == "signed" else x


def to_unit(x: Tensor, pixel_range: str) -> Tensor:
    """Model-range float images back to [0, 1], clamped."""
    x = (x + 1) / 2 if pixel_range == "signed" else x
    return x.clamp(0, 1)


def to_uint8(x_unit: Tensor) -> Tensor:
    return (x_unit.clamp(0, 1) * 255).round().to(torch.uint8)
