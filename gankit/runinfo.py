"""What a run folder records beside its config, in its marker file `.gankit-run` (JSON): the data
it was trained on and the plug-ins it needed. The config says which data set; this says which
data: a tensor passed from Python and an image folder can change while their config stays.

    data     {"kind": "tensor" | "folder" | "named", "sample_shape": [...], "n": N,
              "sha256": checksum of the training tensor (tensor) or of the folder's listing of
              image files with their sizes (folder); named data sets are fixed by the config}
    plugins  the --plugin modules the run was trained with

Resuming on other data is refused in one line unless asked for (`--new-data`, `new_data=True`);
sampling a run trained on Python data needs only the sample shape recorded here. Relative data
paths are stored resolved against the current directory, so that a run can be opened from
anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit import plugins, registry, rundir
from gankit.config import Config
from gankit.errors import DataError, GankitError

TaskFactory = Callable[[Config], Any]


# -- the marker's entries -----------------------------------------------------------------------
def read(run_dir: Path) -> dict[str, Any]:
    """The marker's entries ({} for a folder without one, or one that cannot be read)."""
    try:
        info = json.loads((Path(run_dir) / rundir.MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def update(run_dir: Path, **entries: Any) -> None:
    """Add entries to the marker, keeping the others; atomically (a kill keeps the old one)."""
    path = Path(run_dir) / rundir.MARKER
    info = {**read(run_dir), **entries}
    tmp = path.with_name(f"{rundir.MARKER}.tmp")
    try:
        tmp.write_text(json.dumps(info) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise GankitError(f"cannot write {path}: {e.strerror or e}") from None


def record_start(run_dir: Path, cfg: Config, task: Any) -> None:
    """What a new run folder records: its data and this process's --plugin modules."""
    update(run_dir, data=data_facts(cfg, task), plugins=list(plugins.LOADED))


# -- the data's fingerprint ---------------------------------------------------------------------
def data_facts(cfg: Config, task: Any) -> dict[str, Any]:
    """The `data` entry for a run of `cfg` on `task`'s training data."""
    shape = [int(s) for s in task.sample_shape]
    name = cfg.data.name
    if name == "folder":
        return {"kind": "folder", "sample_shape": shape, **_listing(cfg.data.data_dir)}
    if name == registry.PYTHON or registry.is_import_path(name):
        x = task.train_data()
        facts = {"kind": "tensor", "sample_shape": shape, "n": len(x), "sha256": _checksum(x)}
        labels = task.train_labels() if cfg.model.conditional != "none" else None
        if labels is not None:  # sampling by class later needs the number of classes
            facts["n_classes"] = int(labels[1])
        return facts
    return {"kind": "named", "sample_shape": shape}


def _checksum(x: Tensor) -> str:
    arr = np.ascontiguousarray(x.detach().cpu().numpy())
    h = hashlib.sha256(f"{arr.dtype}:{arr.shape}".encode())
    h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def _listing(data_dir: str | None) -> dict[str, Any]:
    """The folder's image files, by relative path and size (not their decoded pixels)."""
    from gankit.data.folder import image_files

    folder = Path(data_dir or ".").expanduser()
    h = hashlib.sha256()
    files = image_files(folder)
    for path in files:
        h.update(f"{path.relative_to(folder).as_posix()}\0{path.stat().st_size}\n".encode())
    return {"n": len(files), "sha256": h.hexdigest()}


def _describe(facts: dict[str, Any]) -> str:
    what = "image files" if facts.get("kind") == "folder" else "samples"
    return f"{facts.get('n', '?')} {what}, SHA-256 {str(facts.get('sha256', '?'))[:12]}…"


class SameData:
    """A task factory for resuming: the task, refused when its data are not those the run was
    trained on (unless `new_data`), before anything in the run folder is written."""

    def __init__(self, run_dir: Path, build: TaskFactory, new_data: bool = False,
                 how: str = "--new-data") -> None:
        self.run_dir, self.build, self.new_data, self.how = Path(run_dir), build, new_data, how
        self.changed: dict[str, Any] | None = None  # the new facts, when new_data let them in

    def __call__(self, cfg: Config) -> Any:
        task = self.build(cfg)
        old = read(self.run_dir).get("data")
        if not isinstance(old, dict) or "sha256" not in old:
            return task  # a named data set, or a run of an older gankit: nothing to compare
        new = data_facts(cfg, task)
        if new.get("sha256") == old["sha256"]:
            return task
        if not self.new_data:
            raise DataError(f"{self.run_dir} was trained on other data ({_describe(old)}; now "
                            f"{_describe(new)}): resuming would continue on different data; pass "
                            f"the same data, or {self.how} to continue on these (nothing was "
                            "changed)")
        self.changed = new
        return task

    def commit(self, trainer: Any) -> None:
        """Record the new data (new_data=True, after the run opened) and tell the user."""
        if self.changed is None or not trainer.dist.is_main:
            return
        update(self.run_dir, data=self.changed)
        trainer.run_record.notes.append(f"continuing {self.run_dir} on new data "
                                        f"({_describe(self.changed)}), as asked")


# -- plug-ins a run needs -----------------------------------------------------------------------
def require_plugins(run_dir: Path, trust_code: bool) -> None:
    """Import the plug-ins the run was trained with, if trusted; else refuse in one line unless
    they are already imported (named with --plugin, or imported in Python)."""
    recorded = read(run_dir).get("plugins") or []
    absent = plugins.missing(str(m) for m in recorded)
    if not absent:
        return
    if trust_code:
        plugins.load(absent, option="the plug-in recorded by the run")
        return
    names = " ".join(f"--plugin {m}" for m in absent)
    raise GankitError(f"{run_dir} was trained with the plug-in module(s) {', '.join(absent)}, "
                      f"code its config's names need; pass {names} (Python: import them first), "
                      "or --trust-code to let the run folder import them (Python: "
                      "trust_code=True)")


# -- sampling without the training data ----------------------------------------------------------
class ShapeOnlyTask:
    """The task of a run trained on data passed from Python, opened without them: enough to
    sample (the recorded sample shape), not to evaluate, draw or train."""

    sample_suffixes = (".npy", ".png")  # .png: a grid of images, or a scatter of 2-D points

    def __init__(self, cfg: Config, sample_shape: tuple[int, ...],
                 n_classes: int | None = None) -> None:
        self.cfg, self.sample_shape, self.cache = cfg, tuple(sample_shape), {}
        self.n_classes = n_classes

    def train_labels(self) -> tuple[Tensor, int] | None:
        """A conditional run's number of classes (recorded when it started) with placeholder
        labels; None when the run recorded none."""
        if self.n_classes is None:
            return None
        return torch.zeros(self.cfg.train.batch_size, dtype=torch.long), self.n_classes

    def train_data(self) -> Tensor:
        """Not-a-number placeholders, which the trainer needs to be built: training is refused
        at its first frame (and a step on them would stop at the NaN guard), never made up."""
        return torch.full((self.cfg.train.batch_size, *self.sample_shape), float("nan"))

    def _refuse(self, what: str) -> GankitError:
        return GankitError(f"{what} needs the run's data, which were passed from Python and are "
                           "not saved with it: gankit.open_run(path, data=...)")

    def real_samples(self, n: int, seed: int) -> Tensor:
        raise self._refuse("evaluating")

    def frame(self, model: Any) -> dict[str, Any]:
        raise self._refuse("training")

    def render(self, model: Any, run_dir: Path, samples: Tensor) -> list[Path]:
        raise self._refuse("drawing the pictures")

    def save_samples(self, samples: Tensor, path: Path) -> None:
        path = Path(path)
        image = len(self.sample_shape) == 3 and self.sample_shape[0] in (1, 3)
        if path.suffix == ".npy":
            np.save(path, samples.cpu().numpy())
        elif path.suffix == ".png" and image:
            from gankit.data.images import to_uint8, to_unit
            from gankit.viz.grids import save_grid

            unit = to_unit(samples.detach().float().cpu(), self.cfg.data.pixel_range)
            save_grid(path, to_uint8(unit).numpy())
        elif path.suffix == ".png" and self.sample_shape == (2,):
            _scatter(samples, path)
        else:
            raise GankitError(f"cannot write samples of shape {self.sample_shape} to "
                              f"'{path.name}': use .npy")


def _scatter(samples: Tensor, path: Path) -> None:
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (the backend: Agg, or a notebook's inline one)

    fig, ax = plt.subplots(figsize=(5, 5))
    arr = samples.cpu().numpy()
    ax.scatter(arr[:, 0], arr[:, 1], s=3, alpha=0.4, label="generated")
    ax.legend(loc="upper right", fontsize=7)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def sampling_tasks(run_dir: Path, build: TaskFactory) -> TaskFactory:
    """A task factory for opening a run to sample: its data set's task, or, for data passed from
    Python (not saved), a ShapeOnlyTask from the sample shape the run recorded."""

    def factory(cfg: Config) -> Any:
        facts = read(run_dir).get("data") or {}
        shape, n_classes = facts.get("sample_shape"), facts.get("n_classes")
        if cfg.data.name == registry.PYTHON and isinstance(shape, list):
            return ShapeOnlyTask(cfg, tuple(int(s) for s in shape),
                                 int(n_classes) if isinstance(n_classes, int) else None)
        return build(cfg)

    return factory


# -- paths --------------------------------------------------------------------------------------
def resolve_paths(cfg: Config) -> tuple[Config, str | None]:
    """cfg with a relative data.data_dir resolved against the current directory (what a run
    stores), and a note saying so; cfg itself when there is nothing to resolve."""
    given = cfg.data.data_dir
    if not given:
        return cfg, None
    full = Path(given).expanduser().resolve()
    if str(full) == given:
        return cfg, None
    resolved = cfg.with_overrides({"data.data_dir": str(full), "description": cfg.description})
    return resolved, f"data.data_dir {given!r} is stored as {full} (resolved against the current "\
        "directory, so the run opens from anywhere)"
