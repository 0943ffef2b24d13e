"""How much of an unrolled generator's gradient the real-data term of f(θ_G, θ_D^K) carries.

Before the fix in gankit/train/unrolled.py, G's unrolled loss kept only its own objective on
D^K(G(z)) and dropped E_x log D^K(x), which depends on θ_G through the unrolled updates. This
script trains a preset for a few hundred steps and, at a few points, compares G's gradient with
the term (`full`), without it (`fake_only`, the old loss) and without unrolling (`K0`):

    python -m benchmarks.unrolled_probe toy-grid --unroll 5 --steps 0 100 300 [key=value ...]

It prints one JSON line per probe step; nothing here is timed.
"""

from __future__ import annotations

import argparse
import json

import torch

from gankit.config import load_preset
from gankit.tasks import build_task
from gankit.train.loop import Trainer
from gankit.train.unrolled import unrolled_g_loss


def gradients(tr: Trainer, z: torch.Tensor) -> dict[str, torch.Tensor]:
    out = {}
    for name, overrides in (("full", {"train.unroll_real_term": True}),
                            ("fake_only", {"train.unroll_real_term": False})):
        tr.cfg = tr.cfg.with_overrides(overrides)
        tr.G.zero_grad()
        unrolled_g_loss(tr, tr.G(z)).backward()
        out[name] = torch.cat([p.grad.flatten() for p in tr.G.parameters()]).clone()
    tr.G.zero_grad()
    tr.D.requires_grad_(False)
    tr.objective.g_loss(None, tr.D(tr.G(z))).backward()
    tr.D.requires_grad_(True)
    out["K0"] = torch.cat([p.grad.flatten() for p in tr.G.parameters()]).clone()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("preset")
    ap.add_argument("--unroll", type=int, default=5)
    ap.add_argument("--steps", type=int, nargs="+", default=[0, 100, 300])
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_preset(args.preset).with_overrides(
        [*args.overrides, f"train.unroll={args.unroll}", "train.ema=0.0", "train.threads=1"])
    tr = Trainer(cfg, build_task(cfg))
    for step in sorted(args.steps):
        tr.fit(max(step, 1))
        z = tr.sample_z(tr.sampler.batch_size)
        g = gradients(tr, z)

        def rel(a: str, b: str, g: dict = g) -> float:
            return float((g[a] - g[b]).norm() / g[b].norm())

        def cos(a: str, b: str, g: dict = g) -> float:
            return float(torch.nn.functional.cosine_similarity(g[a], g[b], dim=0))

        print(json.dumps({
            "preset": args.preset, "unroll": args.unroll, "overrides": args.overrides,
            "step": tr.step, "norm_full": float(g["full"].norm()),
            "norm_fake_only": float(g["fake_only"].norm()), "norm_K0": float(g["K0"].norm()),
            "rel_diff_full_vs_fake_only": rel("fake_only", "full"),
            "cos_full_fake_only": cos("full", "fake_only"), "cos_full_K0": cos("full", "K0"),
            "cos_fake_only_K0": cos("fake_only", "K0")}), flush=True)


if __name__ == "__main__":
    main()
