"""The Python API: train your own networks on your own data, open finished runs (docs/api.md).

Two functions carry it. `fit` is `gankit train` (and `gankit resume`) with Python objects allowed
where the config holds names: G, D, data and loss may each be a name (registered, or an import
path) or the object itself. `open_run` is `gankit eval/sample`. Both return a `Run`. Everything
else a run does (checkpoints, exact resume, signals, the NaN guard, the fast path, torchrun,
pictures, metrics) is the same `Trainer` the command line drives, so none of it is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from gankit import registry, rundir
from gankit.config import Config, load_preset, parse_overrides
from gankit.errors import GankitError
from gankit.train.checkpoint import FILENAME
from gankit.train.loop import Callback, Trainer


class Run:
    """A trainer and what became of it: `finished` (False when stopped early), `metrics` (the
    last evaluation), `notes` (lines for the user not yet printed), the networks (`G`, `D`), and
    ways to sample and evaluate."""

    def __init__(self, trainer: Trainer, finished: bool = True,
                 metrics: dict[str, Any] | None = None) -> None:
        self.trainer, self.finished, self.metrics = trainer, finished, metrics

    @property
    def G(self) -> nn.Module:
        """The generator samples come from (its weight average when train.ema > 0)."""
        return self.trainer.sampling_generator

    @property
    def D(self) -> nn.Module:
        return self.trainer.D

    @property
    def step(self) -> int:
        return self.trainer.step

    @property
    def notes(self) -> list[str]:
        """What the user should be told and was not shown (`fit(progress=False)` keeps them)."""
        return self.trainer.run_record.notes

    @property
    def config(self) -> Config:
        return self.trainer.cfg

    @property
    def run_dir(self) -> Path | None:
        return self.trainer.run_dir

    def sample(self, n: int, seed: int | None = None,
               truncation: float | None = None, labels: Any = None) -> Tensor:
        """n samples on the CPU, from a latent stream of their own (default: the run's eval
        stream, so the same n samples each time). `truncation = ψ` (normal prior only): each
        latent component drawn from N(0, 1) kept within ±ψ, the truncation trick.
        `labels` (class-conditional runs): the class of each of the n samples, e.g.
        `[3] * n`; without them a conditional run samples the classes in turn."""
        from gankit.latent import sample_from

        return sample_from(self.trainer, n, seed, truncation, labels).cpu()

    def interpolate(self, frames: int, walks: int = 1, seed: int | None = None,
                    truncation: float | None = None, labels: Any = None) -> Tensor:
        """Samples along latent walks between random endpoints (spherical interpolation for a
        normal prior, straight lines for a uniform one), endpoints included, on the CPU:
        shape (walks, frames, *sample_shape). A conditional run's walks keep a class each:
        `labels`, one per walk (default: the classes in turn)."""
        from gankit.latent import walk_from

        return walk_from(self.trainer, walks, frames, seed, truncation, labels).cpu()

    def evaluate(self, metrics: Iterable[str] | None = None) -> dict[str, Any]:
        """The eval.metrics of the config, or these registered `metrics` instead (as `gankit
        eval RUN --metrics a,b`); writes metrics.json when the run has a folder."""
        from gankit import run

        if metrics is not None:
            set_eval(self.trainer, {"eval.metrics": list(metrics)})
        self.metrics = run.evaluate(self.trainer)
        return self.metrics

    def render(self) -> list[Path]:
        """The run's pictures, into its folder."""
        from gankit import run

        if self.trainer.run_dir is None:
            raise GankitError("this run has no folder to draw into: pass out=... to fit")
        return run.render(self.trainer)

    def __repr__(self) -> str:
        where = self.run_dir or "memory"
        return f"Run({where}, step {self.step}, {'finished' if self.finished else 'stopped'})"


def load_config(preset: str | Path | Config | None = None,
                overrides: Mapping[str, Any] | list[str] | None = None) -> Config:
    """A validated config: a preset name, a .toml path or a Config (default: the built-in
    defaults), with `{"train.lr_g": 2e-4}` or `["train.lr_g=2e-4"]` overrides applied."""
    if preset is None:
        cfg = Config()
    elif isinstance(preset, Config):
        cfg = preset
    else:
        cfg = load_preset(str(preset))
    if overrides:
        pairs = parse_overrides(list(overrides)) if isinstance(overrides, list) \
            else dict(overrides)
        cfg = cfg.with_overrides(pairs)
    return cfg


def _data_pairs(data: Any) -> tuple[dict[str, Any], Any]:
    """Config entries for `data`, and the object to train on (None: the config's data set)."""
    if data is None:
        return {}, None
    if isinstance(data, Path) or (isinstance(data, str) and Path(data).is_dir()):
        return {"data.name": "folder", "data.data_dir": str(data)}, None
    if isinstance(data, str):
        return {"data.name": data}, None
    from gankit.tasks.tensor import as_labelled

    if isinstance(data, Tensor) or hasattr(data, "__array__") or hasattr(data, "__getitem__"):
        from gankit.data.images import ImageSet

        if isinstance(data, ImageSet):
            return {"data.name": registry.PYTHON, "data.n_train": len(data.train_x)}, data
        samples, labels = as_labelled(data)  # (x, y) pairs and (item, label) Datasets: labelled
        pairs = {"data.name": registry.PYTHON, "data.n_train": len(samples)}
        return pairs, samples if labels is None else (samples, labels)
    return {"data.name": registry.PYTHON}, data  # a task of the user's own


def _module_pair(key: str, net: nn.Module | str | None) -> dict[str, Any]:
    if net is None:
        return {}
    if isinstance(net, str):
        return {key: net}
    if not isinstance(net, nn.Module):
        raise GankitError(f"{key}: expected a torch.nn.Module or a name, got {type(net).__name__}")
    return {key: registry.PYTHON}


def _loss_pair(loss: Any) -> tuple[dict[str, Any], Any]:
    if loss is None:
        return {}, None
    if isinstance(loss, str):
        return {"train.loss": loss}, None
    if not (callable(getattr(loss, "d_loss", None)) and callable(getattr(loss, "g_loss", None))):
        raise GankitError("loss: expected a name or an object with d_loss(real_out, fake_out) "
                          "and g_loss(real_out, fake_out) (e.g. gankit.Objective)")
    for name in registry.LOSSES:  # a registered object is recorded by its name
        if registry.LOSSES[name] is loss:
            return {"train.loss": name}, None
    return {"train.loss": registry.PYTHON}, loss


#: The argument of `fit` that sets each config key it derives (for a refusal's words).
_ARGUMENT = {"model.g_arch": "G", "model.d_arch": "D", "data.name": "data",
             "data.data_dir": "data", "data.n_train": "data", "train.loss": "loss",
             "train.steps": "steps"}


def fit(G: nn.Module | str | None = None, D: nn.Module | str | None = None, data: Any = None,
        *, loss: Any = None, config: str | Path | Config | None = None,
        overrides: Mapping[str, Any] | list[str] | None = None, out: str | Path | None = None,
        steps: int | None = None, callbacks: Callback | Iterable[Callback] = (),
        resume: bool = False, force: bool = False, evaluate: bool = True,
        trust_code: bool = False, new_data: bool = False,
        progress: bool | None = None) -> Run:
    """Train a GAN; returns the Run (`run.finished` is False when a signal or a callback's
    `trainer.request_stop()` stopped it: a checkpoint was saved, nothing measured or drawn).

    G, D: your modules, or architecture names; data: a tensor/array (n, *shape), a torch Dataset,
    an image folder (a Path), or a data set name; loss: a name or an object with `d_loss` and
    `g_loss` (`gankit.Objective`). `config` and `overrides` set everything else, as on the
    command line; an argument and an override that disagree are refused. `out`: the run folder
    (None: nothing is written, nothing can be resumed). `resume=True` continues the checkpoint in
    `out` if there is one (pass the same G, D, data and loss objects as the first time; other
    data are refused unless `new_data=True`); `trust_code` allows a config there that names
    import paths. `progress`: the progress bar and notes on stderr (None: the bar only when
    stderr is a terminal, the notes always; False: neither, notes kept in `run.notes`).
    """
    from gankit import run

    given = _as_dict(overrides)
    pairs, data_obj, modules = _objects(G, D, data, loss)
    if steps is not None:
        pairs["train.steps"] = steps
    _agree(pairs, given)
    factory = _task_factory(data_obj)
    if resume and out is not None and (Path(out) / FILENAME).exists():
        trainer = _resume(Path(out), steps, given, trust_code, new_data, factory, modules)
    else:
        if data_obj is not None and "eval.metrics" not in given:
            pairs["eval.metrics"] = ["w1"]  # the mixture/classifier metrics need their data set
        cfg = load_config(config, {**given, **pairs})  # one validation of the whole
        if out is not None:
            rundir.check_target(Path(out), force, rundir.PYTHON_WORDS)  # in Python's words
        trainer = run.start(cfg, None if out is None else Path(out), force,
                            task_factory=factory, **modules)
    finished = _train(trainer, callbacks, progress)
    result = Run(trainer, finished)
    if finished and evaluate and trainer.cfg.eval.metrics and trainer.dist.is_main:
        result.evaluate()
        if trainer.run_dir is not None:
            result.render()
    _tell(trainer, progress)
    return result


def _objects(G: Any, D: Any, data: Any, loss: Any) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """The config entries `fit`'s objects stand for, the data object, and the modules."""
    data_pairs, data_obj = _data_pairs(data)
    loss_pairs, objective = _loss_pair(loss)
    pairs = {**data_pairs, **_module_pair("model.g_arch", G), **_module_pair("model.d_arch", D),
             **loss_pairs}
    modules = {"G": G if isinstance(G, nn.Module) else None,
               "D": D if isinstance(D, nn.Module) else None, "objective": objective}
    return pairs, data_obj, modules


def _agree(pairs: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Refuse an argument and an override that set one key to two values."""
    for key, value in pairs.items():
        if key in given and given[key] != value:
            shown = "a module" if value == registry.PYTHON else repr(value)
            raise GankitError(f"{_ARGUMENT.get(key, key)}={shown} and overrides {key}="
                              f"{given[key]!r} disagree: give it once")


def _task_factory(data_obj: Any) -> Any:
    from gankit.tasks import build_task

    def factory(cfg: Config) -> Any:
        return build_task(cfg, data_obj)

    return factory


def _resume(out: Path, steps: int | None, given: dict[str, Any], trust_code: bool,
            new_data: bool, factory: Any, modules: dict[str, Any]) -> Trainer:
    """The trainer of the checkpoint in `out`, refused when the overrides ask for another config
    or (unless new_data) the data differ from those it was trained on."""
    from gankit import run, runinfo

    _same_config(out, {k: v for k, v in given.items() if k != "train.steps"})
    steps = given.get("train.steps", steps)
    checked = runinfo.SameData(out, factory, new_data, how="new_data=True")
    trainer = run.open_trainer(out, steps, trust_code=trust_code, task_factory=checked,
                               **modules)
    checked.commit(trainer)
    return trainer


def _same_config(out: Path, given: dict[str, Any]) -> None:
    """A resumed run keeps its config: overrides that change it are refused, not ignored. "The
    same config" is the bench cells' reading (gankit.bench.cells.differences); of a run's length
    only train.steps may change here (handled before), as the checkpoint's intervals are kept."""
    from gankit.bench.cells import differences

    try:
        trained = Config.from_toml((out / "config.toml").read_text())
    except (OSError, UnicodeDecodeError, GankitError):
        return  # opening the run says what is wrong with it
    if not given:
        return
    wanted = trained.with_overrides({**given, "description": trained.description})
    differ = differences(trained.to_toml(), wanted.to_toml()) or {}
    if differ:
        shown = "; ".join(f"{k} = {new!r} in overrides, {old!r} in the run"
                          for k, (old, new) in list(differ.items())[:3])
        raise GankitError(f"resume=True continues {out} with the config it was trained with, "
                          f"but the overrides change it ({shown}): drop those overrides (only "
                          "the steps may grow), or start a new run (another out=, or "
                          "force=True); nothing was changed")


def _train(trainer: Trainer, callbacks: Callback | Iterable[Callback],
           progress: bool | None) -> bool:
    """run.train_run, under a progress bar when asked for (or on a terminal), notes first."""
    from gankit import run
    from gankit.progress import training_bar

    hooks = [callbacks] if callable(callbacks) else list(callbacks)
    _tell(trainer, progress)
    console = _console()
    if not (progress or (progress is None and console.is_terminal)):
        finished = run.train_run(trainer, hooks)
    else:
        with training_bar(trainer, console) as bar:
            finished = run.train_run(trainer, [*hooks, bar])
    if not finished:
        resume = f"gankit.fit(..., out={str(trainer.run_dir)!r}, resume=True)"
        trainer.run_record.notes.append(
            stopped_line(trainer, "run.evaluate() and run.render() make them now", resume))
    return finished


def stopped_line(trainer: Trainer, measure: str, resume: str) -> str:
    """What a stopped run wrote and how to go on: the same words from Python and the CLI."""
    if trainer.run_dir is None:
        return f"stopped by {trainer.stop_signal} at step {trainer.step}; nothing was saved " \
            "(out=None)"
    return (f"stopped by {trainer.stop_signal} at step {trainer.step}; checkpoint saved, no "
            f"metrics or pictures ({measure}). Continue with: {resume}")


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def _tell(trainer: Trainer, progress: bool | None) -> None:
    """Print the trainer's notes on stderr, one line each (as the CLI does), unless silenced."""
    if progress is False:
        return
    import sys

    for text in trainer.run_record.take_notes():
        print(f"note: {' '.join(str(text).split())}", file=sys.stderr)


def _as_dict(overrides: Mapping[str, Any] | list[str] | None) -> dict[str, Any]:
    if not overrides:
        return {}
    return parse_overrides(list(overrides)) if isinstance(overrides, list) else dict(overrides)


def open_run(path: str | Path, *, G: nn.Module | None = None, D: nn.Module | None = None,
             data: Any = None, loss: Any = None, trust_code: bool = False) -> Run:
    """A finished (or stopped) run at its last checkpoint, to sample or evaluate. Runs trained on
    your own modules need them again (the checkpoint holds weights, not code); a run trained on
    your own data samples without them, and needs them to evaluate."""
    from gankit import run, runinfo

    _, data_obj = _data_pairs(data)
    _, objective = _loss_pair(loss)
    factory = _task_factory(data_obj)
    if data_obj is None:
        factory = runinfo.sampling_tasks(Path(path), factory)
    trainer = run.open_trainer(Path(path), trust_code=trust_code, task_factory=factory,
                               G=G, D=D, objective=objective)
    return Run(trainer, trainer.step >= trainer.cfg.train.steps)


def set_eval(trainer: Trainer, pairs: Mapping[str, Any]) -> None:
    """Measure an opened run differently: `eval.*` overrides (e.g. other eval.metrics), checked
    as a config is; other keys change training, not its measurement, and are refused."""
    other = [k for k in pairs if not k.startswith("eval.")]
    if other:
        raise GankitError(f"evaluating takes only eval.* settings (eval.metrics, "
                          f"eval.n_samples), not {other[0]}: that changes training; resume or "
                          "train a run with it")
    if pairs:
        cfg = trainer.cfg.with_overrides({**pairs, "description": trainer.cfg.description})
        trainer.cfg = trainer.task.cfg = cfg
