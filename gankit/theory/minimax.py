"""Check 6, minimax vs maximin (Shah, Tu & Wagh, "Generative Adversarial
Networks - II", §3; Goodfellow 2016): the order of min and max matters.

A small game on a grid of 1-D points x_1..x_N. p_data is a 3-mode mixture (exact `log_prob`,
normalised on the grid); G is a distribution p_g on the grid, sampled by the inverse CDF of a
uniform latent z, so G(z) = the first x_i whose cumulative p_g exceeds z; D has one logit per
point. Both players only ever take gradient steps on V(D, G) = Σ p_data log D + Σ p_g log(1 - D):

- minimax, min_G max_D: D in the inner loop (Adam, to convergence), one G step per round. G
  descends -log 4 + 2·JSD and ends at p_data: all three modes kept.
- maximin, max_D min_G: G in the inner loop (to convergence), one D step per round. V is linear
  in p_g, so the inner minimum puts all of p_g at the single point D rates most real: every z is
  sent there, and G hops from point to point as D reacts.

G steps are mirror-descent (multiplicative-weights) steps on the simplex, p_g ← p_g·exp(-η ∂V/∂p_g):
the plain gradient step for a distribution, with no ties introduced by the optimiser.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn.functional import softplus

from gankit.theory.common import mixture_1d, save_figure
from gankit.theory.result import CheckResult, at_least, at_most

KEY = "minimax"
MEANS, STD, WEIGHTS = (-2.47, 0.23, 2.19), 0.3, (0.25, 0.45, 0.3)  # no symmetry, off-grid centres
N_POINTS = 161
MODE_WINDOW = 3 * STD  # a point belongs to a mode within 3 std of its centre


def game() -> tuple[torch.Tensor, torch.Tensor]:
    """Grid points and p_data on them (a probability vector)."""
    x = torch.linspace(-4, 4, N_POINTS, dtype=torch.float64)
    log_p = mixture_1d(list(MEANS), STD, list(WEIGHTS)).log_prob(x.view(-1, 1))
    return x, torch.softmax(log_p, 0)


def value(p_data: torch.Tensor, psi: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """V(D, G) with D = σ(ψ):  Σ p_data log D + Σ p_g log(1 - D)."""
    return -(p_data * softplus(-psi)).sum() - (p_g * softplus(psi)).sum()


def g_step(p_data, psi, phi, lr: float) -> torch.Tensor:
    """One mirror-descent step of G on V (G minimises): φ ← φ - η ∂V/∂p_g, p_g = softmax(φ)."""
    p_g = torch.softmax(phi, 0).requires_grad_(True)
    (grad,) = torch.autograd.grad(value(p_data, psi, p_g), p_g)
    return phi - lr * grad


def mode_masses(x: torch.Tensor, p: torch.Tensor) -> np.ndarray:
    return np.array([float(p[(x - m).abs() <= MODE_WINDOW].sum()) for m in MEANS])


def jsd(p: torch.Tensor, q: torch.Tensor) -> float:
    m = 0.5 * (p + q)

    def kl(a):
        return torch.where(a > 0, a * torch.log(a / m), torch.zeros_like(a)).sum()
    return float(0.5 * (kl(p) + kl(q)))


def inverse_cdf(x: torch.Tensor, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """G(z): the grid point where p's cumulative mass first reaches z."""
    idx = torch.searchsorted(torch.cumsum(p, 0), z).clamp(max=len(x) - 1)
    return x[idx]


def minimax(rounds: int, inner: int = 20, lr_g: float = 0.2, lr_d: float = 0.1) -> dict:
    """min_G max_D: `inner` Adam steps of D per G step, D warm-started."""
    x, p_data = game()
    phi = torch.zeros(N_POINTS, dtype=torch.float64)
    psi = torch.zeros(N_POINTS, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([psi], lr=lr_d)
    history = []
    for r in range(rounds):
        p_g = torch.softmax(phi, 0)
        for _ in range(inner):
            opt.zero_grad(set_to_none=True)
            (-value(p_data, psi, p_g)).backward()
            opt.step()
        phi = g_step(p_data, psi.detach(), phi, lr_g)
        if r % 10 == 0 or r == rounds - 1:
            history.append((r, jsd(p_data, torch.softmax(phi, 0))))
    p_g = torch.softmax(phi, 0)
    d = torch.sigmoid(psi.detach())
    return {"x": x, "p_data": p_data, "p_g": p_g, "d": d, "jsd_history": history}


def maximin(rounds: int, inner: int = 100, lr_g: float = 1e4, lr_d: float = 30.0) -> dict:
    """max_D min_G: G solved afresh (uniform start, `inner` steps) for every D step."""
    x, p_data = game()
    psi = torch.zeros(N_POINTS, dtype=torch.float64)
    solutions, ds = [], []
    for _ in range(rounds):
        phi = torch.zeros(N_POINTS, dtype=torch.float64)
        for _ in range(inner):
            phi = g_step(p_data, psi, phi, lr_g)
        p_g = torch.softmax(phi, 0)
        solutions.append(p_g)
        ds.append(torch.sigmoid(psi))
        psi = psi.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(value(p_data, psi, p_g), psi)
        psi = (psi + lr_d * grad).detach()  # plain gradient ascent: Adam's equal steps would tie
    return {"x": x, "p_data": p_data, "solutions": solutions, "ds": ds}


def run(out: Path, quick: bool = False) -> CheckResult:
    rounds_mm, rounds_mx = (100, 12) if quick else (300, 30)
    res = CheckResult(KEY, "min_G max_D keeps the modes; max_D min_G sends every z to one point",
                      "Shah, Tu & Wagh, GANs II §3; Goodfellow 2016")
    a = minimax(rounds_mm)
    x, p_data = a["x"], a["p_data"]
    mass_data, mass_mm = mode_masses(x, p_data), mode_masses(x, a["p_g"])
    d_star = p_data / (p_data + a["p_g"])
    where = (p_data + a["p_g"]) >= 1e-3 * float((p_data + a["p_g"]).max())
    jsd_mm = jsd(p_data, a["p_g"])
    res.criteria += [
        at_most("minimax: JSD(p_data ‖ p_g) at the end", jsd_mm, 1e-2 if quick else 1e-3,
                "G descends JSD; ≤ 1e-3 is a p_g indistinguishable from p_data on the plot"),
        at_most("minimax: max relative error of each mode's mass",
                float(np.max(np.abs(mass_mm / mass_data - 1))), 0.2 if quick else 0.05,
                "all three modes kept with their weights"),
        at_most("minimax: max |D - D*| where there is mass",
                float((a["d"] - d_star)[where].abs().max()), 0.05 if quick else 0.02,
                "D in the inner loop really is (near) optimal"),
    ]
    b = maximin(rounds_mx)
    z = torch.rand(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    single, at_argmax, modes_hit, points = [], [], [], []
    for p_g, d in zip(b["solutions"][1:], b["ds"][1:]):  # round 0 has D ≡ ½: every x ties
        g_z = inverse_cdf(x, p_g, z)
        top = torch.mode(g_z).values
        single.append(float((g_z == top).double().mean()))
        at_argmax.append(float(d.max() - d[(x == top).nonzero()[0, 0]]))
        modes_hit.append(int((mode_masses(x, p_g) >= 0.05).sum()))
        points.append(float(top))
    res.criteria += [
        at_least("maximin: min over rounds of the share of z sent to one point", min(single),
                 0.99, "1000 latent draws through G's inverse CDF, after each inner loop"),
        at_most("maximin: max over rounds of max D - D(that point)", max(at_argmax), 1e-9,
                "the point is the global argmax of D (exact ties excluded by asymmetric data)"),
        at_most("maximin: max modes holding ≥ 5% of p_g in any round", max(modes_hit), 1,
                "a single point: one mode at a time, never the three"),
    ]
    res.numbers["minimax"] = {
        "rounds": rounds_mm, "jsd_final": jsd_mm, "mode_mass_data": mass_data.tolist(),
        "mode_mass_g": mass_mm.tolist(), "jsd_history": a["jsd_history"]}
    res.numbers["maximin"] = {
        "rounds": rounds_mx, "point_per_round": points, "share_of_z_at_point": single,
        "distinct_points_visited": len(set(points)),
        "modes_visited": sorted({int(np.argmin([abs(p - m) for m in MEANS])) for p in points})}
    res.headline = (f"minimax: JSD {jsd_mm:.1e}, 3 modes kept; maximin: {min(single):.0%} of z "
                    f"at one point every round, {len(set(points))} points visited")
    res.figure = draw(out / f"{KEY}.png", a, b, points)
    return res


def draw(path: Path, a: dict, b: dict, points: list[float]) -> str:
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (Agg backend)

    x = a["x"].numpy()
    dx = float(x[1] - x[0])
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    ax = axes[0]
    ax.plot(x, a["p_data"].numpy() / dx, "k:", lw=2, label="p_data")
    ax.plot(x, a["p_g"].numpy() / dx, "g-", lw=1.2, label="p_g (end)")
    mass = (a["p_data"] + a["p_g"]).numpy()
    d_shown = np.where(mass >= 1e-5 * mass.max(), a["d"].numpy(), np.nan)
    ax.plot(x, d_shown, "b--", lw=1.2, label="D (end), where there is mass")
    ax.set_ylim(0, 1.3)
    ax.set_title("min_G max_D: D inner, G keeps the modes")
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax.set_xlabel("x")
    ax = axes[1]
    last = len(b["solutions"]) - 1
    ax.plot(x, b["p_data"].numpy() / dx, "k:", lw=2, label="p_data")
    ax.plot(x, b["ds"][last].numpy(), "b--", lw=1.2, label=f"D (round {last})")
    top = points[-1]
    ax.vlines([top], 0, 1.0, color="g", lw=2.5, label=f"p_g = point mass (round {last})")
    ax.scatter(points, np.full(len(points), 1.02), c=np.arange(len(points)), cmap="viridis",
               marker="v", s=18, label="G's point, every round")
    ax.set_ylim(0, 1.3)
    ax.set_title("max_D min_G: G inner, every z → argmax D")
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax.set_xlabel("x")
    ax = axes[2]
    z = np.linspace(0.0005, 0.9995, 400)
    zt = torch.from_numpy(z)
    ax.plot(z, inverse_cdf(a["x"], a["p_g"], zt).numpy(), "g-", lw=1.5, label="minimax G(z)")
    for r in (1, last // 2, last):
        ax.plot(z, inverse_cdf(a["x"], b["solutions"][r], zt).numpy(), "--", lw=1.2,
                label=f"maximin G(z), round {r}")
    ax.set_xlabel("z ~ U(0, 1)")
    ax.set_ylabel("G(z)")
    ax.set_title("the generators as maps z → x")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)
