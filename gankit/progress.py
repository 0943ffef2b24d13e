"""The training progress bar, one for the command line and for `gankit.fit`: steps done of the
run's total, elapsed time, time left, and the last logged D and G losses. Where the output is
not a terminal (a log file, CI), a live bar would print nothing until the end, so a plain line
is printed every `LOG_EVERY_S` seconds instead."""

from __future__ import annotations

import time
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
#: seconds between progress lines when the output is not a terminal
LOG_EVERY_S = 30.0


def _stats(trainer: Any) -> str:
    rec = trainer.last_record
    return f"D {rec['d_loss']:.3f}  G {rec['g_loss']:.3f}" if rec else ""


@contextmanager
def training_bar(trainer: Any, console: Console) -> Iterator[Callable[[Any], None]]:
    """A live bar on `console`; yields the step callback that moves it."""
    if not console.is_terminal:
        yield _log_lines(trainer, console)
        return
    total = trainer.cfg.train.steps
    with Progress(*COLUMNS, console=console, transient=False) as progress:
        task_id = progress.add_task("train", total=total, completed=trainer.step, stats="")

        def on_step(trainer: Any) -> None:
            progress.update(task_id, completed=trainer.step, stats=_stats(trainer))

        yield on_step


def _log_lines(trainer: Any, console: Console) -> Callable[[Any], None]:
    """The step callback for a log: a line of progress at most every LOG_EVERY_S seconds, and at
    the last step."""
    total, first, start = trainer.cfg.train.steps, trainer.step, time.monotonic()
    last = start

    def on_step(trainer: Any) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < LOG_EVERY_S and trainer.step < total:
            return
        last = now
        done = trainer.step - first
        rate = done / max(now - start, 1e-9)
        eta = (total - trainer.step) / rate if rate > 0 else float("inf")
        console.print(f"training: step {trainer.step:,} of {total:,}  "
                      f"{_clock(now - start)} elapsed, eta {_clock(eta)}  {_stats(trainer)}",
                      highlight=False)

    return on_step


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
