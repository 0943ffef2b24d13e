"""Class labels through a conditional run (model.conditional = projection | acgan).

Which labels G is given:
- in D's step, the real batch's own labels: real and fake batches (and so real and fake packs,
  under PacGAN) carry the same classes, and D cannot tell them apart by their labels;
- in G's step, labels of training items drawn at random from the run's latent stream: the
  data's own label distribution (uniform for MNIST and Fashion-MNIST; a folder's class sizes);
- when sampling without asked-for classes (evaluation, frames, `gankit sample`), the classes in
  turn, 0, 1, ..., K − 1, 0, ... (`cycle_labels`): the conditional metrics rely on it.

D sees labels through `Bound`, D with its labels bound, a function of x alone: the losses and
penalties call it as they call an unconditional D. AC-GAN's class logits are recorded by it and
turned into the cross-entropy terms here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import DataError
from gankit.train import distributed


def cycle_labels(n: int, n_classes: int, device: torch.device | str = "cpu") -> Tensor:
    """0, 1, ..., K − 1, 0, 1, ...: the classes of n samples drawn without asked-for classes."""
    return torch.arange(n, device=device) % n_classes


def check_labels(labels: Tensor, n_classes: int, what: str = "labels") -> Tensor:
    """Labels as int64, each in 0..n_classes − 1 (else one readable error)."""
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or (labels.dtype.is_floating_point and not bool(
            (labels == labels.round()).all())):
        raise DataError(f"{what} must be one class number per sample, got shape "
                        f"{tuple(labels.shape)} ({labels.dtype})")
    labels = labels.long()
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        bad = int(labels.min()) if int(labels.min()) < 0 else int(labels.max())
        raise DataError(f"{what}: class {bad} is out of range; this run's classes are "
                        f"0..{n_classes - 1}")
    return labels


@dataclass
class Bound:
    """D with labels y bound: a function of x, as losses and penalties expect. With
    `record` (AC-GAN), each call's class logits are appended to `classes`."""

    D: nn.Module
    y: Tensor
    record: bool = False
    classes: list[Tensor] = field(default_factory=list)

    def __call__(self, x: Tensor) -> Tensor:
        if not self.record:
            return self.D(x, self.y)
        out, classes = self.D(x, self.y, with_classes=True)
        self.classes.append(classes)
        return out


class Unlabelled(nn.Module):
    """A conditional net called with one argument, its labels the classes in turn: for checks
    that call G(z) and D(x) (train/shapes.py)."""

    def __init__(self, net: nn.Module, n_classes: int) -> None:
        super().__init__()
        self.net, self.n_classes = net, n_classes

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x, cycle_labels(len(x), self.n_classes, x.device))


@dataclass
class Conditioning:
    """The labels of a conditional run's training set, on the training device (row i of
    `labels` is the class of row i of the sampler's data), and how D's heads are trained."""

    mode: str  # projection | acgan
    n_classes: int
    ac_weight: float
    labels: Tensor

    def of_batch(self, sampler, i: int) -> Tensor:
        """The labels of the sampler's i-th batch."""
        return self.labels.index_select(0, sampler.indices(i))

    def draw(self, n: int, generator: torch.Generator, dist: distributed.Dist) -> Tensor:
        """G's labels for its step: n labels of training items drawn from `generator` (one
        global draw for all ranks; each keeps its slice, as with the latents)."""
        idx = torch.randint(len(self.labels), (n * dist.world_size,), generator=generator,
                            device=generator.device)
        return distributed.rank_slice(self.labels.index_select(0, idx.to(self.labels.device)),
                                      dist)

    def bind(self, D: nn.Module, y: Tensor) -> Bound:
        return Bound(D, y, record=self.mode == "acgan" and self.ac_weight > 0)

    def d_class_loss(self, bound: Bound, y: Tensor) -> Tensor | None:
        """AC-GAN: weight × (cross-entropy on the real batch + on the fake batch), from the first
        two calls of D's step (DObjective.loss calls D on real, then fake, first); else None."""
        if not bound.record:
            return None
        real, fake = bound.classes[:2]
        return self.ac_weight * (F.cross_entropy(real, y) + F.cross_entropy(fake, y))

    def g_class_loss(self, bound: Bound, y: Tensor) -> Tensor | None:
        """AC-GAN: weight × cross-entropy of D's class logits on G's batch (its last call)."""
        if not bound.record:
            return None
        return self.ac_weight * F.cross_entropy(bound.classes[-1], y)


def from_task(cfg, task, device: torch.device) -> Conditioning | None:
    """The Conditioning of a run (None when model.conditional = none), from its task's labels."""
    if cfg.model.conditional == "none":
        return None
    labels, n_classes = task_labels(task)
    return Conditioning(cfg.model.conditional, n_classes, cfg.model.ac_weight,
                        labels.to(device))


def task_labels(task) -> tuple[Tensor, int]:
    """(training labels, number of classes) of a task whose data carry labels."""
    get = getattr(task, "train_labels", None)
    found = get() if get is not None else None
    if found is None:
        raise DataError(f"model.conditional = {task.cfg.model.conditional!r} needs class labels, "
                        f"and this run's data ({task.cfg.data.name}) have none: use a labelled "
                        "data set, a folder whose sub-folders are the classes, or (item, label) "
                        "pairs from Python")
    labels, n_classes = found
    return check_labels(labels, n_classes, "the training labels"), n_classes


def requested(text: str | None, n: int, n_classes: int | None,
              names: tuple[str, ...] = ()) -> Tensor | None:
    """The labels `gankit sample --class` asks for: None without it; "all": every class n
    times, class by class (a class × sample grid); "c": n samples of class c. `n_classes`:
    the run's classes, None for an unconditional run (which refuses --class)."""
    from gankit.errors import GankitError

    if text is None:
        return None
    if n_classes is None:
        raise GankitError("--class needs a class-conditional run (trained with "
                          "model.conditional = projection or acgan); this run is "
                          "unconditional: leave --class out")
    known = ", ".join(f"{i} {name}" for i, name in enumerate(names)) if names else ""
    shown = f"0..{n_classes - 1}" + (f" ({known})" if known else "")
    if text.strip().lower() == "all":
        return torch.arange(n_classes).repeat_interleave(n)
    try:
        c = int(text)
    except ValueError:
        raise GankitError(f"--class {text!r} is not a class number or 'all'; this run's "
                          f"classes are {shown}") from None
    if not 0 <= c < n_classes:
        raise GankitError(f"--class {c} is out of range: this run's classes are {shown}")
    return torch.full((n,), c, dtype=torch.long)
