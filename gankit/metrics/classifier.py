"""Image quality offline: a small CNN trained on the data set's own labels, and metrics in its
feature space.

No pretrained network can be downloaded on the machines gankit targets, so each labelled image
data set gets its own *domain classifier*. For MNIST and Fashion-MNIST at 28×28 the classifiers
ship inside gankit (gankit/metrics/weights: trained once by benchmarks/classifiers.py, each file
checked against its SHA-256 and used only for the exact training data it was trained on), so the
same samples give the same numbers on every machine, the role the Inception network plays for FID.
Any other labelled set (a resized or changed data set, the 8×8 digits) gets one trained on first
use, with a progress bar, and cached under the user cache, keyed by the SHA-256 of the prepared
training set and the recipe version. Its test accuracy is reported (`classifier_accuracy`) so
every number below can be read against the instrument that measured it.

Metrics (fake and real images in the task's range; real = held-out test images):
- fd_classifier: Fréchet distance between Gaussians fitted to the 128-d penultimate features;
- fd_classifier_floor / _noisy / _blurred: the reference ladder, computed the same way with
  real training images in place of the fakes: unchanged (the real-vs-real floor), with Gaussian
  noise σ = 0.1 on [0, 1] pixels (clamped), and Gaussian-blurred (σ = 1 px);
- kid_classifier: kernel inception distance (cubic polynomial kernel MMD², 100 subsets);
- is_classifier: Inception Score with the classifier's class probabilities;
- classes_present: classes that receive at least a tenth of their real share of predictions;
- class_kl: KL(predicted class histogram of fakes ‖ that of the real images).
The statistics are torchmetrics' (FID, KID, IS); features are computed once per image set and
fed to those metrics through an identity feature module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.images import ImageSet, cache_dir
from gankit.errors import GankitError
from gankit.metrics.registry import register

#: The shipped weights and their manifest (file, SHA-256, data checksum, accuracy, command).
WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
RECIPE = "cnn-v1"  # bump when the architecture or training recipe changes (invalidates caches)
FEATURES = 128
NOISE_SIGMA = 0.1
BLUR_SIGMA = 1.0


class DomainCNN(nn.Module):
    """Three 3×3 conv blocks (32, 64, 128 channels, BatchNorm, max-pooling), a 128-d feature
    layer and a linear class head. Input: images in [0, 1]."""

    def __init__(self, channels: int, resolution: int, n_classes: int) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                    nn.ReLU(), nn.MaxPool2d(2)]

        self.body = nn.Sequential(*block(channels, 32), *block(32, 64), *block(64, 128),
                                  nn.Flatten())
        side = resolution // 8
        self.embed = nn.Sequential(nn.Linear(128 * side * side, FEATURES, bias=False),
                                   nn.BatchNorm1d(FEATURES), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURES, n_classes))

    def features(self, x: Tensor) -> Tensor:
        return self.embed(self.body((x - 0.5) / 0.5))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class DomainClassifier:
    """A trained DomainCNN in inference mode, with its test accuracy."""

    def __init__(self, net: DomainCNN, accuracy: float, path: Path | None = None) -> None:
        self.net = net.eval().requires_grad_(False)
        self.accuracy = accuracy
        self.path = path

    @torch.no_grad()
    def features_and_logits(self, x_unit: Tensor, batch: int = 1000) -> tuple[Tensor, Tensor]:
        feats, logits = [], []
        for chunk in x_unit.float().split(batch):
            f = self.net.features(chunk)
            feats.append(f)
            logits.append(self.net.head(f))
        return torch.cat(feats), torch.cat(logits)


# -- training and caching -----------------------------------------------------------------------
def _epochs(n_train: int) -> int:
    """4 epochs for MNIST-sized sets; about 15k image presentations for small ones."""
    return max(4, min(30, math.ceil(15_000 / max(n_train, 1))))


def train_classifier(data: ImageSet, seed: int = 0, batch: int = 128, log: bool = False,
                     progress: bool = True, where: str = "") -> DomainClassifier:
    """Train on data.train_x/train_y (Adam + one-cycle schedule), report test accuracy.

    Deterministic for a seed on one thread; `progress` shows a bar naming the data set and where
    the result will be cached (`where`), since this takes minutes for the MNIST-sized sets."""
    assert data.train_y is not None and data.test_y is not None
    x = data.train_x.float() / 255
    y = data.train_y
    c, r = x.shape[1], x.shape[-1]
    # enable_grad: the first metric that needs the classifier may be computed under no_grad
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(seed)
        net = DomainCNN(c, r, data.n_classes)
        epochs = _epochs(len(x))
        steps = epochs * math.ceil(len(x) / batch)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        g = torch.Generator().manual_seed(seed)
        net.train()
        started = time.perf_counter()
        bar = _progress(progress)
        with bar:
            job = bar.add_task(f"one-time training of the {data.name} domain classifier"
                               + (f" (cached at {where})" if where else ""), total=steps)
            for epoch in range(epochs):
                order = torch.randperm(len(x), generator=g)
                for idx in order.split(batch):
                    loss = F.cross_entropy(net(x[idx]), y[idx], label_smoothing=0.05)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    bar.advance(job)
                if log:
                    print(f"classifier epoch {epoch + 1}/{epochs}: loss {loss.item():.3f} "
                          f"({time.perf_counter() - started:.0f} s)", flush=True)
    clf = DomainClassifier(net, 0.0)
    _, logits = clf.features_and_logits(data.test_x.float() / 255)
    clf.accuracy = float((logits.argmax(1) == data.test_y).float().mean())
    return clf


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeRemainingColumn(), disable=not enabled,
                    transient=False)


def classifier_path(data: ImageSet) -> Path:
    return cache_dir() / "classifiers" / f"{data.name}-{RECIPE}-{data.checksum()[:20]}.pt"


class WeightsError(GankitError):
    """A shipped weight file that does not match its recorded SHA-256."""


def manifest() -> dict[str, dict]:
    """The shipped classifiers: data set name -> its record (empty when none are shipped)."""
    if not MANIFEST.is_file():
        return {}
    return json.loads(MANIFEST.read_text())


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def shipped_classifier(data: ImageSet) -> DomainClassifier | None:
    """The classifier shipped with gankit for exactly this training set, else None."""
    entry = manifest().get(data.name)
    if entry is None or entry.get("recipe") != RECIPE:
        return None
    if entry["data_checksum"] != data.checksum():
        return None  # another resolution or a changed file: not the data it was trained on
    path = WEIGHTS_DIR / entry["file"]
    if not path.is_file() or file_sha256(path) != entry["sha256"]:
        raise WeightsError(f"the shipped classifier {path} is missing or does not match its "
                           "SHA-256; reinstall gankit")
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = DomainCNN(data.train_x.shape[1], data.train_x.shape[-1], data.n_classes)
    net.load_state_dict(state["net"])
    return DomainClassifier(net, float(entry["accuracy"]), path)


def domain_classifier(data: ImageSet, log: bool = False, shipped: bool = True
                      ) -> DomainClassifier:
    """The shipped classifier of this exact training set; else the cached one, trained (and
    cached) when missing."""
    if shipped:
        clf = shipped_classifier(data)
        if clf is not None:
            return clf
    path = classifier_path(data)
    c, r = data.train_x.shape[1], data.train_x.shape[-1]
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            net = DomainCNN(c, r, data.n_classes)
            net.load_state_dict(state["net"])
            return DomainClassifier(net, float(state["accuracy"]), path)
        except Exception:  # a torn or foreign file: train again and overwrite it
            pass
    clf = train_classifier(data, log=log, where=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        torch.save({"net": clf.net.state_dict(), "accuracy": clf.accuracy, "recipe": RECIPE,
                    "data": data.name, "checksum": data.checksum()}, f)
    os.replace(tmp, path)
    clf.path = path
    return clf


# -- features, cached per image tensor ------------------------------------------------------------
def _cached(task, x: Tensor) -> tuple[Tensor, Tensor]:
    """(features, logits) of images x (task range), computed once per tensor object."""
    cache = task.cache.setdefault("features", {})
    key = id(x)
    if key in cache and cache[key][0] is x:
        return cache[key][1]
    out = task.classifier().features_and_logits(task.unit(x))
    if len(cache) >= 4:
        cache.pop(next(iter(cache)))
    cache[key] = (x, out)  # holding x keeps its id from being reused
    return out


class _Given(nn.Module):
    """Identity 'feature extractor': torchmetrics receives features computed beforehand."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        return x


@contextlib.contextmanager
def _quiet():
    """Silence torchmetrics' memory warning: our 'features' are small 128-d vectors."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features")
        yield


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """FD between Gaussians fitted to two feature sets (torchmetrics' FID statistics)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    fid = FrechetInceptionDistance(feature=_Given(a.shape[1]))
    fid.update(b, real=True)
    fid.update(a, real=False)
    return float(fid.compute())


def kernel_distance(a: Tensor, b: Tensor, seed: int = 0) -> float:
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(1000, len(a), len(b))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with _quiet():
            kid = KernelInceptionDistance(feature=_Given(a.shape[1]), subsets=100,
                                          subset_size=size)
        kid.update(b, real=True)
        kid.update(a, real=False)
        return float(kid.compute()[0])


def inception_score(logits: Tensor, seed: int = 0) -> float:
    from torchmetrics.image.inception import InceptionScore

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with _quiet():
            score = InceptionScore(feature=_Given(logits.shape[1]), splits=10)
        score.update(logits)
        return float(score.compute()[0])


def class_histogram(logits: Tensor, n_classes: int) -> Tensor:
    return torch.bincount(logits.argmax(1), minlength=n_classes).double() / len(logits)


# -- the reference ladder -------------------------------------------------------------------------
def gaussian_blur(x: Tensor, sigma: float = BLUR_SIGMA) -> Tensor:
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius,) * 4, mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def ladder_images(task, n: int, rung: str, seed: int = 0) -> Tensor:
    """n real *training* images (task range), unchanged, noisy or blurred."""
    x = task.real_uint8(n, seed, split="train").float() / 255
    if rung == "noisy":
        g = torch.Generator().manual_seed(seed + 1)
        x = (x + NOISE_SIGMA * torch.randn(x.shape, generator=g)).clamp(0, 1)
    elif rung == "blurred":
        x = gaussian_blur(x).clamp(0, 1)
    return x * 2 - 1 if task.pixel_range == "signed" else x


def ladder_fd(task, real: Tensor, rung: str) -> float:
    ref = ladder_images(task, len(real), rung)
    feats, _ = task.classifier().features_and_logits(task.unit(ref))
    return frechet_distance(feats, _cached(task, real)[0])


#: The metrics below measure with the shipped classifier of a labelled data set.
LABELLED = ("images", "labels")


# -- registered metrics ---------------------------------------------------------------------------
@register("fd_classifier", higher_is_better=False, needs=LABELLED)
def _fd(fake, real, task) -> float:
    return frechet_distance(_cached(task, fake)[0], _cached(task, real)[0])


@register("fd_classifier_floor", higher_is_better=False, needs=LABELLED)
def _fd_floor(fake, real, task) -> float:
    return ladder_fd(task, real, "floor")


@register("fd_classifier_noisy", higher_is_better=False, needs=LABELLED)
def _fd_noisy(fake, real, task) -> float:
    return ladder_fd(task, real, "noisy")


@register("fd_classifier_blurred", higher_is_better=False, needs=LABELLED)
def _fd_blurred(fake, real, task) -> float:
    return ladder_fd(task, real, "blurred")


@register("kid_classifier", higher_is_better=False, needs=LABELLED)
def _kid(fake, real, task) -> float:
    return kernel_distance(_cached(task, fake)[0], _cached(task, real)[0])


@register("is_classifier", higher_is_better=True, needs=LABELLED)
def _is(fake, real, task) -> float:
    return inception_score(_cached(task, fake)[1])


@register("classes_present", higher_is_better=True, needs=LABELLED)
def _classes_present(fake, real, task) -> float:
    k = task.data.n_classes
    p_fake = class_histogram(_cached(task, fake)[1], k)
    p_real = class_histogram(_cached(task, real)[1], k)
    return float(((p_fake >= 0.1 * p_real) & (p_real > 0)).sum())


@register("class_kl", higher_is_better=False, needs=LABELLED)
def _class_kl(fake, real, task) -> float:
    """KL(fake class histogram ‖ real class histogram), 0·log 0 = 0; inf if a fake class is
    never predicted on real images."""
    k = task.data.n_classes
    p = class_histogram(_cached(task, fake)[1], k)
    q = class_histogram(_cached(task, real)[1], k)
    mask = p > 0
    if bool((q[mask] == 0).any()):
        return math.inf
    return float((p[mask] * (p[mask] / q[mask]).log()).sum())


@register("classifier_accuracy", higher_is_better=True, needs=LABELLED)
def _accuracy(fake, real, task) -> float:
    """Test accuracy of the domain classifier that measures the metrics above."""
    return task.classifier().accuracy
