#!/bin/bash
# How benchmarks/results/pacgan-grid-80k/ was produced (2026-12-03/04, Intel Xeon 2 cores, torch
# 2.13.0+cpu, one process at a time, nice 19, OMP_NUM_THREADS=1, other work sharing the cores).
# Each method trained into its own folder; the cells were then gathered into one folder and the
# table and pictures written from the finished cells (which trains nothing).
set -euo pipefail
for m in PacGAN4 GAN PacGAN2; do
  OMP_NUM_THREADS=1 nice -n 19 .venv/bin/gankit bench pacgan-grid --method "$m" --seeds 3 \
    --steps 80000 --jobs 1 --out "runs/longruns/pacgan-grid-$m"
done
mkdir -p runs/bench/pacgan-grid-80k/cells
for m in PacGAN4 GAN PacGAN2; do cp -r runs/longruns/pacgan-grid-$m/cells/. runs/bench/pacgan-grid-80k/cells/; done
.venv/bin/gankit bench pacgan-grid --seeds 3 --steps 80000 --finished-only --out runs/bench/pacgan-grid-80k
