"""Operations on run directories: train, resume, evaluate, sample. The CLI is a thin shell on these.

A run directory holds everything about one run and can be evaluated, resumed or sampled later:

    config.toml      the resolved config        checkpoint.pt   everything needed to continue
    metrics.jsonl    training log               metrics.json    final evaluation
    frames/          animation frames           *.png, *.gif    pictures
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.errors import CheckpointError, GankitError
from gankit.metrics import compute
from gankit.registry import require_trust
from gankit.seeds import EVAL
from gankit.tasks import build_task
from gankit.train import distributed
from gankit.train.checkpoint import FILENAME
from gankit.train.loop import Trainer, pick_device
from gankit.train.memory import peak_memory
from gankit.viz.curves import read_log, save_loss_curves

StepHook = Callable[[Trainer], None]
TaskFactory = Callable[[Config], Any]


def prepare_run_dir(out: Path, force: bool) -> None:
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not force:
            raise GankitError(
                f"run directory {out} already exists; pass --force to overwrite it, "
                f"or `gankit resume {out}` to continue it"
            )
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink()
    out.mkdir(parents=True, exist_ok=True)


def start(cfg: Config, out: Path, force: bool = False,
          task_factory: TaskFactory = build_task, **modules: Any) -> Trainer:
    """A fresh trainer writing into a new run directory (under torchrun: rank 0 creates it).

    `modules`: G, D, objective passed from Python (gankit.fit)."""
    info = distributed.from_env()
    distributed.local_batch(cfg.train.batch_size, cfg.train.pack, info)  # before any file
    distributed.setup(distributed.local_device(pick_device(cfg.train.device), info))

    def create() -> None:
        prepare_run_dir(out, force)
        (Path(out) / "config.toml").write_text(cfg.to_toml())

    distributed.main_first(create)
    return Trainer(cfg, task_factory(cfg), out, **modules)


def open_run(run_dir: Path, steps: int | None = None, trust_code: bool = False,
             task_factory: TaskFactory = build_task, **modules: Any) -> Trainer:
    """The trainer of an existing run, at its last complete checkpoint.

    `steps` raises the run's target (total generator steps); it is saved in config.toml.
    A config that names import paths is refused before anything is built, unless `trust_code`:
    a run folder from someone else must not run code by being opened.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GankitError(f"no run directory at {run_dir}")
    if not (run_dir / FILENAME).exists():
        raise CheckpointError(
            f"{run_dir} has no {FILENAME}; it was not written by `gankit train`, "
            "or the run stopped before its first checkpoint"
        )
    trainer = Trainer.from_checkpoint(
        run_dir, task_factory, check=lambda cfg: require_trust(cfg, f"the config of {run_dir}",
                                                               trust_code), **modules)
    if trainer.dist.is_main:  # temporary files of writes a kill interrupted: never complete
        for stale in [*run_dir.glob(f".{FILENAME}.*.tmp"), *run_dir.glob(".*.jsonl.tmp")]:
            stale.unlink(missing_ok=True)
    if steps is not None:
        if steps < trainer.step:
            raise GankitError(
                f"--steps {steps} is fewer than the {trainer.step} steps already done"
            )
        cfg = trainer.cfg.with_overrides({"train.steps": steps})
        trainer.cfg = cfg
        if trainer.dist.is_main:
            (run_dir / "config.toml").write_text(cfg.to_toml())
    return trainer


def train(trainer: Trainer, on_step: StepHook | Iterable[StepHook] | None = None) -> bool:
    """Train to the configured number of steps; True when finished, False when interrupted.

    Records the session's peak memory (the largest over ranks) and wall-clock speed in
    `trainer.run_stats`; evaluate() writes them into metrics.json.
    """
    started, first = time.perf_counter(), trainer.step
    finished = trainer.fit(trainer.cfg.train.steps, on_step)
    seconds = time.perf_counter() - started
    mib, kind = peak_memory(trainer.device)
    trainer.run_stats = {
        "peak_memory_mib": round(distributed.max_over_ranks(mib), 1), "peak_memory_kind": kind,
        "processes": trainer.dist.world_size, "train_seconds": round(seconds, 2),
        "train_steps_per_second": round((trainer.step - first) / max(seconds, 1e-9), 2)}
    return finished


def evaluate(trainer: Trainer) -> dict[str, Any]:
    """The registry metrics of the configured list on eval.n_samples samples, deterministic."""
    cfg = trainer.cfg
    n, seed = cfg.eval.n_samples, cfg.train.seed + EVAL
    started = time.perf_counter()
    fake = trainer.sample(n, seed).float()
    real = trainer.task.real_samples(n, seed)
    result = {"step": trainer.step, "n_samples": n,
              **compute(cfg.eval.metrics, fake.cpu(), real.cpu(), trainer.task)}
    result["eval_seconds"] = round(time.perf_counter() - started, 3)
    if trainer.run_dir is not None:
        written = {**result, **_run_stats(trainer)}
        (trainer.run_dir / "metrics.json").write_text(json.dumps(written, indent=2) + "\n")
    trainer.last_eval_samples = fake
    return result


RUN_STATS = ("peak_memory_mib", "peak_memory_kind", "processes", "train_seconds",
             "train_steps_per_second")


def _run_stats(trainer: Trainer) -> dict[str, Any]:
    """The training session's memory and speed: this process's, else those metrics.json kept."""
    if trainer.run_stats is not None:
        return trainer.run_stats
    path = trainer.run_dir / "metrics.json" if trainer.run_dir is not None else None
    if path is None or not path.exists():
        return {}
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: old[k] for k in RUN_STATS if k in old}


def render(trainer: Trainer) -> list[Path]:
    """Every picture of the run: the task's own, plus the loss curves."""
    run_dir = trainer.run_dir
    assert run_dir is not None
    samples = trainer.last_eval_samples
    if samples is None:
        samples = trainer.sample(trainer.cfg.eval.n_samples)
    written = list(trainer.task.render(trainer, run_dir, samples))
    curves = save_loss_curves(run_dir / "losses.png", read_log(run_dir / "metrics.jsonl"),
                              title=trainer.cfg.description)
    if curves is not None:
        written.append(curves)
    return written


def sample_to_file(run_dir: Path, n: int, out: Path, seed: int | None = None,
                   trust_code: bool = False) -> Path:
    if n < 1:
        raise GankitError(f"-n must be ≥ 1, got {n}")
    trainer = open_run(run_dir, trust_code=trust_code)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    seed = int(torch.randint(0, 2**31 - 1, ())) if seed is None else seed
    trainer.task.save_samples(trainer.sample(n, seed), out)
    return out
