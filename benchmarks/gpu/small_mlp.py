"""Part `small_mlp`: small MLPs are launch-bound, so the trainer's modes (eager, torch.compile,
CUDA graphs) and several seeds at once with torch.func (benchmarks/multiseed.py) are timed; the
fastest trainer mode is left for the PacGAN part."""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path

from benchmarks.gpu.common import save_partial


def trainer_modes(a: argparse.Namespace) -> dict[str, dict]:
    """Steps/s and warm-up of gankit's trainer on the PacGAN grid in each compile mode."""
    import torch

    from benchmarks import speed
    from gankit.config import load_preset
    from gankit.tasks import build_task
    from gankit.train.loop import Trainer

    cfg = load_preset("toy-grid-pacgan").with_overrides(
        {"train.device": a.device, "data.n_train": 10_000, "eval.metrics": []})
    if a.tiny:
        cfg = cfg.with_overrides({"model.g_width": 32, "model.d_width": 32})
    task = build_task(cfg)
    variants = {"eager": {"train.compile": False}}
    if not a.tiny:
        variants |= {"compile default": {"train.compile": True},
                     "compile reduce-overhead (CUDA graphs)": {
                         "train.compile": True, "train.compile_mode": "reduce-overhead"}}
    window = max(0.2, a.seconds * 0.45 / len(variants) / 2)
    rows: dict[str, dict] = {}
    for name, over in variants.items():
        torch._dynamo.reset()
        try:
            t = Trainer(cfg.with_overrides(over), task)
            start = time.perf_counter()
            for _ in range(20 if a.device == "cuda" else 3):
                t.train_step()
            speed.trainer_sync(t)()
            warm = time.perf_counter() - start
            rate = max(speed.steps_per_second(t, window, warmup=0) for _ in range(2))
            rows[name] = {"steps_per_s": rate, "warmup_s": warm,
                          "finite": bool(torch.isfinite(t.acc).all()), "overrides": over}
        except Exception as e:  # one failing mode (e.g. CUDA graphs) does not end the part
            rows[name] = {"error": f"{type(e).__name__}: {str(e)[:300]}", "overrides": over}
            traceback.print_exc()
        print(name, json.dumps(rows[name]), flush=True)
        save_partial(a, {"trainer": rows})
        ok = {k: v for k, v in rows.items() if "steps_per_s" in v and v["finite"]}
        (Path(a.work) / "trainer_modes.json").write_text(json.dumps(ok))  # for the PacGAN part
    return rows


def part_small_mlp(a: argparse.Namespace) -> dict:
    import torch

    from benchmarks import multiseed

    trainer_rows = trainer_modes(a)
    ok = {k: v for k, v in trainer_rows.items() if "steps_per_s" in v and v["finite"]}
    choice = max(ok, key=lambda k: ok[k]["steps_per_s"]) if ok else "eager"
    device = torch.device(a.device)
    seeds, width, batch = (3, 32, 64) if a.tiny else (8, 256, 256)
    seed_rows = {}
    hows = ["sequential", "vmap"] + (["vmap+compile"] if a.device == "cuda" and not a.tiny
                                     else [])
    for how in hows:
        torch._dynamo.reset()
        try:
            seed_rows[how] = multiseed.measure(how, seeds, device,
                                               max(0.2, a.seconds * 0.35 / len(hows)),
                                               batch=batch, width=width)
        except Exception as e:
            seed_rows[how] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
            traceback.print_exc()
        print(how, json.dumps(seed_rows[how]), flush=True)
        save_partial(a, {"trainer": trainer_rows, "multiseed": seed_rows})
    good = {k: v for k, v in seed_rows.items() if "seed_steps_per_s" in v and v["finite"]}
    multi = max(good, key=lambda k: good[k]["seed_steps_per_s"]) if good else None
    return {"trainer": trainer_rows, "trainer_choice": choice, "config": "toy-grid-pacgan, GAN",
            "multiseed": seed_rows, "multiseed_choice": multi,
            "multiseed_setup": f"{seeds} seeds of a plain {width}-wide 3-layer MLP GAN, "
                               f"batch {batch}"}
