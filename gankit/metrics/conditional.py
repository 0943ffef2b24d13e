"""Metrics of class-conditional runs, measured with the shipped classifier of the data set.

A conditional run's evaluation samples ask for the classes in turn, 0, 1, ..., K − 1, 0, ...
(gankit.train.labels.cycle_labels), so sample i was asked for class i mod K.

- `class_accuracy`: the share of samples the classifier puts in the class they were asked for
  (the classifier's own test accuracy, `classifier_accuracy`, is its ceiling on real images);
- `intra_fd`: the Fréchet distance in the classifier's feature space between each class's
  samples and the held-out real images of that class (intra-FID, as in Miyato & Koyama 2018),
  reported as the mean and the worst over classes. With n samples a class has n/K of them, and
  FD's small-sample bias grows as n/K falls: compare runs at the same eval.n_samples.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.data.images import to_range
from gankit.metrics.classifier import _cached, frechet_distance
from gankit.metrics.registry import register
from gankit.registry import MetricValue
from gankit.train.labels import cycle_labels

#: What the metrics below need: image data with labels (the classifier), a conditional run.
NEEDS = ("images", "labels", "conditional")


def asked_labels(task, n: int) -> Tensor:
    """The classes n evaluation samples of a conditional run were asked for."""
    return cycle_labels(n, task.data.n_classes)


@register("class_accuracy", higher_is_better=True, needs=NEEDS)
def class_accuracy(fake: Tensor, real: Tensor, task) -> float:
    _, logits = _cached(task, fake)
    return float((logits.argmax(1) == asked_labels(task, len(fake))).float().mean())


def per_class_fd(fake: Tensor, task) -> list[float]:
    """FD of each class's samples against the held-out real images of that class."""
    feats, _ = _cached(task, fake)
    asked = asked_labels(task, len(fake))
    cache = task.cache.setdefault("class_features", {})
    out = []
    for c in range(task.data.n_classes):
        if c not in cache:  # the test split's images of class c, once per task
            images = to_range(task.data.test_x[task.data.test_y == c], task.pixel_range)
            cache[c] = task.classifier().features_and_logits(task.unit(images))[0]
        mine = feats[asked == c]
        out.append(frechet_distance(mine, cache[c]) if len(mine) >= 2 else float("inf"))
    return out


@register("intra_fd", needs=NEEDS, values=(
    MetricValue("intra_fd_mean", higher_is_better=False, title="intra-FD mean"),
    MetricValue("intra_fd_worst", higher_is_better=False, title="intra-FD worst")))
def intra_fd(fake: Tensor, real: Tensor, task) -> dict[str, float]:
    fds = torch.tensor(per_class_fd(fake, task))
    return {"intra_fd_mean": float(fds.mean()), "intra_fd_worst": float(fds.max())}
