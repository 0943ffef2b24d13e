"""What each stabiliser of docs/modern.md costs per training step, on this machine.

Variants of the Fashion-MNIST DCGAN preset (spectral norm on D, R1 on every D step, R1 every 16th
D step, RpGAN + R1 + R2, the ResNet nets) and the fashion-r3gan preset as it is, each a
`gankit.Trainer` on 2,048 Fashion-MNIST training images. The variants'
timed windows are interleaved (A B C ... A B C ...), so background load on a shared machine hits
them alike; the best window of --repeats is kept, and the table gives seconds per generator step
and the time relative to the plain DCGAN step. The fast path is off (eager fp32, no compile) so
that the options, not the switches, are compared.

    python -m benchmarks.modern_cost            # 1 thread, 3 windows of 4 steps per variant
    python -m benchmarks.modern_cost --threads 2 --steps 8
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime

import torch

from gankit.config import load_preset
from gankit.tasks import build_task
from gankit.train.loop import Trainer

#: name -> (preset, overrides)
VARIANTS: dict[str, tuple[str, dict]] = {
    "DCGAN (fashion-dcgan)": ("fashion-dcgan", {}),
    "+ spectral norm on D": ("fashion-dcgan", {"model.spectral_norm": "d"}),
    "+ R1 every D step": ("fashion-dcgan", {"train.penalties": {"r1": 1.0}}),
    "+ R1 every 16th D step": ("fashion-dcgan", {"train.penalties": {"r1": 1.0},
                                                 "train.penalty_every": 16}),
    "+ RpGAN + R1 + R2": ("fashion-dcgan", {"train.loss": "rpgan",
                                             "train.penalties": {"r1": 0.05, "r2": 0.05}}),
    "ResNet nets (width 32), NS loss": ("fashion-dcgan", {
        "model.g_arch": "resnet", "model.d_arch": "resnet", "model.g_width": 32,
        "model.d_width": 32}),
    "fashion-r3gan": ("fashion-r3gan", {}),
}
EAGER = {"train.amp": False, "train.channels_last": False, "train.compile": False,
         "train.fused_adam": False, "train.device": "cpu", "eval.metrics": []}


def trainer(preset: str, overrides: dict, threads: int) -> Trainer:
    cfg = load_preset(preset).with_overrides({**overrides, **EAGER, "train.threads": threads,
                                              "data.n_train": 2048})
    return Trainer(cfg, build_task(cfg))


def measure(threads: int, steps: int, repeats: int) -> dict[str, tuple[float, int]]:
    """name -> (best seconds per generator step, batch size)."""
    runs = {name: trainer(preset, over, threads) for name, (preset, over) in VARIANTS.items()}
    for t in runs.values():  # warm-up: allocations, first-call overheads
        t.train_step()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, t in runs.items():
            start = time.perf_counter()
            for _ in range(steps):
                t.train_step()
            float(t.acc.sum())  # wait for the work (a no-op on CPU, honest elsewhere)
            best[name] = min(best[name], (time.perf_counter() - start) / steps)
    return {name: (best[name], runs[name].cfg.train.batch_size) for name in runs}


def table(results: dict[str, tuple[float, int]]) -> str:
    base = next(iter(results.values()))[0]
    lines = ["| variant | batch | s / step | × DCGAN's step |", "|---|---|---|---|"]
    for name, (sec, batch) in results.items():
        lines.append(f"| {name} | {batch} | {sec:.3f} | {sec / base:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4, help="generator steps per window")
    parser.add_argument("--repeats", type=int, default=3, help="windows per variant")
    args = parser.parse_args()
    results = measure(args.threads, args.steps, args.repeats)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} thread(s), torch {torch.__version__}, load average {load}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(table(results))


if __name__ == "__main__":
    main()
