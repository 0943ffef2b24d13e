"""The 8×8 handwritten digits that scikit-learn ships (1,797 images): a tiny real data set.

Each 8×8 image (values 0..16) is scaled to 0..255, upsampled (bilinear) into a centred box and
padded with black, mirroring how MNIST places its 20×20 digit boxes in 28×28 frames: at
resolution r the box is round(20 r / 28) pixels. The first 1,500 images are the training split,
the remaining 297 the test split. Good for fast tests, not for judging a model.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from gankit.data.images import ImageSet

N_TRAIN = 1500


def load_digits_set(resolution: int = 28) -> ImageSet:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float().unsqueeze(1) * (255.0 / 16.0)
    y = torch.from_numpy(bunch.target.astype("int64"))
    box = max(8, round(20 * resolution / 28))
    x = F.interpolate(x, size=(box, box), mode="bilinear", align_corners=False)
    lo = (resolution - box) // 2
    x = F.pad(x, (lo, resolution - box - lo, lo, resolution - box - lo))
    x = x.round().clamp(0, 255).to(torch.uint8)
    return ImageSet(name="digits", train_x=x[:N_TRAIN], train_y=y[:N_TRAIN],
                    test_x=x[N_TRAIN:], test_y=y[N_TRAIN:],
                    class_names=tuple(str(i) for i in range(10)),
                    source="sklearn.datasets.load_digits")


def files_here(data_dir: str | None = None) -> list[Path]:
    """The digits' file inside scikit-learn (`data_dir` plays no part); [] without it."""
    try:
        import sklearn.datasets as ds
    except ImportError:
        return []
    return sorted((Path(ds.__file__).parent / "data").glob("digits.csv*"))
