"""Small image data sets the tests write themselves."""

from __future__ import annotations

import numpy as np

from gankit.data.idx import write_idx
from gankit.data.mnist import FILES


def write_mnist_like(folder, n_train=40, n_test=20, gz=True, seed=0):
    """Tiny MNIST-format files with the standard names (random pixels, labels 0..9 in turn)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("test", n_test)):
        write_idx(folder / (FILES[(split, "images")] + suffix),
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / (FILES[(split, "labels")] + suffix),
                  (np.arange(n) % 10).astype(np.uint8))
    return folder
