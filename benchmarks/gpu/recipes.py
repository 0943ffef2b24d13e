"""The training parts: Fashion-MNIST's DCGAN recipe for two minutes, the Keras MNIST GAN of the
implementation notes at its full length, PacGAN's 2-D grid and Stacked MNIST with PacGAN's nets
as far as their shares allow, each trained by the bench engine and evaluated as in BENCHMARKS.md."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.gpu.common import Skip, find_data, save_partial, tiny_over, train_for

PAPER_PACGAN_STEPS = 400_000
PACGAN_GOAL = "PacGAN4 ≥ 24.5 of 25 modes, reverse KL ≤ 0.05, at 400,000 steps"


def part_fashion(a: argparse.Namespace) -> dict:
    from gankit.config import load_preset
    from gankit.tasks import build_task

    over: dict[str, Any] = {"train.device": a.device, "train.steps": 1_000_000,
                            "train.ckpt_every": 1_000_000, "train.frame_every": 1_000_000}
    classifier_s = None
    if a.tiny:  # toy nets, no classifier metrics (training it takes minutes on a CPU)
        try:
            preset, note = "fashion-dcgan", f"Fashion-MNIST from {find_data('fashion-mnist')}"
        except Skip:
            preset, note = "digits-tiny", "scikit-learn's 8×8 digits (no Fashion-MNIST here)"
        minutes = min(a.seconds / 60 / 3, 0.05)
        over |= {"eval.metrics": [], "eval.n_samples": 200, "model.g_width": 8,
                 "model.d_width": 8, "prior.dim": 16, **tiny_over(a)}
    else:
        data = find_data("fashion-mnist")
        preset, minutes, note = "fashion-dcgan", 2.0, f"Fashion-MNIST from {data}"
        over["eval.n_samples"] = 10_000
        started = time.perf_counter()  # the domain classifier: cached, or trained now (CPU)
        build_task(load_preset(preset)).classifier()
        classifier_s = round(time.perf_counter() - started, 1)
        print(f"domain classifier ready in {classifier_s} s", flush=True)
    grid = Path(a.out) / "fashion-grid.png"
    row = train_for(preset, over, minutes * 60, Path(a.work) / "fashion", grid)
    row["classifier_seconds"] = classifier_s
    ratio = row["fd_classifier"] / row["fd_classifier_noisy"] if "fd_classifier_noisy" in row \
        else None
    return {"minutes": minutes, "data": note, "grid": grid.name, **row,
            "fd_over_noisy": ratio, "goal": "fd_classifier ≤ 0.3 × the noisy-real reference",
            "goal_met": None if ratio is None else ratio <= 0.3}


def part_keras_mnist(a: argparse.Namespace) -> dict:
    data = find_data("mnist")
    over: dict[str, Any] = {"train.device": a.device, "data.download": False}
    reserve = 10 if a.tiny else 45  # evaluation: 10,000 samples through the classifier
    if a.tiny:
        over |= {"train.steps": 20, "train.pretrain_d_samples": 64, "eval.metrics": [],
                 "eval.n_samples": 200, "model.g_width": 16, "model.d_width": 16,
                 **tiny_over(a)}
    row = train_for("keras-mnist", over, max(1.0, a.seconds - reserve),
                    Path(a.work) / "keras-mnist")
    return {"data": data, **row, "finished": row["steps"] >= row["target_steps"]}


def part_pacgan(a: argparse.Namespace) -> dict:
    import torch

    methods = {"GAN": 1, "PacGAN4": 4}
    reserve = 3 if a.tiny else 8  # per method: evaluation on 2,500 samples
    each = max(1.0, a.seconds / len(methods) - reserve)
    # the trainer mode (eager, compiled, CUDA graphs) measured by small_mlp that does the most
    # steps in this time, its warm-up (compilation) included; the device default without it
    modes_file = Path(a.work) / "trainer_modes.json"
    modes = json.loads(modes_file.read_text()) if modes_file.exists() else {}
    best = max(modes, key=lambda k: modes[k]["steps_per_s"] * max(0.0, each - modes[k][
        "warmup_s"]), default=None)
    choice = modes[best]["overrides"] if best else {}
    rows = {}
    for name, pack in methods.items():
        torch._dynamo.reset()
        over = {"train.device": a.device, "train.pack": pack, "train.batch_size": 100 * pack,
                "train.ckpt_every": 1_000_000, "train.frame_every": 1_000_000, **choice,
                **tiny_over(a)}
        if a.tiny:
            over |= {"model.g_width": 32, "model.d_width": 32, "train.steps": 200,
                     "eval.n_samples": 500}
        row = train_for("toy-grid-pacgan", over, each, Path(a.work) / f"pacgan-{name}")
        row["fraction_of_paper_steps"] = row["steps"] / PAPER_PACGAN_STEPS
        rows[name] = row
        print(name, json.dumps(row), flush=True)
        save_partial(a, {"methods": rows})
    p4 = rows["PacGAN4"]
    met = p4["modes"] >= 24.5 and p4["reverse_kl"] <= 0.05
    return {"methods": rows, "trainer_mode": best or "the device's default fast path",
            "goal": PACGAN_GOAL,
            "goal_met": met if p4["steps"] >= PAPER_PACGAN_STEPS else None}


def part_stacked(a: argparse.Namespace) -> dict:
    data = find_data("mnist")
    over: dict[str, Any] = {"train.device": a.device, "data.download": False,
                            "train.ckpt_every": 1_000_000, "train.frame_every": 1_000_000}
    if a.tiny:
        over |= {"train.steps": 20, "eval.metrics": [], "eval.n_samples": 200,
                 "model.g_width": 8, "model.d_width": 8, "data.n_train": 1000,
                 **tiny_over(a)}
    row = train_for("stacked-mnist-pacgan", over, max(1.0, a.seconds - (5 if a.tiny else 30)),
                    Path(a.work) / "stacked")
    return {"data": data, **row, "finished": row["steps"] >= row["target_steps"]}

