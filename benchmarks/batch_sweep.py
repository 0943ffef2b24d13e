"""Batch-size sweep: speed and peak memory of gankit's training step against the batch size, and
on CUDA the largest batch that fits. Writes the `batch_sweep` section of BENCHMARKS.md.

CPU: every batch size runs in a fresh process (the maximum resident set size never goes down),
which reports samples/s and its peak RSS before and after training, for the toy MLP and the
28×28 DCGAN. CUDA: in this process, the batch doubles until torch.cuda.OutOfMemoryError, then a
bisection (to a multiple of 8) finds the largest batch that fits, with
torch.cuda.max_memory_allocated per size; the 64×64 DCGAN is added.

    python -m benchmarks.batch_sweep             # the CPU sweep here, the GPU sweep on CUDA
    python -m benchmarks.batch_sweep --no-write
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys

import torch

from benchmarks.report import ROOT, provenance, write_section
from benchmarks.speed import NO_GPU, Model, Synthetic, fmt, models, steps_per_second
from gankit.train.loop import Trainer
from gankit.train.memory import peak_memory, reset_peak

CPU_SIZES = {"toy": (64, 256, 1024, 4096), "dcgan28": (32, 128, 512)}


def measure(m: Model, batch: int, device: torch.device, seconds: float,
            overrides: dict | None = None) -> dict:
    """samples/s and peak memory of `batch` on `device`, in this process."""
    cfg = m.cfg.with_overrides({"train.batch_size": batch, "train.device": device.type,
                                **(overrides or {})})
    data = m.data if len(m.data) >= batch else m.data.repeat(-(-batch // len(m.data)),
                                                             *[1] * (m.data.dim() - 1))
    reset_peak(device)
    before, kind = peak_memory(device)
    speed = batch * steps_per_second(Trainer(cfg, Synthetic(data)), seconds)
    after, _ = peak_memory(device)
    return {"batch": batch, "samples_per_s": speed, "peak_mib": after,
            "before_mib": before, "kind": kind}


def cpu_child(args) -> None:
    """One batch size in this (fresh) process; prints one JSON line."""
    torch.set_num_threads(1)
    m = {"toy": models(False)[0], "dcgan28": models(False)[1]}[args.child]
    print(json.dumps(measure(m, args.batch, torch.device("cpu"), args.seconds)))


def short(m: Model) -> str:
    """The model's name without its default batch size (the sweep varies it)."""
    return m.name.split(", batch")[0] + (")" if ", batch" in m.name else "")


def cpu_sweep(args) -> list[str]:
    rows = []
    names = {"toy": short(models(False)[0]), "dcgan28": short(models(False)[1])}
    for key, sizes in CPU_SIZES.items():
        for batch in sizes:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.batch_sweep", "--child", key, "--batch",
                 str(batch), "--seconds", str(args.seconds)], capture_output=True, text=True,
                check=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(f"| {names[key]} | cpu, 1 thread | {batch} | {fmt(r['samples_per_s'])} | "
                        f"{r['peak_mib']:.0f} (before training: {r['before_mib']:.0f}) |")
            print(rows[-1], flush=True)
    return rows


def fits(m: Model, batch: int, device: torch.device, seconds: float) -> dict | None:
    try:
        return measure(m, batch, device, seconds)
    except Exception as e:  # OOM, possibly wrapped by torch.compile's backend
        if isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower():
            return None
        raise
    finally:
        gc.collect()
        torch.cuda.empty_cache()


def gpu_sweep(args) -> list[str]:
    device = torch.device("cuda")
    rows = []
    for m in models(True)[1:]:  # the two DCGANs
        results, batch, failed = [], 64, None
        while batch <= args.max_batch:
            r = fits(m, batch, device, args.seconds)
            if r is None:
                failed = batch
                break
            results.append(r)
            batch *= 2
        if failed is not None and results:  # bisect between the last fit and the first OOM
            lo, hi = results[-1]["batch"], failed
            while hi - lo > 8:
                mid = (lo + hi) // 2 // 8 * 8
                r = fits(m, mid, device, args.seconds)
                if r is None:
                    hi = mid
                else:
                    lo = mid
                    results.append(r)
        for r in sorted(results, key=lambda r: r["batch"]):
            rows.append(f"| {short(m)} | {torch.cuda.get_device_name(device)} | {r['batch']} | "
                        f"{fmt(r['samples_per_s'])} | {r['peak_mib']:.0f} |")
        largest = max(r["batch"] for r in results) if results else 0
        note = (f"largest batch that fits: {largest}" if failed is not None else
                f"no OOM up to {args.max_batch}")
        rows.append(f"| {short(m)} | {note} | | | |")
        print("\n".join(rows[-len(results) - 1:]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed window per size")
    parser.add_argument("--max-batch", type=int, default=65536, help="CUDA: stop doubling here")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        cpu_child(args)
        return
    head = ("| model | device | batch | samples/s | peak memory, MiB |\n"
            "|---|---|---|---|---|")
    cpu = cpu_sweep(args)
    gpu = gpu_sweep(args) if torch.cuda.is_available() else [
        f"| DCGAN 28×28 and 64×64 (RGB, width 64, nz 100) | GPU | {NO_GPU} | | |"]
    body = ("## Batch-size sweep\n\n" + provenance() + "\n" + head + "\n" +
            "\n".join(cpu + gpu) + "\n\n"
            "CPU: one fresh process per row, single-threaded, eager fp32; peak memory is the "
            "process's maximum resident set size (Python, torch and the data included). GPU: "
            "the device's default fast path; peak memory is torch.cuda.max_memory_allocated; "
            "the batch doubles until out of memory, then bisects to a multiple of 8.\n")
    print(body)
    if not args.no_write:
        print(f"wrote {write_section('batch_sweep', body)}")


if __name__ == "__main__":
    main()
