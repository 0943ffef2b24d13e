"""Run a benchmark suite: every (data × method × seed) cell in its own process, resumably.

A finished cell leaves OUT/cells/<data>__<method>__seed<s>.json (its config, metrics and timing)
and its evaluation samples next to it (.npy). A later run re-uses every cell that the cell rule
(gankit.bench.cells) finds the same, so an interrupted benchmark continues where it stopped and a
larger --seeds only trains the new seeds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gankit.bench.cells import decide
from gankit.bench.engine import run_parallel
from gankit.bench.suites import Method, Protocol, Suite
from gankit.config import Config, load_preset
from gankit.errors import GankitError


@dataclass(frozen=True)
class Cell:
    data: str
    method: Method
    seed: int
    config: str  # the resolved config, TOML

    @property
    def key(self) -> str:
        return f"{self.data}__{slug(self.method.name)}__seed{self.seed}"


_SPELLED = {"½": " half ", "¼": " quarter ", "¾": " three quarters "}


def slug(name: str) -> str:
    """A file-name form of a method name; fractions spelled out so "D ½" and "D ¼" differ."""
    for char, words in _SPELLED.items():
        name = name.replace(char, words)
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


@dataclass(frozen=True)
class Plan:
    """Everything a bench run does, resolved from the suite and the command-line options."""

    suite: Suite
    protocol: Protocol
    datasets: tuple[str, ...]
    methods: tuple[Method, ...]
    seeds: int
    steps: int | None  # None: the presets' own
    n_samples: int | None
    quick: bool


def make_plan(suite: Suite, seeds: int | None = None, steps: int | None = None,
              protocol: str | None = None, quick: bool = False,
              only_methods: list[str] | None = None, only_data: list[str] | None = None) -> Plan:
    """Resolve the options; `only_methods` / `only_data` select part of the suite."""
    q = suite.quick if quick else {}
    names = only_methods or q.get("methods")
    known = [m.name for m in suite.methods]
    for name in only_methods or []:
        if name not in known:
            raise GankitError(f"suite '{suite.name}' has no method '{name}'; "
                              f"methods: {', '.join(known)}")
    for name in only_data or []:
        if name not in suite.datasets:
            raise GankitError(f"suite '{suite.name}' has no data set '{name}'; "
                              f"data sets: {', '.join(suite.datasets)}")
    methods = tuple(m for m in suite.methods if names is None or m.name in names)
    seeds = seeds if seeds is not None else q.get("seeds", 5)
    steps = steps if steps is not None else q.get("steps")
    if seeds < 1:
        raise GankitError(f"--seeds must be ≥ 1, got {seeds}")
    if steps is not None and steps < 1:
        raise GankitError(f"--steps must be ≥ 1, got {steps}")
    datasets = tuple(only_data or q.get("datasets", suite.datasets))
    return Plan(suite, suite.protocol(protocol or q.get("protocol")), datasets, methods, seeds,
                steps, q.get("n_samples"), quick)


def cell_config(plan: Plan, data: str, method: Method, seed: int) -> Config:
    """The protocol's preset with the method's overrides; PacGAN batches hold m× the samples."""
    base = load_preset(plan.protocol.presets[data])
    overrides: dict[str, Any] = {**plan.protocol.overrides, **method.overrides,
                                 "train.seed": seed, "train.threads": 1,
                                 "train.batch_size": base.train.batch_size * method.pack}
    if method.d_scale != 1.0:
        overrides["model.d_width"] = max(1, round(base.model.d_width * method.d_scale))
    if plan.steps is not None:
        overrides["train.steps"] = plan.steps
    if plan.n_samples is not None:
        overrides["eval.n_samples"] = plan.n_samples
    return base.with_overrides(overrides)


def cells(plan: Plan) -> list[Cell]:
    out = [Cell(d, m, s, cell_config(plan, d, m, s).to_toml())
           for d in plan.datasets for m in plan.methods for s in range(plan.seeds)]
    keys = [c.key for c in out]
    if len(set(keys)) != len(keys):  # two methods would share (and overwrite) one result file
        clash = sorted({k for k in keys if keys.count(k) > 1})
        raise GankitError(f"suite '{plan.suite.name}': method names collide as file names: "
                          f"{', '.join(clash)}")
    return out


def finished(cell: Cell, folder: Path) -> dict[str, Any] | None:
    """The stored result of `cell`, if the cell rule (gankit.bench.cells) re-uses it."""
    path = folder / f"{cell.key}.json"
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return result if decide(result.get("config", ""), cell.config).action == "reuse" else None


def run_cell(cell: Cell, folder: Path) -> dict[str, Any]:
    """Train and evaluate one cell in this process (one torch thread); store result + samples."""
    import numpy as np

    from gankit import run
    from gankit.bench.engine import train_cell

    cfg = Config.from_toml(cell.config, source=f"cell {cell.key}")
    trainer, seconds, finished = train_cell(cfg)
    if not finished:  # SIGINT/SIGTERM: store nothing, the cell re-runs
        raise GankitError(f"cell {cell.key} stopped by {trainer.stop_signal} at step "
                          f"{trainer.step}; finished cells are kept: run the command again "
                          "to continue")
    metrics = run.evaluate(trainer)
    samples = trainer.run_record.eval_samples.cpu().numpy()
    np.save(folder / f"{cell.key}.npy", samples.astype(np.float32))
    result = {"data": cell.data, "method": cell.method.name, "seed": cell.seed,
              "steps": cfg.train.steps, "train_seconds": round(seconds, 2),
              "steps_per_second": round(cfg.train.steps / max(seconds, 1e-9), 2),
              "metrics": {k: v for k, v in metrics.items()
                          if k not in ("step", "n_samples", "eval_seconds")},
              "n_samples": metrics["n_samples"], "config": cell.config}
    tmp = folder / f"{cell.key}.json.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(folder / f"{cell.key}.json")  # atomic: a killed run leaves no half result
    return result


def warm_caches(todo: list[Cell]) -> None:
    """Train a task's domain classifier once, here, before the processes that all need it."""
    from gankit.tasks import build_task
    from gankit.tasks.images import ImageTask
    from gankit.tasks.stacked import StackedTask

    seen = set()
    for cell in todo:
        cfg = Config.from_toml(cell.config, source=f"cell {cell.key}")
        if repr(cfg.data) in seen:
            continue
        seen.add(repr(cfg.data))
        task = build_task(cfg)
        if isinstance(task, ImageTask | StackedTask):  # their metrics need the classifier
            task.classifier()


def run_plan(plan: Plan, out: Path, jobs: int = 1,
             report: Callable[[str, dict[str, Any], bool], None] | None = None,
             ) -> list[dict[str, Any]]:
    """Every cell of the plan, finished ones re-used; returns the results in plan order.

    `report(key, result, reused)` is called once per cell as it becomes available.
    """
    if jobs < 1:
        raise GankitError(f"--jobs must be ≥ 1, got {jobs}")
    folder = Path(out) / "cells"
    folder.mkdir(parents=True, exist_ok=True)
    todo, results = [], {}
    for cell in cells(plan):
        done = finished(cell, folder)
        if done is not None:
            results[cell.key] = done
            if report:
                report(cell.key, done, True)
        else:
            todo.append(cell)
    # seed by seed, so an interrupted benchmark has whole tables for its first seeds; within
    # a seed the slowest cells first, so the processes finish together
    todo.sort(key=lambda c: (c.seed, -c.method.cost()))
    if todo and jobs > 1:
        warm_caches(todo)
    for i, result in run_parallel(run_cell, [(cell, folder) for cell in todo], jobs,
                                  as_done=True):
        results[todo[i].key] = result
        if report:
            report(todo[i].key, result, False)
    return [results[c.key] for c in cells(plan)]
