"""The protocols between a run and its data: `Task` (what a run needs from its data) and `Model`
(the little of a run that a task's pictures need; a `gankit.Trainer` is one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from torch import Tensor

from gankit.config import Config


class Model(Protocol):
    """What a task may ask of the run it draws pictures of (a `gankit.Trainer` is one): the step,
    samples from the generator, and the discriminator's probabilities."""

    step: int

    def sample(self, n: int, seed: int | None = None, labels: Any = None) -> Tensor:
        """n samples from a latent stream of their own (`seed`), in inference mode; a
        conditional run's of the classes `labels` (default: the classes in turn)."""
        ...

    def discriminate(self, x: Tensor) -> Tensor:
        """D(x) as probabilities, in inference mode."""
        ...


class Task(Protocol):
    """What a run needs from its data. `cache` holds what metrics compute once per sample set."""

    cfg: Config
    sample_shape: tuple[int, ...]
    cache: dict[str, Any]
    #: The file suffixes save_samples writes (checked before any sample is drawn).
    sample_suffixes: tuple[str, ...]

    def train_data(self) -> Tensor:
        """The fixed training set, (n, *sample_shape), in the range G produces."""
        ...

    def real_samples(self, n: int, seed: int) -> Tensor:
        """n fresh real samples for evaluation, a function of `seed`."""
        ...

    def frame(self, model: Model) -> dict[str, Any]:
        """Arrays of one animation frame (saved as frames/step_XXXXXXX.npz)."""
        ...

    def render(self, model: Model, run_dir: Path, samples: Tensor) -> list[Path]:
        """The pictures of a finished run; returns the files written."""
        ...

    def save_samples(self, samples: Tensor, path: Path) -> None:
        """Write samples to a file whose format the suffix names."""
        ...
