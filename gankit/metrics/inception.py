"""The standard Inception FID, only from a weights file the user supplies.

gankit never downloads weights. `--inception-weights PATH` names a TorchScript Inception-v3
feature extractor with the interface of the one StyleGAN2-ADA's metrics use
(`inception-2015-12-05.pt`: called as `net(images_uint8_NCHW_RGB, return_features=True)`,
returning N×2048 pool features; it resizes to 299×299 itself). Before loading, the file's SHA-256
must equal `eval.inception_sha256` or the first word of `PATH.sha256` (as `sha256sum` writes it);
a missing file, a missing checksum or a mismatch is a clear error. The Fréchet statistics are
torchmetrics' FID, fed with these features.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError, DataError
from gankit.metrics.registry import register

METRIC = "fid_inception"


def expected_sha256(path: Path, given: str | None) -> str:
    if given:
        return given.strip().lower()
    sidecar = Path(str(path) + ".sha256")
    if sidecar.is_file():
        words = sidecar.read_text().split()
        if words:
            return words[0].lower()
    raise ConfigError(
        f"no checksum for the Inception weights {path}: pass eval.inception_sha256=HEX (the "
        f"published SHA-256 of the file) or write it into {sidecar}"
    )


def load_inception(path: str | Path, sha256: str | None = None) -> nn.Module:
    """The verified TorchScript feature extractor at `path`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"Inception weights {path} not found; gankit never downloads weights: "
                        "pass --inception-weights PATH to a local copy")
    want = expected_sha256(path, sha256)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != want:
        raise DataError(f"Inception weights {path} fail their checksum (SHA-256 "
                        f"{h.hexdigest()[:16]}…, expected {want[:16]}…): a different or damaged "
                        "file")
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated, but it is the file format
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as e:
        raise DataError(f"{path} is not a TorchScript module ({str(e).splitlines()[0][:120]})"
                        ) from None


class InceptionFeatures(nn.Module):
    """[0, 1] images (1 or 3 channels) -> 2048-d features of the supplied network."""

    num_features = 2048

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        return self.net(x, return_features=True).float()


def with_inception(cfg, weights: str | Path):
    """The config with eval.inception_weights set and fid_inception among the metrics."""
    metrics = list(cfg.eval.metrics)
    if METRIC not in metrics:
        metrics.append(METRIC)
    return cfg.with_overrides({"eval.inception_weights": str(weights), "eval.metrics": metrics})


@register(METRIC, higher_is_better=False, needs=("images", "inception"))
def _fid_inception(fake, real, task) -> float:
    from torchmetrics.image.fid import FrechetInceptionDistance

    e = task.cfg.eval
    if not e.inception_weights:
        raise ConfigError("fid_inception needs Inception weights: pass --inception-weights PATH")
    feats = InceptionFeatures(load_inception(e.inception_weights, e.inception_sha256))
    fid = FrechetInceptionDistance(feature=feats)
    for chunk in task.unit(real).split(250):
        fid.update(chunk, real=True)
    for chunk in task.unit(fake).split(250):
        fid.update(chunk, real=False)
    return float(fid.compute())
