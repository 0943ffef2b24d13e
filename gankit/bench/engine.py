"""What every benchmark does: train one config (optionally within a wall-clock budget) on one
torch thread, and run many such cells in parallel processes. `gankit bench` (runner.py) and the
scripts in benchmarks/ all use these, so each script only defines its cells and its report.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from gankit.config import Config
from gankit.errors import GankitError
from gankit.train.loop import Callback, Trainer

R = TypeVar("R")


def budget(seconds: float) -> Callback:
    """A callback that stops training once `seconds` of wall clock have passed since it was
    made (checked after each step; the run then saves and returns as after a signal)."""
    started = time.perf_counter()

    def stop_when_spent(trainer: Trainer) -> None:
        if time.perf_counter() - started >= seconds:
            trainer.request_stop("budget")

    return stop_when_spent


def train_cell(cfg: Config, run_dir: Path | None = None, seconds: float | None = None,
               threads: int = 1, force: bool = True) -> tuple[Trainer, float, bool]:
    """Train `cfg` to its steps (or until `seconds` of wall clock) on `threads` torch threads;
    returns the trainer, the training seconds and whether it ran to its last step."""
    import torch

    from gankit import run

    torch.set_num_threads(threads)
    trainer = run.start(cfg, run_dir, force=force)
    started = time.perf_counter()
    callbacks = [budget(seconds)] if seconds is not None else []
    finished = run.train_run(trainer, callbacks)
    return trainer, time.perf_counter() - started, finished


def _die_with_parent(parent: int) -> None:
    """Worker initializer: on Linux, ask the kernel to send this worker SIGTERM when the process
    that started it dies (even by SIGKILL), so the worker saves its cell's checkpoint and stops
    instead of training on, unseen, into a folder a later invocation will use."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: workers end when they next read the queue
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def _heartbeat(line: Callable[[], str], every: float | None) -> Iterator[None]:
    """Print `line()` to stderr every `every` seconds while the block runs (a cell trains for
    minutes without a word of its own: the user sees that the benchmark is alive)."""
    if not every:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            print(line(), file=sys.stderr, flush=True)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


def run_parallel(fn: Callable[..., R], calls: Sequence[tuple[Any, ...]], jobs: int = 1,
                 as_done: bool = False, heartbeat: float | None = 60.0
                 ) -> Iterator[tuple[int, R]]:
    """(index, fn(*call)) for every call, `jobs` at a time in fresh (spawned) processes, yielded
    in call order (or, `as_done`, as each finishes); in this process when jobs == 1. Every
    `heartbeat` seconds a line on stderr says how many cells are done (None: silent)."""
    if jobs < 1:
        raise GankitError(f"--jobs must be ≥ 1, got {jobs}")
    started, finished = time.perf_counter(), [0]

    def line() -> str:
        return (f"  ... {finished[0]} of {len(calls)} cells done, "
                f"{min(jobs, len(calls) - finished[0])} training, "
                f"{(time.perf_counter() - started) / 60:.1f} min since the start")

    with _heartbeat(line, heartbeat):
        if jobs == 1:
            for i, call in enumerate(calls):
                result = fn(*call)
                finished[0] += 1
                yield i, result
            return
        if not os.environ.get("OMP_NUM_THREADS"):  # inherited by the workers (set but empty
            os.environ["OMP_NUM_THREADS"] = "1"  # counts as unset: libgomp warns about "")
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                 initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(fn, *call): i for i, call in enumerate(calls)}
            for future in futures:
                future.add_done_callback(lambda _: finished.__setitem__(0, finished[0] + 1))
            for future in as_completed(futures) if as_done else futures:
                yield futures[future], future.result()
