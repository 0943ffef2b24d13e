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

from gankit import registry
from gankit.config import Config, load_preset, parse_overrides
from gankit.errors import GankitError
from gankit.train.checkpoint import FILENAME
from gankit.train.loop import Callback, Trainer


class Run:
    """A trainer and what became of it: `finished` (False when stopped early), `metrics` (the
    last evaluation), the networks (`G`, `D`), and ways to sample and evaluate."""

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
    def config(self) -> Config:
        return self.trainer.cfg

    @property
    def run_dir(self) -> Path | None:
        return self.trainer.run_dir

    def sample(self, n: int, seed: int | None = None) -> Tensor:
        """n samples on the CPU, from a latent stream of their own (default: the run's eval
        stream, so the same n samples each time)."""
        return self.trainer.sample(n, seed).cpu()

    def evaluate(self) -> dict[str, Any]:
        """The eval.metrics of the config (writes metrics.json when the run has a folder)."""
        from gankit import run

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
    from gankit.tasks.tensor import as_tensor

    if isinstance(data, Tensor) or hasattr(data, "__array__") or hasattr(data, "__getitem__"):
        from gankit.data.images import ImageSet

        if isinstance(data, ImageSet):
            return {"data.name": registry.PYTHON, "data.n_train": len(data.train_x)}, data
        samples = as_tensor(data)
        return {"data.name": registry.PYTHON, "data.n_train": len(samples)}, samples
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


def fit(G: nn.Module | str | None = None, D: nn.Module | str | None = None, data: Any = None,
        *, loss: Any = None, config: str | Path | Config | None = None,
        overrides: Mapping[str, Any] | list[str] | None = None, out: str | Path | None = None,
        steps: int | None = None, callbacks: Callback | Iterable[Callback] = (),
        resume: bool = False, force: bool = False, evaluate: bool = True,
        trust_code: bool = False) -> Run:
    """Train a GAN; returns the Run (`run.finished` is False when a signal or a callback's
    `trainer.request_stop()` stopped it: a checkpoint was saved).

    G, D: your modules, or architecture names; data: a tensor/array (n, *shape), a torch Dataset,
    an image folder (a Path), or a data set name; loss: a name or an object with `d_loss` and
    `g_loss` (`gankit.Objective`). `config` and `overrides` set everything else, as on the
    command line. `out`: the run folder (None: nothing is written, nothing can be resumed).
    `resume=True` continues the checkpoint in `out` if there is one (pass the same G, D, data and
    loss objects as the first time); `trust_code` allows a config there that names import paths.
    """
    from gankit import run
    from gankit.tasks import build_task

    pairs: dict[str, Any] = {}
    data_pairs, data_obj = _data_pairs(data)
    loss_pairs, objective = _loss_pair(loss)
    pairs.update(data_pairs)
    pairs.update(_module_pair("model.g_arch", G))
    pairs.update(_module_pair("model.d_arch", D))
    pairs.update(loss_pairs)
    modules = {"G": G if isinstance(G, nn.Module) else None,
               "D": D if isinstance(D, nn.Module) else None, "objective": objective}

    def task_factory(cfg: Config) -> Any:
        return build_task(cfg, data_obj)

    if resume and out is not None and (Path(out) / FILENAME).exists():
        trainer = run.open_trainer(Path(out), steps, trust_code=trust_code,
                               task_factory=task_factory, **modules)
    else:
        given = _as_dict(overrides)
        if data_obj is not None and "eval.metrics" not in given:
            pairs["eval.metrics"] = ["w1"]  # the mixture/classifier metrics need their data set
        if steps is not None:
            pairs["train.steps"] = steps
        cfg = load_config(config, {**given, **pairs})  # one validation of the whole
        if out is None:
            trainer = Trainer(cfg, task_factory(cfg), None, **modules)
        else:
            trainer = run.start(cfg, Path(out), force, task_factory=task_factory, **modules)
    finished = run.train_run(trainer, callbacks)
    result = Run(trainer, finished)
    if finished and evaluate and trainer.cfg.eval.metrics and trainer.dist.is_main:
        result.evaluate()
        if trainer.run_dir is not None:
            result.render()
    return result


def _as_dict(overrides: Mapping[str, Any] | list[str] | None) -> dict[str, Any]:
    if not overrides:
        return {}
    return parse_overrides(list(overrides)) if isinstance(overrides, list) else dict(overrides)


def open_run(path: str | Path, *, G: nn.Module | None = None, D: nn.Module | None = None,
             data: Any = None, loss: Any = None, trust_code: bool = False) -> Run:
    """A finished (or stopped) run at its last checkpoint, to sample or evaluate. Runs trained on
    your own modules or data need them again (the checkpoint holds weights, not code)."""
    from gankit import run
    from gankit.tasks import build_task

    _, data_obj = _data_pairs(data)
    _, objective = _loss_pair(loss)
    trainer = run.open_trainer(Path(path), trust_code=trust_code,
                           task_factory=lambda cfg: build_task(cfg, data_obj),
                           G=G, D=D, objective=objective)
    return Run(trainer, trainer.step >= trainer.cfg.train.steps)
