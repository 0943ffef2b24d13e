"""The training progress bar, one for the command line and for `gankit.fit`: steps done of the
run's total, elapsed time, time left, and the last logged D and G losses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

COLUMNS = (TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
           TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
           TextColumn("{task.fields[stats]}"))


@contextmanager
def training_bar(trainer: Any, console: Console) -> Iterator[Callable[[Any], None]]:
    """A live bar on `console`; yields the step callback that moves it."""
    total = trainer.cfg.train.steps
    with Progress(*COLUMNS, console=console, transient=False) as progress:
        task_id = progress.add_task("train", total=total, completed=trainer.step, stats="")

        def on_step(trainer: Any) -> None:
            rec = trainer.last_record
            stats = f"D {rec['d_loss']:.3f}  G {rec['g_loss']:.3f}" if rec else ""
            progress.update(task_id, completed=trainer.step, stats=stats)

        yield on_step
