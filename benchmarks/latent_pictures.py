"""The pictures of latent walks and the truncation trick in docs/images.md.

Trains a small Fashion-MNIST DCGAN (or re-uses the run in --run when it holds a finished
checkpoint), then draws from it with the same commands and functions a user has:

- walks: `gankit sample RUN --interpolate 10 -n 6 --seed 0 --out docs/images/walk-fashion.png`
  (and .gif): six walks between random latent endpoints, slerp in the normal prior;
- the truncation sweep: one seed's 10 latents at ψ = 0.25, 0.5, 1, 2 and 4, a row each
  (`Run.sample(10, seed=0, truncation=ψ)`; the inverse-CDF draws correspond across ψ);
- what truncation does to fidelity and diversity: precision, recall, density, coverage and
  fd_classifier of --samples samples at each ψ and without truncation, against as many held-out
  test images (benchmarks/results/latent-truncation.json, the table in docs/images.md).

    python -m benchmarks.latent_pictures                      # trains runs/latent-fashion first
    python -m benchmarks.latent_pictures --run RUN --steps 0  # re-uses a finished run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
RESULTS = ROOT / "benchmarks" / "results" / "latent-truncation.json"
SWEEP = (0.25, 0.5, 1.0, 2.0, 4.0)
#: The run of the pictures: the DCGAN recipe at half width and batch 64 (bf16 autocast where
#: measured faster, as by default), 1,500 steps: minutes on an idle 2-core CPU.
TRAIN = ["model.g_width=32", "model.d_width=32", "train.batch_size=64",
         'eval.metrics=["fd_classifier"]', "eval.n_samples=2000"]


def gankit(*args: str) -> None:
    command = [sys.executable, "-m", "gankit", *args]
    print("$ gankit " + " ".join(args), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def sweep_picture(run_dir: Path, out: Path, n: int = 10, seed: int = 0) -> Path:
    """A row of the same n latents per ψ, labelled on the left."""
    import gankit as gk
    from gankit.data.images import to_uint8, to_unit
    from gankit.viz.grids import tile

    run = gk.open_run(run_dir)
    rows = [to_uint8(to_unit(run.sample(n, seed=seed, truncation=psi),
                             run.config.data.pixel_range)).numpy() for psi in SWEEP]
    picture = tile(np.concatenate(rows), nrow=n)
    scale, margin = 2, 52
    grid = Image.fromarray(picture[:, :, 0]).resize(
        (picture.shape[1] * scale, picture.shape[0] * scale), Image.Resampling.NEAREST)
    canvas = Image.new("L", (grid.width + margin, grid.height), 255)
    canvas.paste(grid, (margin, 0))
    draw = ImageDraw.Draw(canvas)
    side = rows[0].shape[-1] + 2
    for i, psi in enumerate(SWEEP):
        draw.text((4, (2 + i * side) * scale + side * scale // 2 - 6), f"psi {psi:g}", fill=0)
    canvas.save(out)
    return out


def truncation_table(run_dir: Path, n: int) -> list[dict]:
    """The prdc values and fd_classifier of n samples at each ψ (None: no truncation)."""
    import gankit as gk
    from gankit.metrics import compute
    from gankit.seeds import EVAL

    run = gk.open_run(run_dir)
    seed = run.config.train.seed + EVAL
    real = run.trainer.task.real_samples(n, seed)
    rows = []
    for psi in (*SWEEP[1:], None):
        fake = run.sample(n, seed=seed, truncation=psi)
        rows.append({"truncation": psi, **compute(["prdc", "fd_classifier"], fake, real,
                                                   run.trainer.task)})
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "latent-fashion")
    parser.add_argument("--steps", type=int, default=1500, help="0: re-use --run as it is")
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.steps:
        gankit("train", "fashion-dcgan", "--steps", str(args.steps), "--out", str(args.run),
               "--force", *TRAIN)
    for suffix in (".png", ".gif"):
        gankit("sample", str(args.run), "--interpolate", "10", "-n", "6", "--seed", "0",
               "--out", str(IMAGES / f"walk-fashion{suffix}"))
    sweep = sweep_picture(args.run, IMAGES / "truncation-fashion.png")
    rows = truncation_table(args.run, args.samples)
    record = {"command": "python -m benchmarks.latent_pictures " + " ".join(argv or sys.argv[1:]),
              "machine": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores)",
              "date": time.strftime("%Y-%m-%d"), "samples": args.samples,
              "seconds": round(time.perf_counter() - started), "rows": rows}
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {sweep} and {RESULTS}")


if __name__ == "__main__":
    main()
