"""Processes of a test's DDP job on CPU: each joins a gloo group, trains through gankit.run and
saves its parameters and buffers, so a test can compare ranks and process counts."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import torch


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_here(overrides: list[str], run_dir: Path, steps: int, resume: bool,
               signal_at: int | None = None) -> dict:
    """`gankit train` (or `gankit resume --steps`) in this process; its weights and facts.

    signal_at: this process sends itself SIGTERM after that step (as if only it was signalled).
    """
    from gankit import run
    from gankit.config import load_preset

    if resume:
        trainer = run.open_trainer(run_dir, steps=steps)
    else:
        cfg = load_preset("toy-grid").with_overrides([*overrides, f"train.steps={steps}"])
        trainer = run.start(cfg, run_dir)
    def hook(t) -> None:
        if t.step == signal_at:
            os.kill(os.getpid(), signal.SIGTERM)

    finished = run.train_run(trainer, hook)
    state = {f"G.{k}": v for k, v in trainer.G.state_dict().items()}
    state |= {f"D.{k}": v for k, v in trainer.D.state_dict().items()}
    return {"state": state, "step": trainer.step, "world": trainer.dist.world_size,
            "local_batch": trainer.sampler.batch_size, "finished": finished,
            "stop_signal": trainer.stop_signal}


def worker(rank: int, world: int, port: int, overrides: list[str], run_dir: str, out: str,
           steps: int, resume: bool, signal_rank: int | None, signal_at: int | None) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from gankit.train.distributed import shutdown

    try:
        record = train_here(overrides, Path(run_dir), steps, resume,
                            signal_at if rank == signal_rank else None)
        torch.save(record, Path(out) / f"rank{rank}.pt")
    finally:
        shutdown()


def launch(world: int, overrides: list[str], run_dir: Path, out: Path, steps: int,
           resume: bool = False, signal_rank: int | None = None,
           signal_at: int | None = None) -> list[dict]:
    """Train on `world` spawned processes (world 1: in this process); each rank's record.
    With signal_rank/signal_at, that rank alone receives SIGTERM after that step."""
    if world == 1:
        return [train_here(overrides, run_dir, steps, resume)]
    out.mkdir(parents=True, exist_ok=True)
    torch.multiprocessing.spawn(
        worker, args=(world, free_port(), overrides, str(run_dir), str(out), steps, resume,
                      signal_rank, signal_at),
        nprocs=world, join=True)
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(world)]
