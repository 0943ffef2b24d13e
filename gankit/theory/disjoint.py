"""Check 4, disjoint supports (Arjovsky et al. 2017; listenzcc's notes "Generative
Adversarial Networks" §3.1; Shah, Tu & Wagh, "Generative Adversarial Networks - II" §5).

(a) Slide q away from p. Once the supports no longer overlap, JSD(p ‖ q) is stuck at log 2, so
    it says nothing about *how far* q is; W1 keeps growing with the distance (= the shift, for
    a translate). JSD by quadrature, W1 from samples, exactly (optimal assignment, and SciPy's
    1-D formula as a cross-check).
(b) Hold a generator whose samples lie on a curve inside the ring data set (supports disjoint),
    train D longer and longer: through a near-optimal D the minimax generator loss
    E log(1 - D(G(z))) gives G a gradient that shrinks towards zero.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy import integrate, stats

from gankit.data.toy import ring
from gankit.losses import discriminator_loss, generator_minimax, generator_nonsaturating
from gankit.metrics.wasserstein import wasserstein1
from gankit.nets.mlp import LogitHead, mlp
from gankit.theory.common import LOG2, mixture_1d, save_figure
from gankit.theory.result import CheckResult, at_least, at_most
from gankit.theory.value import jsd_quad

KEY = "disjoint"
STD = 0.05
DISTANCES = (0.0, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
DISJOINT_FROM = 1.0  # 20 standard deviations: overlap ~1e-23, below float64 resolution of log 2
#: D's cross-entropy (chance level: log 4 ≈ 1.39) below which D counts as near-optimal.
NEAR_OPTIMAL_LOSS = 0.2


# -- (a) JSD vs W1 ------------------------------------------------------------------------------
def w1_sampling_bound(std: float, n: int) -> float:
    """Bound on E|Ŵ1 - W1| for two independent n-samples of 1-D Gaussians of this std.

    |Ŵ1 - W1| ≤ W1(p̂, p) + W1(q̂, q) and E W1(p̂, p) = ∫ E|F_n - F| ≤ ∫ sqrt(F(1-F)/n) dx.
    """
    c, _ = integrate.quad(lambda t: math.sqrt(stats.norm.cdf(t) * stats.norm.sf(t)), -40, 40)
    return 2 * c * std / math.sqrt(n)


def jsd_and_w1(distances=DISTANCES, n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """JSD and W1 between p = N(0, σ²) and its translate by each distance."""
    gen = torch.Generator().manual_seed(seed)
    p = mixture_1d([0.0], STD)
    rows = []
    for d in distances:
        q = mixture_1d([d], STD)
        jsd, _ = jsd_quad(p, q)
        a, b = p.sample(n, gen), q.sample(n, gen)
        rows.append((d, jsd, wasserstein1(a, b),
                     stats.wasserstein_distance(a[:, 0].numpy(), b[:, 0].numpy())))
    arr = np.array(rows)
    return {"distance": arr[:, 0], "jsd": arr[:, 1], "w1": arr[:, 2], "w1_scipy": arr[:, 3]}


# -- (b) vanishing gradient ---------------------------------------------------------------------
def fixed_generator(seed: int = 0) -> torch.nn.Module:
    """A random MLP from a 1-D latent to the plane, scaled so its curve stays inside radius 0.5:
    its samples lie on a 1-D curve, the ring's on 8 tiny blobs at radius 1 -- disjoint."""
    torch.manual_seed(seed)
    G = mlp(1, 2, 32, 2)
    with torch.no_grad():
        G[-1].weight.mul_(0.3)
        G[-1].bias.mul_(0.3)
    return G.requires_grad_(True)


def _grad_norm(G: torch.nn.Module, loss: torch.Tensor) -> float:
    G.zero_grad(set_to_none=True)
    loss.backward()
    return float(torch.sqrt(sum((p.grad**2).sum() for p in G.parameters())))


def gradient_vs_d_training(checkpoints: tuple[int, ...], batch: int = 256, lr: float = 1e-3,
                           seed: int = 0) -> dict[str, np.ndarray]:
    """Train D against the fixed G; at each checkpoint (D steps), G's gradient norms on a fixed
    latent batch under the minimax and non-saturating losses, D's loss and mean D(G(z))."""
    gen = torch.Generator().manual_seed(seed)
    data = ring()
    G = fixed_generator(seed)
    torch.manual_seed(seed + 1)
    D = LogitHead(mlp(2, 1, 64, 2, "leaky_relu"))
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    z_eval = torch.randn(4096, 1, generator=gen)
    real_eval = data.sample(4096, gen)
    rows, step = [], 0
    for target in checkpoints:
        while step < target:
            real = data.sample(batch, gen)
            with torch.no_grad():
                fake = G(torch.randn(batch, 1, generator=gen))
            loss = discriminator_loss(D(real), D(fake))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        D.requires_grad_(False)
        mm = _grad_norm(G, generator_minimax(D(G(z_eval))))
        ns = _grad_norm(G, generator_nonsaturating(D(G(z_eval))))
        with torch.no_grad():
            fake_logits = D(G(z_eval))
            d_loss = float(discriminator_loss(D(real_eval), fake_logits))
            d_fake = float(torch.sigmoid(fake_logits).mean())
        D.requires_grad_(True)
        rows.append((target, mm, ns, d_loss, d_fake))
    arr = np.array(rows)
    return {"d_steps": arr[:, 0], "grad_minimax": arr[:, 1], "grad_nonsaturating": arr[:, 2],
            "d_loss": arr[:, 3], "d_fake": arr[:, 4]}


def run(out: Path, quick: bool = False) -> CheckResult:
    n = 500 if quick else 1000
    checkpoints = (25, 50, 100, 200, 400, 800) if quick else (
        25, 50, 100, 200, 400, 800, 1600, 3200)
    res = CheckResult(KEY, "Disjoint supports: JSD stuck at log 2, W1 grows; gradients vanish",
                      "listenzcc, GANs notes §3.1; Shah, Tu & Wagh, GANs II §5")
    a = jsd_and_w1(n=n)
    far = a["distance"] >= DISJOINT_FROM
    bound = 3 * w1_sampling_bound(STD, n)
    res.criteria += [
        at_most(f"max |JSD - log 2| for shifts ≥ {DISJOINT_FROM:g} (20σ)",
                float(np.max(np.abs(a["jsd"][far] - LOG2))), 1e-9,
                "overlap ~1e-23 there; quad error < 1e-12"),
        at_most("max |Ŵ1 - shift| over all shifts", float(np.max(np.abs(a["w1"] - a["distance"]))),
                bound, f"3× the bound on the expected sampling error of Ŵ1 with n = {n}"),
        at_least("Ŵ1 increases with the shift (min successive difference)",
                 float(np.min(np.diff(a["w1"]))), 0.0, "W1 = shift is strictly increasing"),
        at_most("|assignment Ŵ1 - scipy 1-D Ŵ1|", float(np.max(np.abs(a["w1"] - a["w1_scipy"]))),
                1e-9, "both are the exact W1 of the same two empirical distributions"),
    ]
    b = gradient_vs_d_training(checkpoints)
    start = int(np.argmax(b["d_loss"] <= NEAR_OPTIMAL_LOSS)) if np.any(
        b["d_loss"] <= NEAR_OPTIMAL_LOSS) else len(b["d_loss"]) - 1
    tail = b["grad_minimax"][start:]
    ratio = float(tail[-1] / tail[0])
    res.criteria += [
        at_least("checkpoints with near-optimal D", len(tail), 3 if quick else 4,
                 f"D's loss ≤ {NEAR_OPTIMAL_LOSS} (chance: log 4)"),
        at_most("max successive ratio of |∇G| (minimax) once D is near-optimal",
                float(np.max(tail[1:] / tail[:-1])), 1.0,
                "the gradient must shrink at every doubling of D's training"),
        at_most("|∇G| last / first near-optimal checkpoint", ratio, 0.2 if quick else 0.05,
                "towards zero: at least a 5× (quick) or 20× (full) drop"),
    ]
    res.numbers["jsd_w1"] = {k: v.tolist() for k, v in a.items()}
    res.numbers["w1_tolerance"] = bound
    res.numbers["samples_per_side"] = n
    res.numbers["gradient_vs_d_steps"] = {k: v.tolist() for k, v in b.items()}
    res.numbers["near_optimal_from_d_step"] = int(b["d_steps"][start])
    res.headline = (f"JSD = log 2 at every shift ≥ {DISJOINT_FROM:g}, W1 ≈ shift; |∇G| "
                    f"{tail[0]:.1e} → {tail[-1]:.1e} over {int(b['d_steps'][start])}"
                    f"–{int(b['d_steps'][-1])} D steps")
    res.figure = draw(out / f"{KEY}.png", a, b, start)
    return res


def draw(path: Path, a: dict, b: dict, start: int) -> str:
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (Agg backend)

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.9))
    ax = axes[0]
    ax.plot(a["distance"], a["w1"], "o-", color="tab:blue", label="W1 (exact, from samples)")
    ax.plot(a["distance"], a["distance"], "k:", lw=0.8, label="W1 = shift")
    ax.set_xlabel("shift of q = p + shift   (p = N(0, 0.05²))")
    ax.set_ylabel("W1", color="tab:blue")
    twin = ax.twinx()
    twin.plot(a["distance"], a["jsd"], "s-", color="tab:red", label="JSD (quadrature)")
    twin.axhline(LOG2, color="tab:red", ls="--", lw=0.8)
    twin.text(a["distance"][-1], LOG2 - 0.06, "log 2", color="tab:red", ha="right", fontsize=8)
    twin.set_ylim(0, 0.8)
    twin.set_ylabel("JSD", color="tab:red")
    ax.axvspan(DISJOINT_FROM, a["distance"][-1], color="grey", alpha=0.12, lw=0)
    ax.text(DISJOINT_FROM + 0.05, 2.4, "supports disjoint\n(≥ 20σ apart)", fontsize=8)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower right")
    ax.set_title("(a) JSD saturates at log 2, W1 tracks the distance")
    ax = axes[1]
    ax.loglog(b["d_steps"], b["grad_minimax"], "o-", color="tab:red",
              label="minimax  E log(1 - D(G(z)))")
    ax.loglog(b["d_steps"], b["grad_nonsaturating"], "o--", color="tab:blue",
              label="non-saturating  -E log D(G(z))")
    ax.axvspan(b["d_steps"][start], b["d_steps"][-1], color="grey", alpha=0.12, lw=0)
    ax.text(b["d_steps"][start] * 1.1, ax.get_ylim()[0] * 3, "D near-optimal", fontsize=8)
    ax.set_xlabel("discriminator training steps (G fixed)")
    ax.set_ylabel("‖∇θ_G J(G)‖")
    ax.set_title("(b) ring data vs a fixed G on a curve inside it")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return save_figure(fig, path)
