#!/bin/bash
# The command that wrote BENCHMARKS.md's `pacgan-grid-80k` section from the folder that
# benchmarks/results/pacgan-grid-80k/command.sh fills (its headlines summarise the table).
.venv/bin/python -m benchmarks.mode_collapse runs/bench/pacgan-grid-80k \
  --section pacgan-grid-80k --title "Mode collapse over training: PacGAN's grid continued to 80,000 steps" \
  --headline "Plain GAN: **17.3 ± 0.8 of the 25 modes** over the last fifth of 80,000 steps (paper *17.3* at 400,000), its samples sharpened to 77 % high quality (56 % at 20,000 steps; paper *94.8 %*)." \
  --headline "PacGAN2: **cured, 3 of 3 seeds** — 24.9 ± 0.1 modes, reverse KL 0.07 ± 0.03 (paper *23.8*, *0.13*) and 82 % high quality (paper *91.3 %*), ahead of the plain GAN in modes and reverse KL from step 20,000 on, and in high-quality fraction at most evaluations from about step 45,000 (82 % against 77 % over the last fifth)." \
  --headline "PacGAN4: **not cured at 80,000 steps** — 14.9 ± 0.6 modes at 2.8 % high quality; its high-quality fraction is flat from step 5,000 on in all three seeds, so on this protocol and length packing cures collapse for PacGAN2 only (paper PacGAN4 *24.8 modes, 93.6 %* at 400,000 steps)." \
  --note "How these ran: one process at a time at nice 19 with one torch thread, each method into its own folder, on this 2-core machine while other work shared the cores (so s / run overstates an idle machine's cost), 2026-12-03/04; the cells were gathered into one folder and the table written by \`gankit bench pacgan-grid --seeds 3 --steps 80000 --finished-only\`, which trains nothing (benchmarks/results/pacgan-grid-80k/command.sh has every step). The cells' summaries, curves included, are kept in benchmarks/results/pacgan-grid-80k/."
