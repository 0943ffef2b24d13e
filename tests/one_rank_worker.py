"""One torchrun rank forced onto gankit's multi-process path (tests/test_cuda.py).

gankit treats a world of one process as a plain single process; with one GPU, NCCL cannot have two
ranks, so this worker patches `Dist.enabled` and the collectives' guard to take the distributed
path with one rank: NCCL (gloo on CPU) process group, DistributedDataParallel, the stop vote and
the checkpoint-time broadcasts. It sends itself SIGTERM after step 5 and writes what happened.

    torchrun --nproc_per_node 1 tests/one_rank_worker.py DEVICE RUN_DIR OUT.json COMPILE
"""

import json
import os
import signal
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from gankit import run
from gankit.config import load_preset
from gankit.train import distributed


def main() -> None:
    device, run_dir, out, compile_ = sys.argv[1:5]
    distributed.Dist.enabled = property(lambda self: True)  # type: ignore[method-assign]
    distributed._active = lambda: dist.is_available() and dist.is_initialized()
    torch.set_num_threads(1)
    cfg = load_preset("toy-grid").with_overrides([
        "model.g_width=32", "model.d_width=32", "data.n_train=2000", "train.batch_size=64",
        "train.log_every=4", "train.ckpt_every=100", "train.frame_every=100000",
        "train.steps=50", f"train.device={device}", f"train.compile={compile_.lower()}",
        "model.g_batchnorm=true", "eval.n_samples=300",
        *(["train.sync_batchnorm=true"] if device.startswith("cuda") else [])])
    trainer = run.start(cfg, Path(run_dir))

    def term_after_5(t) -> None:
        if t.step == 5:
            os.kill(os.getpid(), signal.SIGTERM)

    try:
        finished = run.train_run(trainer, term_after_5)
        state = [*trainer.G.state_dict().values(), *trainer.D.state_dict().values()]
        record = {"backend": dist.get_backend(), "world": dist.get_world_size(),
                  "ddp": type(getattr(trainer.nets.G_ddp, "_orig_mod", trainer.nets.G_ddp)).__name__
                  == "DistributedDataParallel",
                  "step": trainer.step, "finished": finished, "stop_signal": trainer.stop_signal,
                  "finite": all(bool(torch.isfinite(v.float()).all()) for v in state)}
        Path(out).write_text(json.dumps(record))
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    main()
