"""Several seeds of a small MLP GAN in one process: one seed at a time against all seeds at once
with torch.func (stacked parameters, vmap), the same step either way.

Small MLPs are launch-bound on a GPU: a 3×256 step is a few dozen tiny kernels, so the GPU idles
between launches. Stacking the parameters of S seeds and vmapping one step over them launches the
same number of kernels for S seeds. The step here is a plain MLP GAN (ReLU, no BatchNorm, no
maxout, non-saturating loss, Adam written out functionally) on the 25-mode grid; the PacGAN
protocol's nets (BatchNorm G, maxout D) are not vmapped: BatchNorm's running statistics are
updated in place, which vmap cannot batch without rewriting the layer.

    python -m benchmarks.multiseed --device cuda --seeds 8 --seconds 3
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, stack_module_state, vmap


def mlp(din: int, width: int, depth: int, dout: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(din if i == 0 else width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, dout))


def grid_batch(n: int, gen: torch.Generator | None, device: torch.device,
               shape: tuple[int, ...] = ()) -> Tensor:
    """Points of the 25-mode grid (means at -4..4 step 2, std 0.05)."""
    idx = torch.randint(0, 25, (*shape, n), device=device, generator=gen)
    centers = torch.stack([idx // 5, idx % 5], -1).float() * 2 - 4
    return centers + 0.05 * torch.randn(*shape, n, 2, device=device, generator=gen)


class MultiSeed:
    """S seeds' G and D as stacked parameters, with a functional Adam step for both players."""

    def __init__(self, seeds: int, device: torch.device, width: int = 256, depth: int = 3,
                 nz: int = 2, lr: float = 1e-3, betas: tuple[float, float] = (0.5, 0.999)):
        gs, ds = [], []
        for s in range(seeds):
            torch.manual_seed(s)
            gs.append(mlp(nz, width, depth, 2).to(device))
            ds.append(mlp(2, width, depth, 1).to(device))
        # plain tensors: torch.func.grad differentiates them without autograd's leaf flags
        self.pg = {k: v.detach() for k, v in stack_module_state(gs)[0].items()}
        self.pd = {k: v.detach() for k, v in stack_module_state(ds)[0].items()}
        self.g_base, self.d_base = copy.deepcopy(gs[0]).to("meta"), copy.deepcopy(ds[0]).to("meta")
        self.mg = {k: torch.zeros_like(v) for k, v in self.pg.items()}
        self.vg = {k: torch.zeros_like(v) for k, v in self.pg.items()}
        self.md = {k: torch.zeros_like(v) for k, v in self.pd.items()}
        self.vd = {k: torch.zeros_like(v) for k, v in self.pd.items()}
        self.t = torch.zeros((), device=device)
        self.seeds, self.nz, self.lr, self.betas, self.device = seeds, nz, lr, betas, device

    def G(self, p: dict, z: Tensor) -> Tensor:
        return functional_call(self.g_base, p, (z,))

    def D(self, p: dict, x: Tensor) -> Tensor:
        return functional_call(self.d_base, p, (x,)).squeeze(-1)

    def adam(self, p: dict, g: dict, m: dict, v: dict, t: Tensor) -> tuple[dict, dict, dict]:
        b1, b2 = self.betas
        m = {k: b1 * m[k] + (1 - b1) * g[k] for k in p}
        v = {k: b2 * v[k] + (1 - b2) * g[k] * g[k] for k in p}
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        p = {k: p[k] - self.lr * (m[k] / c1) / ((v[k] / c2).sqrt() + 1e-8) for k in p}
        return p, m, v

    def one(self, pg, pd, mg, vg, md, vd, t, x, z1, z2):
        """One GAN step of one seed: D on real x and G(z1), then G on D(G(z2))."""
        def d_loss(pd):
            fake = self.G(pg, z1).detach()
            return F.softplus(-self.D(pd, x)).mean() + F.softplus(self.D(pd, fake)).mean()

        def g_loss(pg):
            return F.softplus(-self.D(pd, self.G(pg, z2))).mean()

        pd, md, vd = self.adam(pd, grad(d_loss)(pd), md, vd, t)
        pg, mg, vg = self.adam(pg, grad(g_loss)(pg), mg, vg, t)
        return pg, pd, mg, vg, md, vd

    def batches(self, batch: int) -> tuple[Tensor, Tensor, Tensor]:
        shape = (self.seeds,)
        return (grid_batch(batch, None, self.device, shape),
                torch.randn(self.seeds, batch, self.nz, device=self.device),
                torch.randn(self.seeds, batch, self.nz, device=self.device))

    def stepper(self, how: str, batch: int) -> Callable[[], None]:
        """A callable doing one step of every seed: 'sequential' (a Python loop over the seeds),
        'vmap' (all at once), 'vmap+compile' (the vmapped step through torch.compile)."""
        state = [self.pg, self.pd, self.mg, self.vg, self.md, self.vd]
        if how == "sequential":
            def step() -> None:
                self.t += 1
                x, z1, z2 = self.batches(batch)
                for s in range(self.seeds):
                    new = self.one(*({k: v[s] for k, v in d.items()} for d in state), self.t,
                                   x[s], z1[s], z2[s])
                    for d, n in zip(state, new):
                        for k in d:
                            d[k][s] = n[k]
            return step
        fn = vmap(self.one, in_dims=(0, 0, 0, 0, 0, 0, None, 0, 0, 0))
        if how == "vmap+compile":
            fn = torch.compile(fn)

        def vstep() -> None:
            self.t += 1
            new = fn(*state, self.t, *self.batches(batch))
            for d, n in zip(state, new):
                d.update(n)
        return vstep


def measure(how: str, seeds: int, device: torch.device, seconds: float, batch: int = 256,
            width: int = 256, warmup: int = 3) -> dict:
    """Seed-steps per second (steps of one seed's GAN) of `how`, after warm-up."""
    model = MultiSeed(seeds, device, width=width)
    step = model.stepper(how, batch)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    started = time.perf_counter()
    for _ in range(warmup):
        step()
    sync()
    warm = time.perf_counter() - started
    n, start = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - start < seconds:
        step()
        n += 1
    sync()
    rate = n * seeds / (time.perf_counter() - start)
    finite = all(bool(torch.isfinite(v).all()) for v in model.pg.values())
    return {"how": how, "seeds": seeds, "seed_steps_per_s": rate, "warmup_s": warm,
            "finite": finite}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--width", type=int, default=256)
    args = ap.parse_args()
    device = torch.device(args.device)
    for how in ("sequential", "vmap", "vmap+compile"):
        print(json.dumps(measure(how, args.seeds, device, args.seconds, width=args.width)))


if __name__ == "__main__":
    main()
