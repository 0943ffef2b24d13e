"""Data-parallel training under torchrun: one process per device, DistributedDataParallel.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK (and MASTER_ADDR/MASTER_PORT); `setup` reads them
and starts the process group: NCCL for CUDA devices, gloo on CPU. Without them gankit is a single
process and every function here is a no-op. Semantics (docs/speed.md):

- `train.batch_size` is the *global* batch: each of W processes takes batch_size / W. Rank r
  trains on slice r of every global batch of real data (EpochSampler) and of latent vectors (all
  ranks draw the global latent batch from one shared stream and keep their slice), so a run means
  the same thing on any number of processes: without BatchNorm, W processes follow the
  single-process trajectory up to float rounding, and a checkpoint resumes on any W that divides
  the batch. (BatchNorm normalises over the per-process batch unless train.sync_batchnorm.)
- Only rank 0 writes files; every rank reads the checkpoint on resume.
- A signal stops all ranks after the same step: each step votes asynchronously, one step behind.
"""

from __future__ import annotations

import datetime
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gankit.errors import ConfigError, GankitError

T = TypeVar("T")
ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class Dist:
    """This process's place in the job: rank r of world_size, local_rank on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = Dist()


def from_env() -> Dist:
    """The ranks torchrun announced in the environment (a single process when it did not)."""
    if "WORLD_SIZE" not in os.environ:
        return SINGLE
    try:
        rank, world, local = (int(os.environ.get(k, "0")) for k in ENV)
    except ValueError:
        values = {k: os.environ.get(k) for k in ENV}
        raise GankitError(f"torchrun variables {values} are not integers; launch with "
                          "`torchrun --nproc_per_node N -m gankit train ...`") from None
    if not 0 <= rank < world:
        raise GankitError(f"RANK={rank} is outside 0..WORLD_SIZE-1 (WORLD_SIZE={world})")
    return Dist(rank, world, local)


def setup(device: torch.device) -> Dist:
    """Join the process group torchrun described (idempotent); `device` picks NCCL or gloo."""
    info = from_env()
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
    return info


def local_device(device: torch.device, info: Dist) -> torch.device:
    """Under torchrun each process takes the GPU of its LOCAL_RANK (choose GPUs with
    CUDA_VISIBLE_DEVICES); a CPU device is shared."""
    if device.type != "cuda" or not info.enabled:
        return device
    if device.index is not None and os.environ.get("LOCAL_WORLD_SIZE", "1") != "1":
        raise ConfigError(
            f"train.device = '{device}' names one GPU, but torchrun starts one process per GPU: "
            "use train.device=cuda (process LOCAL_RANK takes cuda:LOCAL_RANK) and choose GPUs "
            "with CUDA_VISIBLE_DEVICES")
    local = torch.device("cuda", info.local_rank if device.index is None else device.index)
    torch.cuda.set_device(local)
    return local


def local_batch(batch_size: int, pack: int, info: Dist) -> int:
    """The per-process share of the global batch; it must divide evenly (and by the pack size)."""
    if batch_size % info.world_size:
        raise ConfigError(
            f"train.batch_size = {batch_size} is the global batch and must divide evenly among "
            f"the {info.world_size} processes; use a multiple of {info.world_size}")
    share = batch_size // info.world_size
    if share % pack:
        raise ConfigError(
            f"each of the {info.world_size} processes takes {share} of train.batch_size = "
            f"{batch_size}, not a multiple of train.pack = {pack}; use a multiple of "
            f"{pack * info.world_size}")
    return share


def rank_slice(z: Tensor, info: Dist) -> Tensor:
    """This rank's rows of a global draw of world_size × n rows."""
    if not info.enabled:
        return z
    n = z.shape[0] // info.world_size
    return z[info.rank * n:(info.rank + 1) * n]


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel around a module whose gradients must be averaged over ranks.

    No buffer sync at each forward: the D step calls D twice (real, fake) before one backward,
    and a per-forward buffer broadcast would be a collective inside the step; BatchNorm buffers
    are made identical at checkpoints instead (`sync_for_save`).
    """
    import inspect

    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    # newer torch renames the switch (and still syncs buffers at init, which is what we want)
    no_sync = "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters
    key = "forward_sync_buffers" if no_sync else "broadcast_buffers"
    return DDP(module, device_ids=ids, **{key: False})


def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """BatchNorm layers replaced by SyncBatchNorm (same parameters and buffers, so the same
    state_dict): statistics over the global batch. PyTorch implements it for GPUs only."""
    if device.type != "cuda":
        raise ConfigError("train.sync_batchnorm = true needs CUDA devices (PyTorch's "
                          "SyncBatchNorm has no CPU implementation); set it to false on CPU")
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)


# -- collectives: all are no-ops in a single process ---------------------------------------------
def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_mean(t: Tensor) -> Tensor:
    """The mean of `t` over ranks (a new tensor)."""
    out = t.clone()
    if _active():
        dist.all_reduce(out)
        out /= dist.get_world_size()
    return out


def all_reduce(t: Tensor, op: str) -> Tensor:
    """`t` reduced over ranks with op 'sum', 'min' or 'max' (a new tensor)."""
    out = t.clone()
    if _active():
        dist.all_reduce(out, op={"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN,
                                 "max": dist.ReduceOp.MAX}[op])
    return out


def sync_for_save(modules: tuple[nn.Module | None, ...], acc: Tensor) -> Tensor:
    """Before a checkpoint: rank 0's BatchNorm buffers on every rank (DDP's own rule, applied
    once here instead of at every forward); returns the interval statistics averaged over ranks."""
    if not _active():
        return acc
    for module in modules:
        if module is not None:
            for b in module.buffers():
                dist.broadcast(b, 0)
    return all_mean(acc)


def max_over_ranks(value: float) -> float:
    if not _active():
        return value
    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def main_first(fn: Callable[[], T]) -> T | None:
    """Run `fn` on rank 0 while the others wait; a GankitError there is raised on every rank."""
    info = from_env()
    if not (info.enabled and dist.is_initialized()):
        return fn()
    result, message = None, None
    if info.is_main:
        try:
            result = fn()
        except GankitError as e:
            message = str(e)
    box = [message]
    dist.broadcast_object_list(box, src=0)
    if box[0] is not None:
        raise GankitError(box[0])
    return result


def shutdown() -> None:
    """Leave the process group, after the stop votes still in flight."""
    while _VOTES:
        _VOTES.pop().drain()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def require_single(what: str) -> None:
    if from_env().enabled:
        raise GankitError(f"{what} runs as one process; start it with `gankit`, not torchrun")


class StopVote:
    """Agree on stopping without a host sync on the device: every step each rank posts the
    number of the signal it received (0: none) to an asynchronous all-reduce on a CPU (gloo)
    group and reads the previous step's result, so all ranks learn of a signal at the same step,
    one step after the earliest rank received it. Created on every rank at once (a collective)."""

    def __init__(self) -> None:
        self.group = dist.new_group(backend="gloo") if dist.get_backend() != "gloo" else None
        self.flag = torch.zeros(1, dtype=torch.int32)
        self.work: Any = None
        self.ready = 0
        _VOTES.append(self)

    def drain(self) -> None:
        """Wait for the vote in flight (a process must not leave the group with one pending)."""
        if self.work is not None:
            self.work.wait()
            self.work = None
            self.ready = int(self.flag.item())

    def poll(self, signum: int) -> int:
        """The largest signal number any rank had posted one poll ago (0: none)."""
        self.drain()
        agreed, self.ready = self.ready, 0
        self.flag = torch.tensor([signum], dtype=torch.int32)
        self.work = dist.all_reduce(self.flag, op=dist.ReduceOp.MAX, group=self.group,
                                    async_op=True)
        return agreed


_VOTES: list[StopVote] = []


def stop_reason(signum: int) -> str:
    """The name the trainer records for a stop the ranks agreed on (e.g. SIGTERM)."""
    return signal.Signals(signum).name
