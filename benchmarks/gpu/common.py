"""What the GPU check's parts share: skipping for want of data, partial results, --tiny sizes,
and training one preset within a wall-clock share."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class Skip(Exception):
    """A part that cannot run here (missing data, no CUDA): reported with its reason."""


def fail(message: str) -> None:
    """Bad input: one line and exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def save_partial(a: argparse.Namespace, result: dict) -> None:
    """What a part has measured so far: reported even if the part is killed later."""
    (Path(a.work) / f"{a.part}.partial.json").write_text(json.dumps(result, default=str))


def tiny_over(a: argparse.Namespace) -> dict:
    """--tiny checks the plumbing: torch.compile (tens of seconds per net) stays off."""
    return {"train.compile": False} if a.tiny else {}


def find_data(name: str) -> str:
    """The folder holding `name`'s IDX files; Skip (never a download) when it is missing."""
    from gankit.data.mnist import locate
    from gankit.errors import DataError

    try:
        return str(Path(locate(name, download=False)[("train", "images")]).parent)
    except DataError as e:
        raise Skip(f"{name} is not on this machine ({e})") from None


def train_for(preset: str, over: dict, seconds: float, run_dir: Path,
              grid_to: Path | None = None) -> dict:
    """Train a preset until its steps or `seconds` of wall clock (the bench engine's cell),
    evaluate; the metrics."""
    import torch

    from gankit import run
    from gankit.bench.engine import train_cell
    from gankit.config import load_preset
    from gankit.tasks.images import ImageTask
    from gankit.viz.grids import save_grid

    cfg = load_preset(preset).with_overrides(over)
    trainer, wall, _ = train_cell(cfg, run_dir, seconds, threads=torch.get_num_threads())
    result = run.evaluate(trainer)
    if grid_to is not None and isinstance(trainer.task, ImageTask):
        save_grid(grid_to, trainer.task.fixed_grid(trainer), scale=1)
    peak = torch.cuda.max_memory_allocated() / 2**20 if trainer.device.type == "cuda" else None
    return {"preset": preset, "overrides": {k: str(v) for k, v in over.items()},
            "steps": trainer.step, "target_steps": cfg.train.steps,
            "train_seconds": round(wall, 1), "steps_per_s": trainer.step / max(wall, 1e-9),
            "fast_path": trainer.fast.describe(), "peak_cuda_mib": peak,
            **{k: v for k, v in result.items() if k != "step"}}
