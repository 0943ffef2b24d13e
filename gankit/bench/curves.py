"""Benchmarks over training time: mode collapse is a trajectory, not an end point.

A plain GAN on the ring may cover one mode at every moment yet visit all eight in turn (the
rotation of Metz et al. 2017, Figure 1), and PacGAN's advantage may open only late. So each cell
here is evaluated every `eval_every` steps on the same latent draws: modes, high-quality fraction,
reverse KL and the high-quality samples per mode, with the samples kept for the scatter grid.

A cell trains in OUT/cells/<key>/ (checkpoint, curve.jsonl, samples/), and its summary goes to
OUT/cells/<key>.json. Interrupted cells resume from their last checkpoint; a later invocation
with more steps continues finished cells instead of retraining them, and one with fewer steps
reads them off the stored curve. The table averages the evaluations of the last `tail` of the
steps, so one lucky or unlucky moment does not decide a row.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from gankit import rundir
from gankit.bench.cells import Verdict, decide
from gankit.bench.engine import run_parallel
from gankit.bench.runner import Cell, Plan, cells, finished
from gankit.bench.suites import CURVE_METRICS, CURVES
from gankit.bench.tables import strict_json
from gankit.errors import GankitError


# -- one cell -----------------------------------------------------------------------------------
def _stamp(config: str, eval_every: int) -> str:
    """What a cell's run folder records of its experiment: its config and its curve's interval."""
    raw = tomllib.loads(config)
    raw["bench"] = {"eval_every": eval_every}
    return tomli_w.dumps(raw)


def _folder_verdict(stamp: Path, config: str, eval_every: int) -> Verdict:
    """The cell rule (gankit.bench.cells) on the run a cell's folder holds: anything but
    "retrain" means the folder's run is this cell's, at some length."""
    if not stamp.exists():
        return Verdict("retrain", "no stamp in its run folder")
    text = stamp.read_text()
    try:
        if "\n# eval_every = " in text:  # stamps of an older version: the interval as a comment
            text, _, every = text.rpartition("\n# eval_every = ")
            stored_every = int(every.strip())
        else:
            raw = tomllib.loads(text)
            stored_every = raw.pop("bench", {}).get("eval_every")
            text = tomli_w.dumps(raw)
    except (ValueError, tomllib.TOMLDecodeError):
        return Verdict("retrain", "its stamp cannot be read")
    return decide(text, config, {"eval_every": stored_every}, {"eval_every": eval_every})


def evaluate(trainer) -> tuple[dict[str, Any], Any]:
    """The curve metrics (registered metrics, as eval uses them) of `eval.n_samples` samples from
    a fixed latent stream (the same z at every evaluation, so a change is G's, not the draw's),
    the high-quality samples per mode, and the samples themselves."""
    from gankit.metrics import compute
    from gankit.metrics.modes import mode_histogram

    mixture = trainer.task.mixture
    samples = trainer.sample(trainer.cfg.eval.n_samples).cpu()
    values = compute(CURVE_METRICS, samples, None, trainer.task)  # mixture metrics: no real set
    counts = [int(c) for c in mode_histogram(samples, mixture.centres, mixture.std)]
    return {"step": trainer.step, **values, "hq_counts": counts,
            "n_samples": len(samples)}, samples.numpy()


def _read_curve(path: Path, until: int) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for r in rows:  # stored as strict JSON: an infinite reverse KL is the text "inf"
        r["reverse_kl"] = float(r["reverse_kl"])
    return [r for r in rows if r["step"] <= until]


def _write_curve(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(strict_json(r)) + "\n" for r in rows))
    tmp.replace(path)


def run_curve_cell(cell: Cell, folder: Path, eval_every: int, tail: float = 0.2
                   ) -> dict[str, Any]:
    """Train one cell to its steps, evaluating every `eval_every`; resume what is stored."""
    import torch

    from gankit.config import Config

    torch.set_num_threads(1)
    cfg = Config.from_toml(cell.config, source=f"cell {cell.key}")
    # one writer per cell: a second invocation on the same folder (or a worker left running by
    # a killed one) would otherwise interleave two trainings in one checkpoint and curve
    lock = f"{cell.key}.lock"
    locked = rundir.lock_run(folder, f"gankit bench, cell {cell.key}", name=lock)
    try:
        return _run_curve_cell(cell, cfg, folder, eval_every, tail)
    finally:
        if locked:
            rundir.unlock_run(folder, name=lock)


def _trainer_for(cfg, run_dir: Path, steps: int):
    """The cell's trainer, through gankit.run (writer lock, config reconciliation): its run
    folder's, to go on to `steps`, or a new one; None when the folder's run is past `steps`."""
    from gankit import run
    from gankit.train.checkpoint import FILENAME

    if (run_dir / FILENAME).exists():
        trainer = run.open_trainer(run_dir)
        if trainer.step > steps:
            run.release_run(trainer)
            return None
        run.set_steps(trainer, steps)
        return trainer
    shutil.rmtree(run_dir, ignore_errors=True)  # no checkpoint: nothing to continue
    return run.start(cfg, run_dir)


def _train_seconds(run_dir: Path) -> float:
    path = run_dir / "timing.json"
    return json.loads(path.read_text())["train_seconds"] if path.exists() else 0.0


def _train_curve(cell: Cell, cfg, run_dir: Path, eval_every: int
                 ) -> tuple[list[dict[str, Any]], float] | None:
    """Train (or go on training) the cell to its steps, evaluating every `eval_every`: its curve
    and training seconds over all sessions; None when the folder's run is past its steps."""
    import numpy as np

    from gankit import run

    steps = cfg.train.steps
    trainer = _trainer_for(cfg, run_dir, steps)
    if trainer is None:
        return None
    (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    (run_dir / "cell.toml").write_text(_stamp(cell.config, eval_every))
    curve_path, seconds = run_dir / "curve.jsonl", _train_seconds(run_dir)
    rows = _read_curve(curve_path, trainer.step)

    def record(tr) -> None:
        if tr.step % eval_every == 0 or tr.step == steps:
            row, samples = evaluate(tr)
            rows.append(row)
            np.save(run_dir / "samples" / f"step_{tr.step:07d}.npy", samples.astype(np.float32))
            _write_curve(curve_path, rows)

    if not rows:
        record(trainer)
    started = time.perf_counter()
    done = run.train_run(trainer, record)
    seconds += time.perf_counter() - started
    (run_dir / "timing.json").write_text(json.dumps({"train_seconds": round(seconds, 2)}))
    if not done:
        raise GankitError(f"cell {cell.key} stopped by {trainer.stop_signal} at step "
                          f"{trainer.step}; run the command again to continue")
    return rows, seconds


def _run_curve_cell(cell: Cell, cfg, folder: Path, eval_every: int, tail: float
                    ) -> dict[str, Any]:
    steps = cfg.train.steps
    run_dir = folder / cell.key
    verdict = _folder_verdict(run_dir / "cell.toml", cell.config, eval_every)
    if run_dir.exists() and verdict.action == "retrain":
        print(f"cell {cell.key}: training it again from step 0 ({verdict.reason})", flush=True)
        shutil.rmtree(run_dir)
    stored = _read_curve(run_dir / "curve.jsonl", 10**12)
    if any(r["step"] == steps for r in stored):  # read off the curve of this or a longer run
        seconds = _train_seconds(run_dir)
    else:
        trained = _train_curve(cell, cfg, run_dir, eval_every)
        if trained is None:  # a longer run whose curve lacks this step: start afresh
            shutil.rmtree(run_dir)
            return _run_curve_cell(cell, cfg, folder, eval_every, tail)
        stored, seconds = trained
    curve = [r for r in stored if r["step"] <= steps]
    # train_seconds covers the longest run of this cell; scale it to the steps asked for
    longest = max(r["step"] for r in stored) or 1
    seconds_here = seconds * steps / longest
    result = {"data": cell.data, "method": cell.method.name, "seed": cell.seed, "steps": steps,
              "train_seconds": round(seconds_here, 2),
              "steps_per_second": round(steps / max(seconds_here, 1e-9), 2),
              "metrics": tail_metrics(curve, steps, tail), "final": curve[-1],
              "mode_hops": mode_hops(curve), "curve": curve, "config": cell.config}
    tmp = folder / f"{cell.key}.json.tmp"
    tmp.write_text(json.dumps(strict_json(result), indent=1))
    tmp.replace(folder / f"{cell.key}.json")
    return result


def tail_metrics(curve: list[dict[str, Any]], steps: int, tail: float) -> dict[str, float]:
    """Mean of each metric over the evaluations in the last `tail` of the steps. The reverse KL
    is undefined (infinite) at an evaluation without a high-quality sample: its mean is over the
    others (infinite if there are none), and `no_hq_share` says how many were left out."""
    last = [r for r in curve if r["step"] >= (1 - tail) * steps] or curve[-1:]
    out = {}
    for m in CURVE_METRICS:
        values = [float(r[m]) for r in last]
        finite = [v for v in values if math.isfinite(v)]
        out[m] = statistics.fmean(finite) if finite else math.inf
    out["no_hq_share"] = sum(not math.isfinite(float(r["reverse_kl"])) for r in last) / len(last)
    return out


def near_radius(centres) -> float:
    """"Near a mode" for the mode-hopping chart: within a quarter of the closest spacing of two
    centres (ring of radius 2: 0.38; grid: 0.5). Wider than PacGAN's high-quality radius of 3 std,
    so that a collapsed G's blob counts at its mode while it is not yet sharp."""
    import torch

    c = torch.as_tensor(centres, dtype=torch.float64)
    d = torch.cdist(c, c) + torch.eye(len(c), dtype=torch.float64) * 1e9
    return float(d.min()) / 4


def near_counts(samples, centres) -> list[int]:
    """Samples within `near_radius` of each mode centre."""
    import torch

    x = torch.as_tensor(samples, dtype=torch.float64)
    c = torch.as_tensor(centres, dtype=torch.float64)
    dist, nearest = torch.cdist(x, c).min(dim=1)
    near = dist <= near_radius(c)
    return [int(v) for v in torch.bincount(nearest[near], minlength=len(c))]


def mode_hops(curve: list[dict[str, Any]], share: float = 0.5, key: str = "hq_counts") -> int:
    """How often the mode holding most of the samples near a mode (`key`: hq_counts or
    near_counts) changes between consecutive evaluations, counting only evaluations where one
    mode holds more than `share` of them: the rotation of a collapsed G, as one number."""
    hops, last = 0, None
    for r in curve:
        counts, total = r[key], sum(r[key])
        if not total:
            continue
        top = max(range(len(counts)), key=counts.__getitem__)
        if counts[top] <= share * total:
            last = None  # spread out: a later dominant mode is no hop from this one
            continue
        if last is not None and top != last:
            hops += 1
        last = top
    return hops


def finished_cell(cell: Cell, folder: Path) -> dict[str, Any] | None:
    """The stored curve of `cell` (runner.finished), its reverse KL back to floats."""
    result = finished(cell, folder)
    if result is None:
        return None
    result["metrics"] = {k: float(v) for k, v in result["metrics"].items()}
    for r in result["curve"]:
        r["reverse_kl"] = float(r["reverse_kl"])
    return result


def run_curves(plan: Plan, out: Path, jobs: int = 1,
               report: Callable[[str, dict[str, Any], bool], None] | None = None,
               finished_only: bool = False) -> list[dict[str, Any]]:
    """Every cell of the plan along training; finished ones re-used, others continued.
    `finished_only`: train nothing, return the finished cells alone (a table of what is done
    while the rest still runs or waits for a longer session)."""
    if jobs < 1:
        raise GankitError(f"--jobs must be ≥ 1, got {jobs}")
    spec = CURVES[plan.suite.name]
    every = spec.quick_eval_every if plan.quick else spec.eval_every
    folder = Path(out) / "cells"
    folder.mkdir(parents=True, exist_ok=True)
    todo, results = [], {}
    for cell in cells(plan):
        done = finished_cell(cell, folder)
        if done is not None:  # its table numbers from its curve, as this version computes them
            done["metrics"] = tail_metrics(done["curve"], done["steps"], spec.tail)
            results[cell.key] = done
            if report:
                report(cell.key, done, True)
        else:
            todo.append(cell)
    # the cheap methods' seeds first (a plain GAN's behaviour over seeds is the baseline every
    # remedy is read against), then seed by seed, the slowest cells first
    if finished_only:
        if not results:
            raise GankitError(f"no finished cells in {folder} for this plan")
        return [results[c.key] for c in cells(plan) if c.key in results]
    cheapest = min(m.cost() for m in plan.methods)
    todo.sort(key=lambda c: (c.method.cost() > cheapest, c.seed, -c.method.cost()))
    if todo and jobs == 1:
        for cell in todo:
            results[cell.key] = run_curve_cell(cell, folder, every, spec.tail)
            if report:
                report(cell.key, results[cell.key], False)
    elif todo:
        calls = [(c, folder, every, spec.tail) for c in todo]
        for i, result in run_parallel(run_curve_cell, calls, jobs, as_done=True):
            results[todo[i].key] = result
            if report:
                report(todo[i].key, result, False)
    return [results[c.key] for c in cells(plan)]
