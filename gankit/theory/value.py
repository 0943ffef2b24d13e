"""Check 2, Theorem 1 (seeds 000, 001, 004): at the optimal discriminator the value function is
V(D*, G) = -log 4 + 2·JSD(p_data ‖ p_g), so its minimum -log 4 is reached exactly at p_g = p_data.

V(D*, G) is computed twice, by numerical integration on a grid and by Monte Carlo from samples,
both from the mixtures' `log_prob`. The right-hand side is computed independently: JSD by
adaptive quadrature (1-D) or Simpson's rule (2-D) of its two KL terms, with densities written
out from the mixture parameters (numpy in 1-D, scipy.stats in 2-D), not gankit's `log_prob`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.special import logsumexp

from gankit.data.toy import GaussianMixture
from gankit.theory.common import LOG2, LOG4, mixture_1d, optimal_logit, save_figure
from gankit.theory.optimal_d import case_2d
from gankit.theory.result import CheckResult, at_most

KEY = "value"
MC_Z = 4.0  # Monte Carlo tolerance in standard errors: a false failure has probability 6e-5
#: Integration tolerance. Error estimates recorded with each case: trapezoid half-step ≤ 1e-15
#: (1-D, Gaussian integrands converge geometrically) and ~2e-10 (2-D); quad's own estimate
#: ≤ 1e-9; Simpson's rule for the 2-D JSD adds ~1e-8. The bounds leave > 100× slack over these.
INT_TOL_1D, INT_TOL_2D = 1e-6, 1e-5


def cases() -> dict[str, tuple[GaussianMixture, GaussianMixture]]:
    """p_data fixed, several p_g: equal, close, different shape, disjoint; and a 2-D pair."""
    p_data = mixture_1d([-1.5, 1.0], 0.5, [0.4, 0.6])
    return {
        "p_g = p_data": (p_data, mixture_1d([-1.5, 1.0], 0.5, [0.4, 0.6])),
        "shifted by 0.3": (p_data, mixture_1d([-1.2, 1.3], 0.5, [0.4, 0.6])),
        "one wide Gaussian": (p_data, mixture_1d([0.5], 1.0)),
        "far apart": (p_data, mixture_1d([12.0], 0.5)),
        "2-D square vs Gaussian": case_2d(),
    }


# -- the right-hand side: -log 4 + 2 JSD, with scipy's densities --------------------------------
def independent_logpdf(mix: GaussianMixture):
    """log p(x) written out in numpy (1-D) or with scipy.stats (2-D) from the mixture's
    parameters alone, so the right-hand side shares no code with gankit's `log_prob`."""
    means, std, logw = mix.means.numpy(), mix.std, np.log(mix.weights.numpy())
    if mix.dim == 1:
        mu, log_norm = means[:, 0], -math.log(std) - 0.5 * math.log(2 * math.pi)

        def f(x):
            x = np.asarray(x, dtype=np.float64)
            comp = log_norm - 0.5 * ((x[..., None] - mu) / std) ** 2
            return logsumexp(comp + logw, axis=-1)
        return f

    from scipy import stats  # here, not at the top: see value_monte_carlo

    def f2(x):
        comp = np.stack([stats.multivariate_normal.logpdf(x, m, std**2) for m in means], -1)
        return logsumexp(comp + logw, axis=-1)
    return f2


def support(*mixes: GaussianMixture, stds: float = 12.0) -> tuple[float, float]:
    """An interval (per axis) holding all but ~1e-30 of every mixture's mass."""
    lo = min(float(m.means.min()) - stds * m.std for m in mixes)
    hi = max(float(m.means.max()) + stds * m.std for m in mixes)
    return lo, hi


def jsd_quad(p: GaussianMixture, q: GaussianMixture) -> tuple[float, float]:
    """JSD(p ‖ q) = ½KL(p ‖ m) + ½KL(q ‖ m), m = ½(p + q), by adaptive quadrature (1-D).

    Returns the value and quad's error estimate.
    """
    from scipy import integrate

    lp, lq = independent_logpdf(p), independent_logpdf(q)
    lo, hi = support(p, q)
    breaks = sorted({float(v) for v in torch.cat([p.means, q.means]).ravel()})

    def kl_to_m(la, lb):
        def integrand(x):
            a, b = la(x), lb(x)
            log_m = np.logaddexp(a, b) - LOG2
            return float(np.exp(a) * (a - log_m)) if a > -700 else 0.0
        return integrate.quad(integrand, lo, hi, points=breaks, limit=400, epsabs=1e-12)

    (k1, e1), (k2, e2) = kl_to_m(lp, lq), kl_to_m(lq, lp)
    return 0.5 * (k1 + k2), 0.5 * (e1 + e2)


def jsd_simpson_2d(p: GaussianMixture, q: GaussianMixture, n: int = 301) -> float:
    """JSD of two 2-D mixtures by Simpson's rule on an n×n grid."""
    from scipy import integrate

    lo, hi = support(p, q, stds=10.0)
    g = np.linspace(lo, hi, n)
    gx, gy = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    a, b = independent_logpdf(p)(pts), independent_logpdf(q)(pts)
    log_m = np.logaddexp(a, b) - LOG2
    integrand = 0.5 * (np.exp(a) * (a - log_m) + np.exp(b) * (b - log_m))
    inner = integrate.simpson(integrand.reshape(n, n), x=g, axis=1)
    return float(integrate.simpson(inner, x=g))


# -- the left-hand side: V(D*, G) ---------------------------------------------------------------
def _v_integrand(p_data: GaussianMixture, p_g: GaussianMixture, pts: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(pts)
    ld, lg = p_data.log_prob(x).numpy(), p_g.log_prob(x).numpy()
    log_sum = np.logaddexp(ld, lg)
    # p_data log D* + p_g log(1 - D*), with D* = p_data / (p_data + p_g)
    return np.exp(ld) * (ld - log_sum) + np.exp(lg) * (lg - log_sum)


def value_integral(p_data: GaussianMixture, p_g: GaussianMixture) -> tuple[float, float]:
    """V(D*, G) by the trapezoid rule; returns it and a half-step error estimate."""
    from scipy import integrate

    lo, hi = support(p_data, p_g, stds=10.0)
    if p_data.dim == 1:
        x = np.linspace(lo, hi, 40_001)
        f = _v_integrand(p_data, p_g, x[:, None])
        fine = integrate.trapezoid(f, x)
        coarse = integrate.trapezoid(f[::2], x[::2])
    else:
        g = np.linspace(lo, hi, 401)
        gx, gy = np.meshgrid(g, g, indexing="ij")
        f = _v_integrand(p_data, p_g, np.stack([gx.ravel(), gy.ravel()], 1)).reshape(401, 401)
        fine = integrate.trapezoid(integrate.trapezoid(f, g, axis=1), g)
        coarse = integrate.trapezoid(integrate.trapezoid(f[::2, ::2], g[::2], axis=1), g[::2])
    return float(fine), abs(float(fine - coarse))


def value_monte_carlo(p_data: GaussianMixture, p_g: GaussianMixture, n: int, seed: int = 0
                      ) -> tuple[float, float]:
    """V(D*, G) = E_data[log D*] + E_g[log(1 - D*)] from n samples of each; value and its SE.

    It needs no SciPy: the lab computes it live, and imports scipy.stats and scipy.integrate
    (a second on a busy machine) only when the user asks for Theorem 1's check."""
    gen = torch.Generator().manual_seed(seed)
    xr, xg = p_data.sample(n, gen), p_g.sample(n, gen)
    log_d_real = -torch.nn.functional.softplus(-optimal_logit(p_data, p_g, xr))
    log_1md_fake = -torch.nn.functional.softplus(optimal_logit(p_data, p_g, xg))
    value = float(log_d_real.mean() + log_1md_fake.mean())
    se = math.sqrt(float(log_d_real.var() + log_1md_fake.var()) / n)
    return value, se


@dataclass
class Row:
    v_integral: float
    v_integral_err: float
    v_mc: float
    v_mc_se: float
    jsd: float
    jsd_err: float

    @property
    def theorem(self) -> float:
        return -LOG4 + 2 * self.jsd


def evaluate(p_data: GaussianMixture, p_g: GaussianMixture, n_mc: int, seed: int = 0) -> Row:
    v, v_err = value_integral(p_data, p_g)
    mc, se = value_monte_carlo(p_data, p_g, n_mc, seed)
    if p_data.dim == 1:
        jsd, jsd_err = jsd_quad(p_data, p_g)
    else:
        jsd, jsd_err = jsd_simpson_2d(p_data, p_g), float("nan")
    return Row(v, v_err, mc, se, jsd, jsd_err)


def run(out: Path, quick: bool = False) -> CheckResult:
    n_mc = 20_000 if quick else 200_000
    res = CheckResult(KEY, "V(D*, G) = -log 4 + 2·JSD(p_data ‖ p_g)",
                      "Goodfellow et al. 2014 Thm 1, as in Choi's slides; listenzcc (2020); "
                      "Shah, Tu & Wagh (2022)")
    rows = {}
    for i, (name, (p_data, p_g)) in enumerate(cases().items()):
        row = evaluate(p_data, p_g, n_mc, seed=i)
        rows[name] = row
        tol = INT_TOL_1D if p_data.dim == 1 else INT_TOL_2D
        res.criteria.append(at_most(
            f"{name}: |V_integral - (-log4 + 2 JSD)|", abs(row.v_integral - row.theorem), tol,
            "two independent quadratures; bound ≥ 100× their error estimates"))
        res.criteria.append(at_most(
            f"{name}: |V_mc - V_integral|", abs(row.v_mc - row.v_integral),
            MC_Z * row.v_mc_se + 1e-12,
            f"{MC_Z:g} Monte Carlo standard errors, n = {n_mc} per side (+1e-12 for rounding: "
            "SE = 0 at p_g = p_data, where log D* = -log 2 on every sample)"))
        res.numbers[name] = {
            "V_integral": row.v_integral, "V_integral_err_estimate": row.v_integral_err,
            "V_monte_carlo": row.v_mc, "V_monte_carlo_se": row.v_mc_se,
            "minus_log4_plus_2jsd": row.theorem, "jsd": row.jsd,
            "jsd_quad_err_estimate": row.jsd_err,
        }
    same = rows["p_g = p_data"]
    res.criteria.append(at_most("p_g = p_data: |V_integral + log 4|", abs(same.v_integral + LOG4),
                                INT_TOL_1D, "the minimum of Thm 1: exactly -log 4"))
    far = rows["far apart"]
    res.criteria.append(at_most("far apart: |JSD - log 2|", abs(far.jsd - LOG2), INT_TOL_1D,
                                "disjoint supports: JSD reaches its maximum log 2"))
    res.numbers["monte_carlo_samples_per_side"] = n_mc
    res.numbers["-log 4"] = -LOG4
    worst = max(abs(r.v_integral - r.theorem) for r in rows.values())
    res.headline = f"max |V - (-log4+2JSD)| {worst:.1e}; V(p_g=p_data) = {same.v_integral:.6f}"
    res.figure = draw(out / f"{KEY}.png", rows)
    return res


def draw(path: Path, rows: dict[str, Row]) -> str:
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (Agg backend)

    names = list(rows)
    y = np.arange(len(names))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    ax.scatter([rows[n].theorem for n in names], y, marker="|", s=900, color="k", lw=2,
               zorder=2, label="-log 4 + 2·JSD (quadrature of the KL terms)")
    ax.scatter([rows[n].v_integral for n in names], y - 0.18, marker="D", color="tab:blue",
               zorder=3, label="V(D*, G), numerical integration")
    ax.errorbar([rows[n].v_mc for n in names], y + 0.18,
                xerr=[MC_Z * rows[n].v_mc_se for n in names], fmt="o", color="tab:red",
                capsize=3, zorder=3, label=f"V(D*, G), Monte Carlo ± {MC_Z:g} SE")
    ax.axvline(-LOG4, color="grey", ls="--", lw=0.8)
    ax.text(-LOG4 + 0.01, len(names) - 0.55, "-log 4", fontsize=8, color="grey")
    ax.axvline(0.0, color="grey", ls=":", lw=0.8)
    ax.set_yticks(y, names)
    ax.set_ylim(len(names) - 0.4, -1.4)
    ax.set_xlabel("value")
    ax.set_title("Theorem 1: V(D*, G) = -log 4 + 2·JSD(p_data ‖ p_g)")
    ax.legend(fontsize=7, loc="upper right", ncol=1)
    floor = 1e-17  # exact agreement would not show on a log axis
    ax2.barh(y - 0.18, [max(abs(rows[n].v_integral - rows[n].theorem), floor) for n in names],
             height=0.34, color="tab:blue", label="|V_integral - (-log 4 + 2·JSD)|")
    ax2.barh(y + 0.18, [max(abs(rows[n].v_mc - rows[n].v_integral), floor) for n in names],
             height=0.34, color="tab:red", label="|V_monte_carlo - V_integral|")
    ax2.scatter([MC_Z * rows[n].v_mc_se for n in names], y + 0.18, marker="|", s=200,
                color="k", zorder=3, label=f"{MC_Z:g} SE (Monte Carlo tolerance)")
    ax2.set_xscale("log")
    ax2.set_xlim(floor, 1)
    ax2.axvline(INT_TOL_1D, color="tab:blue", ls="--", lw=0.8)
    ax2.set_yticks(y, [""] * len(names))
    ax2.set_ylim(len(names) - 0.4, -1.4)
    ax2.set_title("disagreements (dashed: integration tolerance)")
    ax2.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, path)
