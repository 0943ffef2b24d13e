"""Check 5, the maximum-likelihood generator objective (Goodfellow 2016 tutorial;
Shah, Tu & Wagh, "Generative Adversarial Networks - II", §2).

With the optimal discriminator, f(x) = D(x) / (1 - D(x)) = exp(logit) equals p_data(x) / p_g(x),
and the generator loss J(G) = -E_z[f(G(z))] (D held fixed) has the expected gradient of
KL(p_data ‖ p_g). On 1-D Gaussians p_data = N(μ, σ²), p_g = N(θ, s²) with G(z) = θ + s·z:

    KL = log(s/σ) + (σ² + (μ - θ)²) / (2s²) - ½,
    dKL/dθ = (θ - μ) / s²,     dKL/ds = 1/s - (σ² + (μ - θ)²) / s³.

(a) A discriminator trained to convergence has odds exp(logit) ≈ p_data/p_g where p_g has mass.
(b) Monte Carlo gradients of gankit's `generator_ml` through the exact optimal D (logit
    log p_data - log p_g, frozen) match the closed form within their standard error; through the
    trained D they match within a few per cent.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gankit.data.toy import GaussianMixture
from gankit.losses import generator_ml
from gankit.theory.common import fit_discriminator, log_density, logits_of, mixture_1d, save_figure
from gankit.theory.result import CheckResult, at_most

KEY = "max_likelihood"
MU, SIGMA = 0.0, 1.0
#: p_g = N(θ, s²). s ≥ σ keeps E_pg[(p_data/p_g)²] finite (it needs s > σ/√2), so the Monte Carlo
#: estimate has a finite variance and a meaningful standard error.
CASES = ((0.7, 1.3), (-1.0, 1.5), (0.5, 1.0), (0.0, 1.0))
MC_Z = 4.0  # tolerance in standard errors (two-sided false-failure probability 6e-5 each)
TRAINED_CASE = 0  # the case (a) trains a discriminator for


def kl_gradient(theta: float, s: float, mu: float = MU, sigma: float = SIGMA
                ) -> tuple[float, float]:
    """Closed-form (dKL/dθ, dKL/ds) of KL(N(μ, σ²) ‖ N(θ, s²))."""
    return (theta - mu) / s**2, 1 / s - (sigma**2 + (mu - theta) ** 2) / s**3


def optimal_logit_fn(p_data: GaussianMixture, p_g: GaussianMixture):
    """The frozen optimal D's logit, x -> log p_data(x) - log p_g(x), differentiable in x."""
    def logit(x: torch.Tensor) -> torch.Tensor:
        return p_data.log_prob(x.view(-1, 1)) - p_g.log_prob(x.view(-1, 1))
    return logit


def ml_gradient_mc(logit_fn, theta: float, s: float, n: int, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample gradients of J = generator_ml(logits of G(z)) w.r.t. (θ, s): mean and SE.

    Each sample gets its own copy of θ and s, so one backward pass of the batch-mean loss gives
    n independent per-sample gradients (scaled by 1/n) for the standard error.
    """
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator=gen, dtype=torch.float64)
    th = torch.full((n,), theta, dtype=torch.float64, requires_grad=True)
    sc = torch.full((n,), s, dtype=torch.float64, requires_grad=True)
    loss = generator_ml(logit_fn(th + sc * z))
    g_th, g_s = torch.autograd.grad(loss, (th, sc))
    per_sample = torch.stack([g_th, g_s], 1).numpy() * n
    return per_sample.mean(0), per_sample.std(0, ddof=1) / math.sqrt(n)


def network_logit_fn(D: nn.Module):
    def logit(x: torch.Tensor) -> torch.Tensor:
        return D(x.view(-1, 1).float()).double()
    return logit


def run(out: Path, quick: bool = False) -> CheckResult:
    n = 20_000 if quick else 400_000
    steps, batch = (600, 512) if quick else (2000, 1024)
    res = CheckResult(KEY, "With D*, D/(1-D) = p_data/p_g and E ∇J_ML = ∇KL(p_data ‖ p_g)",
                      "Shah, Tu & Wagh, GANs II §2; Goodfellow 2016")
    p_data = mixture_1d([MU], SIGMA)
    rows = {}
    for i, (theta, s) in enumerate(CASES):
        p_g = mixture_1d([theta], s)
        mean, se = ml_gradient_mc(optimal_logit_fn(p_data, p_g), theta, s, n, seed=i)
        exact = np.array(kl_gradient(theta, s))
        name = f"theta={theta:g}, s={s:g}"
        rows[name] = {"closed_form": exact, "mc": mean, "se": se, "theta": theta, "s": s}
        for j, par in enumerate(("θ", "s")):
            res.criteria.append(at_most(
                f"{name}: |MC - dKL/d{par}| (D*)", abs(mean[j] - exact[j]),
                MC_Z * se[j] + 1e-12,
                f"{MC_Z:g} Monte Carlo standard errors, n = {n} (+1e-12 for rounding when SE = 0)"))
    # (a) and the trained-D gradient, on one case
    theta, s = CASES[TRAINED_CASE]
    p_g = mixture_1d([theta], s)
    D = fit_discriminator(p_data, p_g, steps, batch=batch, lr=1e-2, seed=0)
    x = np.linspace(theta - 2.326 * s, theta + 2.326 * s, 801)  # p_g's central 98%
    log_ratio = log_density(p_data, x) - log_density(p_g, x)
    log_odds = logits_of(D, x)
    odds_err = np.abs(np.expm1(log_odds - log_ratio))
    tol_odds = 1.0 if quick else 0.15
    res.criteria.append(at_most(
        "trained D: max |f/(p_data/p_g) - 1| on p_g's central 98%", float(odds_err.max()),
        tol_odds, f"finite training ({steps} steps); the ratio amplifies logit errors by e^Δ"))
    mean_t, se_t = ml_gradient_mc(network_logit_fn(D), theta, s, n, seed=99)
    exact = np.array(kl_gradient(theta, s))
    rel = np.abs(mean_t - exact) / np.abs(exact)
    tol_rel = 0.5 if quick else 0.15
    res.criteria.append(at_most(
        "trained D: max relative error of the ML gradient vs dKL", float(rel.max()), tol_rel,
        "the gradient uses D's slope, which training pins down less tightly than its value"))
    res.numbers["gradients_with_optimal_D"] = {
        k: {"closed_form": v["closed_form"].tolist(), "monte_carlo": v["mc"].tolist(),
            "se": v["se"].tolist()} for k, v in rows.items()}
    res.numbers["trained_D"] = {
        "case": f"theta={theta:g}, s={s:g}", "steps": steps, "batch": batch,
        "max_rel_err_odds": float(odds_err.max()), "mean_rel_err_odds": float(odds_err.mean()),
        "ml_gradient": mean_t.tolist(), "ml_gradient_se": se_t.tolist(),
        "closed_form": exact.tolist(), "relative_error": rel.tolist()}
    res.numbers["monte_carlo_samples"] = n
    worst = max(float(np.max(np.abs(v["mc"] - v["closed_form"]) / np.maximum(v["se"], 1e-300)))
                for v in rows.values() if np.all(v["se"] > 0))
    res.headline = (f"D*: ML grad = dKL within {worst:.1f} SE; trained D: odds within "
                    f"{odds_err.max():.0%}, grad within {rel.max():.0%}")
    res.figure = draw(out / f"{KEY}.png", x, log_ratio, log_odds, p_data, p_g, rows,
                      (mean_t, se_t, exact))
    return res


def draw(path: Path, x, log_ratio, log_odds, p_data, p_g, rows, trained) -> str:
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (Agg backend)

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.9))
    ax = axes[0]
    xs = np.linspace(-4, 5, 400)
    ax.plot(xs, np.exp(log_density(p_data, xs)), "k:", lw=2, label="p_data = N(0, 1)")
    ax.plot(xs, np.exp(log_density(p_g, xs)), "g-", label="p_g = N(0.7, 1.3²)")
    ax.set_ylim(0, 0.75)
    ax.set_ylabel("density")
    ax.set_xlabel("x")
    twin = ax.twinx()
    twin.semilogy(x, np.exp(log_ratio), "r-", lw=1, label="p_data / p_g")
    twin.semilogy(x, np.exp(log_odds), "b--", lw=2, label="D / (1 - D), trained D")
    twin.set_ylabel("ratio (log scale)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper right")
    ax.set_title("(a) the trained D's odds are the density ratio")
    ax = axes[1]
    labels, exact, mc, err = [], [], [], []
    for v in rows.values():
        for j, par in enumerate(("θ", "s")):
            labels.append(f"d/d{par}\n({v['theta']:g}, {v['s']:g})")
            exact.append(v["closed_form"][j])
            mc.append(v["mc"][j])
            err.append(MC_Z * v["se"][j])
    pos = np.arange(len(labels))
    ax.bar(pos, exact, width=0.6, color="lightgrey", label="dKL(p_data ‖ p_g), closed form")
    ax.errorbar(pos, mc, yerr=err, fmt="o", color="tab:red", capsize=3,
                label=f"E ∇ of -E[D/(1-D)], D = D*, MC ± {MC_Z:g} SE")
    mean_t, se_t, _ = trained
    ax.errorbar(pos[:2] + 0.2, mean_t, yerr=MC_Z * se_t, fmt="s", color="tab:blue", capsize=3,
                label="same, trained D")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(pos, labels, fontsize=7)
    ax.set_xlabel("p_g = N(θ, s²) with (θ, s) =", fontsize=8)
    ax.set_title("(b) the ML generator gradient is the KL gradient")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
