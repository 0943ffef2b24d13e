"""Check 7, Proposition 2 of Goodfellow et al. (2014): if D reaches its optimum D* at every step
and p_g takes a small step down the gradient of V(D*, p_g), then p_g converges to p_data.

The proof works in function space, so the check does too: on a 1-D grid of bins p_g is a free
histogram (no network), D* = p_data / (p_data + p_g) is exact per bin, and the gradient of
V(D*, p_g) = Σ p_data log D* + Σ p_g log(1 - D*) in p_g, with D held at D*, is log(1 - D*(x)) —
a subgradient of the convex function C(G) = sup_D V(D, G), as the proof argues. Two ways of
stepping a distribution down it:

- mirror descent (entropic): p_g ← p_g · exp(-η log(1 - D*)) / Z = p_g · (1 - D*)^(-η) / Z;
  with η = 1 this is exactly p_g ← (p_g + p_data) / 2;
- a softmax parametrisation p_g = softmax(θ) with plain gradient steps on θ.

C(G) = -log 4 + 2 JSD(p_data ‖ p_g) (Theorem 1), so C(G) must fall to -log 4 and JSD to 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gankit.theory.common import LOG4, save_figure
from gankit.theory.result import CheckResult, at_most

KEY = "function_space"
GRID = np.linspace(-6.0, 6.0, 601)
ETA_MIRROR = 0.5  # a "small" step: half of the step that would average p_g with p_data at once
ETA_SOFTMAX = 50.0  # on logits: the gradient in θ_j is p_j (g_j - E_p g), with p_j ~ 1/600


def densities() -> tuple[np.ndarray, np.ndarray]:
    """p_data: a bimodal mixture; p_g at the start: one Gaussian off to the right. Both as
    probabilities of the 601 bins, each with full support (log(1 - D*) is finite everywhere)."""
    def gauss(m: float, s: float) -> np.ndarray:
        return np.exp(-0.5 * ((GRID - m) / s) ** 2) / s

    p_data = 0.3 * gauss(-2.0, 0.4) + 0.7 * gauss(1.5, 0.6)
    p_g = gauss(2.0, 1.5) + 1e-12  # the floor keeps every bin reachable by the updates
    return p_data / p_data.sum(), p_g / p_g.sum()


def value(p_data: np.ndarray, p_g: np.ndarray) -> tuple[float, float]:
    """C(G) = V(D*, p_g), computed from D* directly, and JSD(p_data ‖ p_g), from its definition."""
    d_star = p_data / (p_data + p_g)
    c = float(np.sum(p_data * np.log(d_star)) + np.sum(p_g * np.log1p(-d_star)))
    m = 0.5 * (p_data + p_g)
    jsd = 0.5 * float(np.sum(p_data * np.log(p_data / m)) + np.sum(p_g * np.log(p_g / m)))
    return c, jsd


def descend(p_data: np.ndarray, p_g: np.ndarray, steps: int, rule: str
            ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Alternate D := D* and one step of p_g; returns C(G) and JSD per step, and snapshots."""
    theta = np.log(p_g)
    cs, jsds, snaps = [], [], []
    for t in range(steps + 1):
        c, jsd = value(p_data, p_g)
        cs.append(c)
        jsds.append(jsd)
        if t in (0, 2, 5, 20) or t == steps:
            snaps.append(p_g.copy())
        d_star = p_data / (p_data + p_g)
        grad = np.log1p(-d_star)  # ∂V(D*, p_g) / ∂p_g(x), D held at D*
        if rule == "mirror":
            logits = np.log(p_g) - ETA_MIRROR * grad
        else:  # softmax: ∂V/∂θ_j = p_j (grad_j - Σ_k p_k grad_k)
            theta = theta - ETA_SOFTMAX * p_g * (grad - np.sum(p_g * grad))
            logits = theta
        p_g = np.exp(logits - logits.max())
        p_g /= p_g.sum()
    return np.array(cs), np.array(jsds), snaps


def run(out: Path, quick: bool = False) -> CheckResult:
    steps = {"mirror": 200, "softmax": 3000}
    res = CheckResult(KEY, "Prop. 2: D := D* and small steps of p_g drive p_g to p_data",
                      "Goodfellow et al. 2014, Prop. 2 (convergence of Algorithm 1)")
    p_data, p_g0 = densities()
    traces = {}
    for rule, n in steps.items():
        cs, jsds, snaps = descend(p_data, p_g0, n, rule)
        traces[rule] = (cs, jsds, snaps)
        rise = float(np.max(np.diff(cs)))
        res.numbers[rule] = {"steps": n, "C_start": cs[0], "C_end": cs[-1],
                             "C_end_plus_log4": cs[-1] + LOG4, "JSD_start": jsds[0],
                             "JSD_end": jsds[-1], "largest_rise_of_C": rise,
                             "identity_error": float(np.max(np.abs(cs - (-LOG4 + 2 * jsds))))}
        # C(G) is convex in p_g and each step follows its (sub)gradient with a small step, so it
        # must not rise; 1e-12 allows float64 rounding of 601-term sums (values of order 1).
        res.criteria.append(at_most(f"{rule}: largest rise of C(G) between steps", rise, 1e-12,
                                    "a descent step on a convex function; float64 rounding"))
        # The end points: measured C + log 4 ≈ 2e-16 (mirror, 200 steps: geometric) and 6e-4
        # (softmax, 3,000 steps: O(1/t), as plain gradient descent on a convex function, its
        # steps shrinking with p_j where p_g has little mass); the bounds leave room for other
        # machines' rounding (mirror) and ~3× (softmax), yet fail if p_g stalls short of p_data
        # (the start has C + log 4 = 2·JSD ≈ 0.42).
        bound = 1e-10 if rule == "mirror" else 2e-3
        res.criteria.append(at_most(f"{rule}: C(G) + log 4 after {n} steps", cs[-1] + LOG4,
                                    bound, "C(G) → -log 4, the global minimum (Theorem 1)"))
        res.criteria.append(at_most(f"{rule}: JSD(p_data ‖ p_g) after {n} steps", jsds[-1],
                                    bound / 2, "JSD → 0: p_g → p_data (Proposition 2)"))
        res.criteria.append(at_most(
            f"{rule}: max |C(G) - (-log 4 + 2 JSD)| over the steps",
            res.numbers[rule]["identity_error"], 1e-12,
            "Theorem 1's identity, both sides computed independently; float64 rounding"))
    res.numbers["grid"] = {"bins": len(GRID), "range": [float(GRID[0]), float(GRID[-1])],
                           "eta_mirror": ETA_MIRROR, "eta_softmax": ETA_SOFTMAX}
    m, s = res.numbers["mirror"], res.numbers["softmax"]
    res.headline = (f"C(G)+log4: {m['C_start'] + LOG4:.3f} → {m['C_end_plus_log4']:.1e} "
                    f"(mirror, {m['steps']} steps), → {s['C_end_plus_log4']:.1e} (softmax, "
                    f"{s['steps']} steps)")
    res.figure = draw(out / f"{KEY}.png", p_data, traces)
    return res


def draw(path: Path, p_data: np.ndarray, traces: dict) -> str:
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (Agg backend)

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    ax = axes[0]
    ax.plot(GRID, p_data, "k:", lw=2, label="p_data")
    labels = ["t = 0", "t = 2", "t = 5", "t = 20", f"t = {len(traces['mirror'][0]) - 1}"]
    for snap, label, alpha in zip(traces["mirror"][2], labels, (0.3, 0.45, 0.6, 0.8, 1.0)):
        ax.plot(GRID, snap, color="tab:green", alpha=alpha, lw=1.2, label=f"p_g, {label}")
    ax.set_title("p_g (a free histogram) under mirror descent")
    ax.set_xlabel("x")
    ax.legend(fontsize=7)
    for ax, rule in zip(axes[1:], ("mirror", "softmax")):
        cs, jsds, _ = traces[rule]
        t = np.arange(len(cs))
        ax.semilogy(t, np.maximum(cs + LOG4, 1e-17), label="C(G) + log 4")
        ax.semilogy(t, np.maximum(jsds, 1e-17), "--", label="JSD(p_data ‖ p_g)")
        ax.set_xlabel("step (D := D*, then one step of p_g)")
        ax.set_title(f"{rule} steps: C(G) → -log 4, JSD → 0")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
