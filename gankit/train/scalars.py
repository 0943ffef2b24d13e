"""Where each line of the training log goes besides metrics.jsonl: TensorBoard event files
(`train.tensorboard`, extra `gankit[tensorboard]`) and Weights & Biases (`train.wandb`, extra
`gankit[wandb]`). The trainer talks to one `Scalars` object (open, write, close); each backend
is a small sink behind it.

Only the process that writes files logs (under torchrun, rank 0). Nothing is created when a
trainer is built: the sinks start when training starts, after gankit.run has checked and locked
the run folder. W&B keeps its files in the run folder's `wandb/` (unless WANDB_DIR says
elsewhere) with the W&B run's id, so a resumed run continues the same W&B run;
`WANDB_MODE=offline` keeps everything on the machine (`wandb sync` uploads it later).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Protocol

from gankit._optional import require
from gankit.errors import GankitError
from gankit.rundir import TENSORBOARD as TENSORBOARD_DIR
from gankit.rundir import WANDB as WANDB_DIR
from gankit.rundir import WANDB_ID_FILE  # the W&B run id: resume continues that W&B run


class Sink(Protocol):
    def open(self, cfg: Any, step: int) -> None: ...
    def write(self, record: dict[str, float], step: int) -> None: ...
    def close(self) -> None: ...


class TensorBoard:
    """Event files in run_dir/tensorboard (torch.utils.tensorboard's writer)."""

    def __init__(self, run_dir: Path) -> None:
        self.folder, self.writer = run_dir / TENSORBOARD_DIR, None

    def open(self, cfg: Any, step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if self.writer is None:
            self.writer = SummaryWriter(log_dir=str(self.folder))

    def write(self, record: dict[str, float], step: int) -> None:
        for name, value in record.items():
            self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class Wandb:
    """A Weights & Biases run: the config once, then each log line at its generator step."""

    def __init__(self, run_dir: Path | None, project: str, name: str) -> None:
        self.run_dir, self.project, self.name, self.run = run_dir, project, name, None

    def open(self, cfg: Any, step: int) -> None:
        import wandb

        if self.run is not None:
            return
        run_id = secrets.token_hex(4)  # W&B ids: letters and digits
        where = os.environ.get("WANDB_DIR") or None  # read here: W&B reads it once a process
        if self.run_dir is not None:  # the id first, so the folder is known to be gankit's
            id_file = self.run_dir / WANDB_DIR / WANDB_ID_FILE
            if id_file.is_file():
                run_id = id_file.read_text().strip()
            else:
                id_file.parent.mkdir(exist_ok=True)
                id_file.write_text(run_id + "\n")
            where = where or str(self.run_dir)
        name = self.name or (self.run_dir.name if self.run_dir is not None else None)
        try:
            self.run = wandb.init(project=self.project, name=name, dir=where, id=run_id,
                                  resume="allow", config=cfg.to_dict())
        except Exception as e:  # no login, no network, a bad WANDB_* setting
            raise GankitError(f"train.wandb = true, but Weights & Biases did not start "
                              f"({type(e).__name__}: {str(e)[:200]}); run `wandb login`, or "
                              "set WANDB_MODE=offline to keep the logs on this machine") from None

    def write(self, record: dict[str, float], step: int) -> None:
        self.run.log(record, step=step)

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


class Scalars:
    """The sinks of one trainer; the trainer calls open at the start of training, write for each
    log line (without its 'step'), close at the end."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    def open(self, cfg: Any, step: int) -> None:
        for sink in self.sinks:
            sink.open(cfg, step)

    def write(self, record: dict[str, float], step: int) -> None:
        values = {k: v for k, v in record.items() if k != "step"}
        for sink in self.sinks:
            sink.write(values, step)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def build(train: Any, run_dir: Path | None, is_main: bool) -> Scalars:
    """The sinks train.tensorboard and train.wandb ask for; a missing package is one line now,
    before anything is trained."""
    sinks: list[Sink] = []
    if train.tensorboard:
        require("tensorboard", "gankit[tensorboard]", "train.tensorboard = true")
        if run_dir is not None:
            sinks.append(TensorBoard(run_dir))
    if train.wandb:
        require("wandb", "gankit[wandb]", "train.wandb = true")
        if is_main:
            sinks.append(Wandb(run_dir, train.wandb_project, train.wandb_name))
    return Scalars(sinks)
