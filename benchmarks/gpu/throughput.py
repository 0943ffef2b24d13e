"""Part `speed`: the classic eager loop against gankit's fast path (benchmarks/speed.py) on the
toy MLP and the 28×28 and 64×64 DCGANs: samples/s, FLOPs per image, the fraction of peak bf16,
and the largest batch that fits."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from benchmarks.gpu.common import save_partial, tiny_over


def speed_models(a: argparse.Namespace) -> list:
    """The three models of benchmarks/speed.py; with --tiny, the same nets at toy widths."""
    import torch

    from benchmarks import speed

    full = [*speed.models(cuda=True)[:2], speed.Model(
        "DCGAN 64×64 (RGB, width 64, nz 100, batch 128)", speed.dcgan64(), (3, 64, 64),
        torch.rand(4096, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1)]
    if not a.tiny:
        return full
    small = {"model.g_width": 8, "model.d_width": 8, "train.batch_size": 16}
    return [speed.Model(m.name.split(" (")[0] + " (tiny: width 8, batch 16)",
                        m.cfg.with_overrides({**small, **({"prior.dim": 16} if i else {})}),
                        m.shape, m.data[:256]) for i, m in enumerate(full)]


def largest_batch(m, device, seconds: float, first: int, max_batch: int,
                  over: dict) -> dict:
    """Double the batch of one trainer (compiled once, then with dynamic shapes) until out of
    memory, `max_batch` or the time is spent; samples/s and peak memory per size."""
    import torch

    from benchmarks import speed
    from gankit.data.sampler import EpochSampler
    from gankit.train.loop import Trainer
    from gankit.train.memory import peak_memory, reset_peak

    cfg = m.cfg.with_overrides({"train.device": device.type, "train.batch_size": first,
                                **over})
    data = m.data.to(device)
    trainer = Trainer(cfg, speed.Synthetic(data[:max(first, 256)]))
    deadline = time.perf_counter() + seconds
    rows, batch, oom = [], first, None
    while batch <= max_batch and time.perf_counter() < deadline:
        try:
            if data.shape[0] < batch:  # random images on the device, as many as one batch
                data = torch.rand(batch, *m.shape, device=device) * 2 - 1
            trainer.sampler = EpochSampler(data[:batch], batch, seed=0)
            trainer.d_batches = 0
            reset_peak(device)
            window = min(1.0, max(0.1, (deadline - time.perf_counter()) / 8))
            rate = batch * speed.steps_per_second(trainer, window, warmup=2)
            rows.append({"batch": batch, "samples_per_s": rate,
                         "peak_mib": round(peak_memory(device)[0], 1)})
            print(f"  batch {batch}: {rate:,.0f} samples/s", flush=True)
        except Exception as e:
            if isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower():
                oom = batch
                break
            raise
        batch *= 2
    if device.type == "cuda":
        torch.cuda.empty_cache()
    fits = max((r["batch"] for r in rows), default=0)
    if oom:
        note = f"out of memory at {oom}: the largest batch that fits is between {fits} and {oom}"
    elif batch > max_batch:
        note = f"no out-of-memory up to {fits} (the search stops at {max_batch})"
    else:
        note = f"time ran out: {fits} fits, larger sizes not tried"
    return {"rows": rows, "largest_fitting": fits, "oom_at": oom, "note": note}


def matmul_tflops(device, n: int, reps: int = 10) -> float:
    """bf16 n×n×n matrix products per second, in TFLOP/s: what the GPU delivers in practice,
    beside the data sheet's peak (mean of `reps` after 3 warm-ups)."""
    import torch

    from benchmarks import speed

    x = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    y = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        x @ y
    sync = speed.cuda_sync(device)
    sync()
    start = time.perf_counter()
    for _ in range(reps):
        x @ y
    sync()
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e12


def part_speed(a: argparse.Namespace) -> dict:
    import torch

    from benchmarks import speed

    device = torch.device(a.device)
    cuda = device.type == "cuda"
    peak = speed.peak_bf16(device) if cuda else None
    started, models = time.perf_counter(), speed_models(a)
    weights = (0.2, 0.3, 0.5)  # of the share: the 64×64 DCGAN's batch search matters most
    ends = [started + a.seconds * sum(weights[:i + 1]) for i in range(len(models))]
    out: dict[str, Any] = {"models": [], "peak_bf16_tflops": peak / 1e12 if peak else None,
                           "peak_source": speed.PEAK_SOURCE,
                           "matmul_bf16_tflops": matmul_tflops(device, 8192 if cuda and
                                                               not a.tiny else 256),
                           "matmul_size": 8192 if cuda and not a.tiny else 256}
    for i, m in enumerate(models):
        if time.time() > a.deadline - 20:
            out["models"].append({"model": m.name, "skipped": "the part's time ran out"})
            out["out_of_time"] = True
            continue
        torch._dynamo.reset()
        window = max(0.1, a.seconds * weights[i] * 0.2 / 4)  # 2 variants × 2 repeats
        res = speed.compare(m, device, {"classic eager loop": torch.get_num_threads()},
                            {"gankit fast path": tiny_over(a)}, window, 2,
                            2 if a.tiny else 20)
        classic, fast = res["classic eager loop"][0], res["gankit fast path"][0]
        flops = speed.flops_per_image(m)
        row: dict[str, Any] = {
            "model": m.name, "batch": m.cfg.train.batch_size, "classic_samples_per_s": classic,
            "fast_samples_per_s": fast, "ratio": fast / classic,
            "fast_path": speed.describe(speed.Model(m.name, m.cfg.with_overrides(tiny_over(a)),
                                                    m.shape, m.data), device),
            "gflop_per_image": flops / 1e9,
            "warmup_s": res["gankit fast path"][1],
            "peak_fraction": flops * fast / peak if peak else None}
        print(json.dumps(row), flush=True)
        if i > 0:  # the DCGANs: batch search, in what is left of this model's share
            torch._dynamo.reset()
            left = max(ends[i] - time.perf_counter(), a.seconds * weights[i] * 0.3)
            sweep = largest_batch(m, device, left, m.cfg.train.batch_size,
                                  64 if a.tiny else 1 << 17, tiny_over(a))
            best = max(sweep["rows"], key=lambda r: r["samples_per_s"], default=None)
            row["batch_search"] = sweep
            if best:
                row["best_batch"] = best["batch"]
                row["best_samples_per_s"] = best["samples_per_s"]
                row["best_peak_fraction"] = flops * best["samples_per_s"] / peak if peak else None
        out["models"].append(row)
        save_partial(a, out)
    return out

