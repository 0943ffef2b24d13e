"""Operations on run directories: train, resume, evaluate, sample. The CLI is a thin shell on these.

A run directory holds everything about one run and can be evaluated, resumed or sampled later:

    config.toml      the resolved config        checkpoint.pt   everything needed to continue
    metrics.jsonl    training log               metrics.json    final evaluation
    frames/          animation frames           *.png, *.gif    pictures
    .gankit-run      marks a folder gankit made .gankit-lock    the writer lock (train, resume)

What `--force` may delete, the lock, full disks and which config is authoritative:
docs/reliability.md (the rules live in gankit/rundir.py).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from gankit import rundir, runinfo
from gankit.config import Config
from gankit.errors import CheckpointError, GankitError
from gankit.latent import check_truncation, sample_from
from gankit.metrics import compute
from gankit.registry import require_trust
from gankit.seeds import EVAL
from gankit.tasks import build_task
from gankit.train import distributed
from gankit.train.checkpoint import FILENAME, check_state, load_checkpoint
from gankit.train.loop import Trainer, pick_device
from gankit.train.memory import peak_memory
from gankit.viz.curves import read_log, save_loss_curves

StepHook = Callable[[Trainer], None]
TaskFactory = Callable[[Config], Any]


def prepare_run_dir(out: Path, force: bool, command: str = "gankit train") -> str:
    """Make `out` ready for a new run (see gankit.rundir.check_target): create it, reuse a run
    folder of an attempt that never checkpointed, or, with --force, clear a run folder gankit
    wrote. The writer lock is taken before anything is deleted. Returns what was done."""
    out = Path(out)
    action = rundir.check_target(out, force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GankitError(f"cannot create the run folder {out}: {e.strerror or e}") from None
    locked = rundir.lock_run(out, command)
    try:
        if action != "new":
            action = rundir.check_target(out, force)  # again, now that no other writer can start
            rundir.clear_run_dir(out)
        rundir.write_marker(out, command)
    except OSError as e:
        if locked:
            rundir.unlock_run(out)
        raise GankitError(f"cannot write into the run folder {out}: {e.strerror or e}") from None
    except BaseException:
        if locked:
            rundir.unlock_run(out)
        raise
    return action


def start(cfg: Config, out: Path | None, force: bool = False,
          task_factory: TaskFactory = build_task, **modules: Any) -> Trainer:
    """A fresh trainer writing into a new run directory (under torchrun: rank 0 creates it);
    out=None: one that writes nothing (a bench cell whose record is kept elsewhere).

    Everything that can fail on bad input (the output path, the data, the batch size, the device)
    is checked before the folder is created or an old run is replaced. `modules`: G, D,
    objective passed from Python (gankit.fit)."""
    info = distributed.from_env()
    distributed.local_batch(cfg.train.batch_size, cfg.train.pack, info)  # before any file
    if out is not None and info.is_main:
        rundir.check_target(Path(out), force)  # refuse early: nothing built, nothing touched
    distributed.setup(distributed.local_device(pick_device(cfg.train.device), info))
    if out is None:
        return _build(cfg, None, task_factory, **modules)
    out = Path(out)
    cfg, resolved = runinfo.resolve_paths(cfg)  # stored resolved: the run opens from anywhere
    trainer = _build(cfg, out, task_factory, **modules)
    notes = [resolved] if resolved else []

    def create() -> None:
        action = prepare_run_dir(out, force)
        if action == "reuse":
            notes.append(f"re-using {out}: an earlier attempt stopped before its first checkpoint")
        try:
            (out / "config.toml").write_text(cfg.to_toml())
        except OSError as e:
            raise GankitError(f"cannot write {out / 'config.toml'}: {e.strerror or e}") from None
        runinfo.record_start(out, cfg, trainer.task)  # which data, which plug-ins

    distributed.main_first(create)
    trainer.run_record.notes.extend(notes)
    return trainer


def _build(cfg: Config, run_dir: Path | None, task_factory: TaskFactory = build_task,
           **modules: Any) -> Trainer:
    """The trainer of `cfg`, with its data; sizes that cannot work are one-line errors."""
    try:
        trainer = Trainer(cfg, task_factory(cfg), run_dir, **modules)
    except (MemoryError, RuntimeError) as e:  # torch.OutOfMemoryError is a RuntimeError
        if not isinstance(e, MemoryError) and "alloc" not in str(e) and "memory" not in str(e):
            raise
        raise GankitError("out of memory while loading the data or building the nets; lower "
                          "data.n_train, the model widths or train.batch_size") from None
    loaded = getattr(trainer.task, "data", None)  # an ImageSet says which files it skipped
    trainer.run_record.notes.extend(getattr(loaded, "notes", None) or [])
    return trainer


def _config_file(run_dir: Path) -> tuple[Config | None, str | None]:
    """config.toml of a run folder, or a note saying why it cannot be read."""
    path = run_dir / "config.toml"
    if not path.exists():
        return None, None
    try:
        return Config.from_toml(path.read_bytes().decode("utf-8"), source=str(path)), None
    except (OSError, UnicodeDecodeError, GankitError) as e:
        return None, f"{path} cannot be read ({str(e)[:120]}); using the config inside {FILENAME}"


def _flat(cfg: Config) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, values in cfg.to_dict().items():
        if isinstance(values, dict):
            flat.update({f"{section}.{k}": v for k, v in values.items()})
        else:
            flat[section] = values
    return flat


def reconcile(run_dir: Path, trained: Config) -> tuple[Config, list[str]]:
    """The config a run continues with, and notes. The config inside checkpoint.pt is what the
    weights were trained with and is authoritative; config.toml is its human-readable copy.

    - config.toml naming another data set, prior or model (or another seed, loss, optimizer,
      packing or weight average) means the checkpoint comes from another run: a one-line error.
    - train.steps of config.toml is adopted (it is what `resume --steps` writes).
    - any other edit of config.toml is reported in a note and not used.
    """
    written, note = _config_file(run_dir)
    notes = [note] if note else []
    if written is None:
        return trained, notes
    a, b = _flat(trained), _flat(written)
    differ = [k for k in a if a[k] != b.get(k)]
    identity = [k for k in differ if k.split(".")[0] in IDENTITY_SECTIONS or k in IDENTITY_KEYS]
    if identity:
        shown = "; ".join(f"{k} {a[k]!r} in {FILENAME}, {b[k]!r} in config.toml"
                          for k in identity[:3])
        raise CheckpointError(
            f"{run_dir / FILENAME} was not trained with the config.toml beside it ({shown}): "
            "the checkpoint comes from another run, or config.toml was edited; restore the "
            "matching file (nothing was written)")
    cfg = trained
    if "train.steps" in differ:
        cfg = cfg.with_overrides({"train.steps": b["train.steps"]})
        differ.remove("train.steps")
    if differ:
        notes.append(f"config.toml differs from the config {FILENAME} was trained with in "
                     f"{', '.join(differ[:4])}{' …' if len(differ) > 4 else ''}; the "
                     "checkpoint's values are used (only train.steps may be changed, with "
                     "`gankit resume --steps N`)")
    return cfg, notes


IDENTITY_SECTIONS = ("data", "prior", "model")
IDENTITY_KEYS = ("train.seed", "train.loss", "train.optimizer", "train.pack", "train.ema")


def open_trainer(run_dir: Path, steps: int | None = None, write: bool = True,
             trust_code: bool = False, task_factory: TaskFactory = build_task,
             **modules: Any) -> Trainer:
    """The trainer of an existing run, at its last complete checkpoint.

    write=True (resume) takes the writer lock, drops temporary files of interrupted writes and
    the log lines past the checkpoint; write=False (eval, sample) changes nothing in the folder.
    `steps` raises the run's target (total generator steps); it is saved in config.toml.
    trust_code=False: a config that names import paths is refused before anything is built, and
    executable weights it names (eval.inception_weights) are not loaded (evaluate() leaves that
    metric out with a note): a run folder from someone else must not run code by being opened.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GankitError(f"no run directory at {run_dir}")
    if not (run_dir / FILENAME).exists():
        raise CheckpointError(
            f"{run_dir} has no {FILENAME}; it was not written by `gankit train`, "
            "or the run stopped before its first checkpoint"
        )
    info = distributed.from_env()
    locked = write and info.is_main and rundir.lock_run(run_dir, "gankit resume")
    try:
        return _open(run_dir, steps, write, trust_code, task_factory, modules)
    except BaseException:
        if locked:
            rundir.unlock_run(run_dir)
        raise


def _open(run_dir: Path, steps: int | None, write: bool, trust_code: bool,
          task_factory: TaskFactory, modules: dict[str, Any]) -> Trainer:
    path = run_dir / FILENAME
    state = load_checkpoint(path)
    check_state(state, path)
    runinfo.require_plugins(run_dir, trust_code)  # before its config's names are looked up
    trained = Config.from_toml(state["config"], source=f"the config inside {path}")
    require_trust(trained, f"the config of {run_dir}", trust_code)  # before anything is built
    cfg, notes = reconcile(run_dir, trained)
    trainer = _build(cfg, run_dir, task_factory, **modules)
    try:
        trainer.load_state(state, path)
    except GankitError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit its config or was not written by "
                              f"gankit ({type(e).__name__}: {str(e)[:120]})") from None
    record = trainer.run_record
    record.notes.extend(notes)
    record.untrusted_weights = None if trust_code else cfg.eval.inception_weights
    if write and trainer.dist.is_main:  # temporary files of writes a kill interrupted
        for stale in [*run_dir.glob(f".{FILENAME}.*.tmp"), *run_dir.glob(".*.jsonl.tmp"),
                      *run_dir.glob("frames/.*.tmp")]:
            stale.unlink(missing_ok=True)
        rundir.trim_log(run_dir / rundir.LOG, trainer.step)
    if steps is not None:
        set_steps(trainer, steps, write)
    return trainer


def set_steps(trainer: Trainer, steps: int, write: bool = True) -> None:
    """Make `steps` (total generator steps) the run's target; write=True saves it in the run
    folder's config.toml, which is where `gankit resume` reads a raised target from."""
    if steps < trainer.step:
        raise GankitError(f"--steps {steps} is fewer than the {trainer.step} steps already done")
    trainer.cfg = trainer.cfg.with_overrides({"train.steps": steps})
    if write and trainer.run_dir is not None and trainer.dist.is_main:
        _write(trainer.run_dir / "config.toml", trainer.cfg.to_toml())


def release_run(trainer: Trainer) -> None:
    """Hand back the writer lock of the trainer's run folder (a no-op when not held)."""
    if trainer.run_dir is not None:
        rundir.unlock_run(trainer.run_dir)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as e:
        raise GankitError(f"cannot write {path}: {e.strerror or e}") from None


def train_run(trainer: Trainer, on_step: StepHook | Iterable[StepHook] | None = None,
              release: bool = True) -> bool:
    """Train to the configured number of steps; True when finished, False when interrupted.

    release=True hands back the run folder's writer lock when training ends, however it ends,
    so that a long-lived process (a notebook, a benchmark driver) does not keep the folder; the
    CLI passes False and releases it when the whole command is done.

    Records the session's peak memory (the largest over ranks) and wall-clock speed in the run's
    record (`trainer.run_record.session_stats`); evaluate() writes them into metrics.json. A write
    that fails (a full disk, a folder gone read-only) is a one-line error naming the file and the
    last good checkpoint, which the atomic checkpoint writes always keep.
    """
    started, first = time.perf_counter(), trainer.step
    try:
        finished = trainer.fit(trainer.cfg.train.steps, on_step)
    except OSError as e:
        where = e.filename or trainer.run_dir
        raise GankitError(
            f"could not write {where} at step {trainer.step} ({e.strerror or e}); "
            f"{trainer.guard._last_good()} Free some space, then `gankit resume "
            f"{trainer.run_dir}`") from None
    finally:
        if release:
            release_run(trainer)
    seconds = time.perf_counter() - started
    mib, kind = peak_memory(trainer.device)
    trainer.run_record.session_stats = {
        "peak_memory_mib": round(distributed.max_over_ranks(mib), 1), "peak_memory_kind": kind,
        "processes": trainer.dist.world_size, "train_seconds": round(seconds, 2),
        "train_steps_per_second": round((trainer.step - first) / max(seconds, 1e-9), 2)}
    return finished


def evaluate(trainer: Trainer) -> dict[str, Any]:
    """The registry metrics of the configured list on eval.n_samples samples, deterministic.

    Writes metrics.json into the run folder when it can; when it cannot (a read-only folder, a
    full disk) the result is still returned and a note (`trainer.run_record`) says why nothing
    was written; the record also keeps the samples, which render() then draws.
    Inception weights named only by a run folder's own config are not loaded (open_trainer)."""
    cfg = trainer.cfg
    record = trainer.run_record
    metrics = list(cfg.eval.metrics)
    untrusted = record.untrusted_weights
    if untrusted and "fid_inception" in metrics:
        metrics.remove("fid_inception")
        record.notes.append(
            f"fid_inception left out: the run's config names the TorchScript weights "
            f"{untrusted}, and weights that can run code are loaded only when named on the "
            f"command line (--inception-weights PATH) or with --trust-code")
    n, seed = cfg.eval.n_samples, cfg.train.seed + EVAL
    started = time.perf_counter()
    fake = trainer.sample(n, seed).float()
    real = trainer.task.real_samples(n, seed)
    result = {"step": trainer.step, "n_samples": n,
              **compute(metrics, fake.cpu(), real.cpu(), trainer.task)}
    result["eval_seconds"] = round(time.perf_counter() - started, 3)
    record.metrics_written = False
    if trainer.run_dir is not None:
        written = {**result, **_run_stats(trainer)}
        path = trainer.run_dir / "metrics.json"
        try:
            tmp = path.with_name(".metrics.json.tmp")
            tmp.write_text(json.dumps(written, indent=2) + "\n")
            os.replace(tmp, path)
            record.metrics_written = True
        except OSError as e:
            record.notes.append(f"could not write {path} ({e.strerror or e}); the metrics are "
                                "only printed")
    record.eval_samples = fake
    return result


RUN_STATS = ("peak_memory_mib", "peak_memory_kind", "processes", "train_seconds",
             "train_steps_per_second")


def _run_stats(trainer: Trainer) -> dict[str, Any]:
    """The training session's memory and speed: this process's, else those metrics.json kept."""
    if trainer.run_record.session_stats is not None:  # trained in this process
        return trainer.run_record.session_stats
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
    samples = trainer.run_record.eval_samples
    if samples is None:
        samples = trainer.sample(trainer.cfg.eval.n_samples)
    written = list(trainer.task.render(trainer, run_dir, samples))
    curves = save_loss_curves(run_dir / "losses.png", read_log(run_dir / "metrics.jsonl"),
                              title=trainer.cfg.description)
    if curves is not None:
        written.append(curves)
    return written


def sample_to_file(run_dir: Path, n: int, out: Path, seed: int | None = None,
                   trust_code: bool = False, truncation: float | None = None,
                   classes: str | None = None) -> Path:
    """Draw n samples of a run into a file (from truncated latents when `truncation` is set,
    gankit.latent); the run folder is only read."""
    if n < 1:
        raise GankitError(f"-n must be ≥ 1, got {n}")
    if seed is not None and not 0 <= seed < 2**63:
        raise GankitError(f"--seed must be in [0, 2^63), got {seed}")
    out = Path(out)
    if out.is_dir():
        raise GankitError(f"--out {out} is a folder; name a file, e.g. {out / 'samples.npy'}")
    trainer = open_trainer(run_dir, write=False, trust_code=trust_code,
                           task_factory=runinfo.sampling_tasks(run_dir, build_task))
    check_truncation(trainer.cfg.prior.name, truncation)
    asked = asked_classes(trainer, classes, n)  # --class: conditional runs
    n = n if asked is None else len(asked)
    suffixes = trainer.task.sample_suffixes
    if suffixes and out.suffix not in suffixes:
        raise GankitError(f"cannot write samples to '{out.name}': use {', '.join(suffixes[:-1])}"
                          f" or {suffixes[-1]}")
    need = 3 * 4 * n * math.prod(trainer.task.sample_shape)  # float32 samples, ~3 copies
    have = available_memory()
    if have is not None and need > have:
        raise GankitError(f"-n {n} needs about {need / 2**30:.3g} GiB of memory, more than the "
                          f"{have / 2**30:.3g} GiB available; draw fewer samples (several files "
                          "with different --seed add up)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GankitError(f"cannot create the folder of --out {out}: {e.strerror or e}") from None
    seed = int(torch.randint(0, 2**31 - 1, ())) if seed is None else seed
    try:
        samples = sample_from(trainer, n, seed, truncation, asked)
    except (MemoryError, torch.OutOfMemoryError) as e:
        raise GankitError(f"out of memory drawing {n} samples ({str(e)[:100]}); draw fewer"
                          ) from None
    except RuntimeError as e:
        if "memory" not in str(e).lower() and "alloc" not in str(e).lower():
            raise
        raise GankitError(f"out of memory drawing {n} samples; draw fewer") from None
    try:
        if classes is not None and classes.strip().lower() == "all" and out.suffix == ".png":
            _save_class_grid(trainer, samples, n // trainer.cond.n_classes, out)
        else:
            trainer.task.save_samples(samples, out)
    except OSError as e:
        raise GankitError(f"cannot write {out}: {e.strerror or e}") from None
    return out


def asked_classes(trainer: Trainer, classes: str | None, n: int) -> torch.Tensor | None:
    """The labels `--class` asks for (gankit.train.labels.requested), or None."""
    from gankit.train.labels import requested

    cond = trainer.cond
    names = tuple(getattr(getattr(trainer.task, "data", None), "class_names", ()) or ())
    return requested(classes, n, None if cond is None else cond.n_classes, names)


def _save_class_grid(trainer: Trainer, samples: torch.Tensor, per_class: int, out: Path) -> None:
    """A class × sample grid: one row per class, `per_class` samples in each."""
    from gankit.data.images import to_uint8, to_unit
    from gankit.viz.grids import save_grid

    unit = to_unit(samples.detach().float().cpu(), trainer.cfg.data.pixel_range)
    save_grid(out, to_uint8(unit).numpy(), nrow=per_class)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
