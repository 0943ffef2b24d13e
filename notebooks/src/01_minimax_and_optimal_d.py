# %% [markdown]
# # 1 · The minimax game and the optimal discriminator
#
# **What this notebook teaches.** A GAN is a two-player game with one value function
#
# $$V(D, G) = \mathbb{E}_{x \sim p_\text{data}}[\log D(x)]
#   + \mathbb{E}_{z \sim p_z}[\log(1 - D(G(z)))],$$
#
# which D maximises and G minimises. We look at it three ways, each time on distributions whose
# densities we know exactly, so nothing has to be taken on trust:
#
# 1. point by point, which gives the best discriminator for a fixed G;
# 2. with that discriminator plugged in, which turns the game into a distance between distributions;
# 3. through G's gradient, which explains why nobody trains G on $\log(1 - D(G(z)))$ itself.
#
# **Which lecture results it checks.**
#
# - *Proposition 1*: for a fixed G, $D^*(x) = \dfrac{p_\text{data}(x)}{p_\text{data}(x) + p_g(x)}$
#   ("Generative Adversarial Networks: From Theory to Practice"; the calculus step
#   $\arg\max_y\, a \log y + b \log(1-y) = \frac{a}{a+b}$ of "An Annotated Proof of Generative
#   Adversarial Networks with Implementation Notes").
# - *Theorem 1*: $C(G) = \max_D V(D, G) = -\log 4 + 2\cdot\mathrm{JSD}(p_\text{data} \,\|\, p_g)$,
#   so its global minimum $-\log 4$ is reached exactly when $p_g = p_\text{data}$ (all five lecture
#   notes; "Generative Adversarial Networks - II", eq. 7).
# - *Saturation*: early in training, when D rejects the fakes, $\log(1 - D(G(z)))$ gives G almost
#   no gradient, and $-\log D(G(z))$ does ("the log D trick" of the notes "Generative Adversarial
#   Networks"; "Generative Adversarial Networks: From Theory to Practice").
#
# Every check prints its measured value next to its tolerance and stops the notebook with an
# error if it fails.
#
# **Time.** About a minute on a laptop CPU. With `GANKIT_NOTEBOOK_QUICK=1` in the environment
# (what the tests do) the same cells run with fewer training steps in a few seconds.

# %% tags=["parameters"]
import os

QUICK = os.environ.get("GANKIT_NOTEBOOK_QUICK") == "1"  # the cheap mode the tests run

D_STEPS = 600 if QUICK else 2000  # Adam steps that train a discriminator towards D*
D_BATCH = 512 if QUICK else 1024  # fresh samples of each distribution per step
N_MC = 20_000 if QUICK else 200_000  # Monte Carlo samples per side for V(D*, G)
RUN_STEPS = 60 if QUICK else 150  # generator steps of the real training runs in part 3

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from gankit.theory import common, optimal_d, saturation, value

torch.manual_seed(0)
LOG4 = np.log(4.0)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})


def check(what: str, measured: float, bound: float, at_most: bool = True) -> None:
    """Print a lecture result's check; stop the notebook if it does not hold."""
    holds = measured <= bound if at_most else measured >= bound
    sign = "≤" if at_most else "≥"
    print(f"{'✓' if holds else '✗'} {what}: {measured:.3g} {sign} {bound:.3g}")
    assert holds, f"{what} does not hold"


# %% [markdown]
# ## Part 1 · The best discriminator, point by point
#
# Write both expectations as integrals over $x$ (for $\mathbb{E}_z$ that is the law of the
# unconscious statistician: no inverse of G is needed):
#
# $$V(D, G) = \int_x p_\text{data}(x) \log D(x) + p_g(x) \log(1 - D(x))\, dx .$$
#
# D may choose each value $D(x)$ separately, so it maximises the integrand at every $x$. With
# $a = p_\text{data}(x)$ and $b = p_g(x)$ that is $f(y) = a \log y + b \log(1 - y)$ on $(0, 1)$,
# whose maximum is at $y = a / (a + b)$. The picture: three points $x$ with different $(a, b)$.

# %%
y = np.linspace(1e-4, 1 - 1e-4, 100_001)
fig, ax = plt.subplots(figsize=(7, 3.5))
worst = 0.0
for (a, b), colour in zip([(0.8, 0.2), (0.5, 0.5), (0.1, 0.6)], ["tab:blue", "k", "tab:red"]):
    f = a * np.log(y) + b * np.log(1 - y)
    best = y[np.argmax(f)]
    worst = max(worst, abs(best - a / (a + b)))
    ax.plot(y, f, color=colour, label=f"a = {a}, b = {b}")
    ax.axvline(a / (a + b), color=colour, ls=":", lw=1)
    ax.plot(best, f.max(), "o", color=colour)
ax.set(xlabel="y = D(x)", ylabel="a log y + b log(1 - y)", ylim=(-3, 0),
       title="each dot: the numerical maximum; each dotted line: a / (a + b)")
ax.legend()
plt.show()
check("|numerical argmax − a/(a+b)| (grid step 1e-5)", worst, 1e-5)

# %% [markdown]
# ## Part 2 · Proposition 1 with a trained discriminator
#
# Now a real network. p_data is a mixture of two Gaussians, p_g one wider Gaussian (the shape of
# Figure 1 of the GAN paper). We train gankit's toy discriminator (an MLP that returns a logit)
# on fresh samples of both, with the discriminator's cross-entropy loss — the loss of Algorithm 1
# with G held fixed — and compare it with $D^*$, computed from the two densities.
#
# Where neither distribution has mass (grey), no training sample ever lands, so D is free there;
# the comparison counts only points where $\frac12(p_\text{data} + p_g)$ is at least 1 % of its
# peak.

# %%
p_data, p_g = optimal_d.case_1d()
c1 = optimal_d.compare(p_data, p_g, D_STEPS, D_BATCH)
x = c1.axes[0]

fig, ax = plt.subplots(figsize=(9, 3.8))
ax.plot(x, c1.p_data, "k:", lw=2, label="p_data")
ax.plot(x, c1.p_g, "g-", lw=1.5, label="p_g")
ax.plot(x, c1.d_star, "r-", lw=3, alpha=0.5, label="D* = p_data / (p_data + p_g)")
ax.plot(x, c1.d_trained, "b--", lw=1.5, label=f"trained D ({D_STEPS} steps)")
ax.fill_between(x, 0, 1, where=~c1.mask, color="grey", alpha=0.15, lw=0,
                transform=ax.get_xaxis_transform(), label="no mass: D unconstrained")
ax.set(xlabel="x", title="Proposition 1 in 1-D: the trained D lies on D*")
ax.legend(fontsize=8, loc="upper right")
plt.show()

s = c1.summary()
check("1-D: mean |D − D*| where there is mass", s["mean_abs_err"], 0.05 if QUICK else 0.02)
check("1-D: max |D − D*| where there is mass", s["max_abs_err"], 0.4 if QUICK else 0.15)

# %% [markdown]
# The same in 2-D: four real modes on a square against one off-centre Gaussian. Black contours:
# p_data; green: p_g. Blue means D(x) > ½ ("real"), red D(x) < ½ ("fake").

# %%
c2 = optimal_d.compare(*optimal_d.case_2d(), D_STEPS, D_BATCH)
g = c2.axes[0]
n = len(g)
extent = (g[0], g[-1], g[0], g[-1])
error = np.where(c2.mask, np.abs(c2.d_trained - c2.d_star), np.nan)

fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, image, title in [(axes[0], c2.d_trained, "trained D"), (axes[1], c2.d_star, "D*")]:
    im = ax.imshow(image.reshape(n, n), origin="lower", extent=extent, cmap="RdBu", vmin=0, vmax=1)
    ax.contour(g, g, c2.p_data.reshape(n, n), levels=4, colors="k", linewidths=0.6)
    ax.contour(g, g, c2.p_g.reshape(n, n), levels=4, colors="g", linewidths=0.6)
    ax.set_title(title)
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046)
im = axes[2].imshow(error.reshape(n, n), origin="lower", extent=extent, cmap="magma")
axes[2].set_title("|D − D*| where there is mass")
axes[2].grid(False)
fig.colorbar(im, ax=axes[2], fraction=0.046)
plt.show()

s = c2.summary()
check("2-D: mean |D − D*| where there is mass", s["mean_abs_err"], 0.05 if QUICK else 0.02)
check("2-D: max |D − D*| where there is mass", s["max_abs_err"], 0.4 if QUICK else 0.15)

# %% [markdown]
# ## Part 3 · Theorem 1: with D*, the game measures a distance
#
# Put $D^*$ into $V$:
#
# $$C(G) = V(D^*, G) = -\log 4
#   + \mathrm{KL}\!\left(p_\text{data} \,\middle\|\, \tfrac{p_\text{data} + p_g}{2}\right)
#   + \mathrm{KL}\!\left(p_g \,\middle\|\, \tfrac{p_\text{data} + p_g}{2}\right)
#   = -\log 4 + 2\cdot\mathrm{JSD}(p_\text{data} \,\|\, p_g).$$
#
# We slide a copy of p_data by a shift $t$ and compute both sides independently: $C(G)$ by
# numerical integration of $p_\text{data}\log D^* + p_g \log(1 - D^*)$, and the JSD by adaptive
# quadrature of its two KL terms, with densities written out separately (gankit.theory.value).
# At $t = 0$ the generator is perfect, $D^* \equiv \frac12$ and $C(G) = -\log 4$; far away the
# supports no longer overlap and JSD reaches its maximum $\log 2$, so $C(G) \to 0$.

# %%
shifts = np.linspace(-5, 5, 21 if QUICK else 61)
means, std, weights = [-1.5, 1.0], 0.5, [0.4, 0.6]
p_data = common.mixture_1d(means, std, weights)
c_of_g, theorem = [], []
for t in shifts:
    p_g = common.mixture_1d([m + t for m in means], std, weights)
    c_of_g.append(value.value_integral(p_data, p_g)[0])
    theorem.append(-LOG4 + 2 * value.jsd_quad(p_data, p_g)[0])
c_of_g, theorem = np.array(c_of_g), np.array(theorem)

fig, ax = plt.subplots(figsize=(8, 3.8))
ax.plot(shifts, theorem, "k-", lw=4, alpha=0.3, label="−log 4 + 2·JSD (quadrature of the KLs)")
ax.plot(shifts, c_of_g, "b.--", label="C(G) = V(D*, G) (numerical integration)")
ax.axhline(-LOG4, color="grey", ls="--", lw=1)
ax.text(-5, -LOG4 + 0.03, "−log 4: p_g = p_data", color="grey")
ax.axhline(0, color="grey", ls=":", lw=1)
ax.text(-1.6, -0.1, "0 = −log 4 + 2 log 2: disjoint supports", color="grey")
ax.set(xlabel="shift t of p_g against p_data", ylabel="value", title="Theorem 1")
ax.legend(loc="lower right", fontsize=8)
plt.show()

check("max over shifts |C(G) − (−log 4 + 2·JSD)|", np.abs(c_of_g - theorem).max(), 1e-6)
check("C(G) at t = 0, minus (−log 4)", abs(c_of_g[len(shifts) // 2] + LOG4), 1e-6)
check("|shift of the smallest C(G)|", abs(shifts[np.argmin(c_of_g)]), 1e-9)

# %% [markdown]
# The same identity for the other cases of gankit's theory check, this time with a third,
# independent estimate of $V(D^*, G)$: Monte Carlo from samples, with its standard error.

# %%
print(f"{'case':28s} {'V(D*,G) integral':>17s} {'Monte Carlo ± SE':>22s} {'−log4 + 2·JSD':>14s}")
for i, (name, (pd_, pg_)) in enumerate(value.cases().items()):
    row = value.evaluate(pd_, pg_, N_MC, seed=i)
    print(f"{name:28s} {row.v_integral:17.6f} {row.v_mc:13.6f} ± {row.v_mc_se:.6f} "
          f"{row.theorem:14.6f}")
    tol = 1e-6 if pd_.dim == 1 else 1e-5
    check(f"  {name}: |integral − theorem|", abs(row.v_integral - row.theorem), tol)
    check(f"  {name}: |Monte Carlo − integral| in standard errors",
          abs(row.v_mc - row.v_integral) / max(row.v_mc_se, 1e-12), 4.0)

# %% [markdown]
# **What a trained D tells you.** In practice nobody knows $D^*$. A trained D gives
# $V(D, G) \le C(G)$: its value is a *lower bound* that rises towards $C(G)$ as D gets better —
# which is why the negative of D's loss is only a rough gauge of how far p_g is from p_data.

# %%
p_data, p_g = optimal_d.case_1d()
c_exact = value.value_integral(p_data, p_g)[0]
gen = torch.Generator().manual_seed(1)
real, fake = p_data.sample(N_MC, gen), p_g.sample(N_MC, gen)
budgets = [10, 30, 100, D_STEPS]
bounds, errors = [], []
for steps in budgets:
    D = common.fit_discriminator(p_data, p_g, steps, batch=D_BATCH, lr=1e-2)
    a_real, a_fake = common.logits_of(D, real), common.logits_of(D, fake)
    # log D = -softplus(-a), log(1 - D) = -softplus(a): V from D's logits, exactly
    log_d, log_1md = -np.logaddexp(0, -a_real), -np.logaddexp(0, a_fake)
    bounds.append(log_d.mean() + log_1md.mean())
    errors.append(np.sqrt((log_d.var() + log_1md.var()) / N_MC))  # Monte Carlo standard error

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(budgets, bounds, "bo-", label="V(D, G) of a D trained that many steps")
ax.axhline(c_exact, color="r", label="C(G) = V(D*, G)")
ax.axhline(-LOG4, color="grey", ls="--", lw=1, label="−log 4")
ax.set(xlabel="discriminator training steps", ylabel="value")
ax.legend(fontsize=8)
plt.show()
print("V(D, G) by training steps:", {k: round(float(v), 4) for k, v in zip(budgets, bounds)})
check("C(G) − V(D, G) after the longest training, in standard errors (a bound: ≥ −4)",
      (c_exact - bounds[-1]) / errors[-1], -4.0, at_most=False)

# %% [markdown]
# ## Part 4 · Why G does not descend $\log(1 - D(G(z)))$
#
# G only controls the second term of $V$. With D's logit $a$ ($D = \sigma(a)$) the three
# generator losses of the lectures and their gradients with respect to the logit are
#
# | loss | per sample | $\partial / \partial a$ | as $D(G(z)) \to 0$ |
# |---|---|---|---|
# | minimax (saturating) | $\log(1 - D)$ | $-D$ | $\to 0$ |
# | non-saturating ("log D trick") | $-\log D$ | $-(1 - D)$ | $\to -1$ |
# | maximum likelihood | $-D/(1 - D)$ | $-D/(1 - D)$ | $\to 0$ |
#
# Early in training D easily rejects the fakes, $D(G(z)) \approx 0$: exactly where the minimax
# loss is flat. The curves below are gankit's own loss functions, differentiated by autograd.

# %%
d = np.logspace(-4, np.log10(1 - 1e-4), 200)
curves = saturation.loss_curves(d)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for name, (loss, grad) in curves.items():
    axes[0].plot(d, loss, color=saturation.COLOURS[name], label=saturation.LABELS[name])
    axes[1].plot(d, np.abs(grad), color=saturation.COLOURS[name], label=saturation.LABELS[name])
axes[0].set(xscale="log", ylim=(-10, 10), xlabel="D(G(z))", ylabel="generator loss",
            title="the three generator losses")
axes[1].set(xscale="log", yscale="log", xlabel="D(G(z))", ylabel="|d loss / d logit|",
            title="their gradients (autograd)")
axes[1].axvspan(d[0], 1e-2, color="grey", alpha=0.15)
axes[1].text(2e-4, 2e-3, "early training:\nD rejects the fakes")
for ax in axes:
    ax.legend(fontsize=8)
plt.show()

for name, (_, grad) in curves.items():
    exact = saturation.CLOSED_FORM[name](d)
    check(f"{name}: autograd vs closed form (max relative error)",
          np.max(np.abs(grad - exact) / np.abs(exact)), 1e-9)

# %% [markdown]
# **In a real training run.** The same three losses in gankit's trainer (Algorithm 1), on a toy
# problem where G starts far from the data and D is the stronger player (k = 5 discriminator
# steps per generator step, a 10× larger learning rate): the situation "early in learning" that
# the GAN paper describes. Everything but the generator loss is the same in the three runs.

# %%
runs = {name: saturation.early_run(name, RUN_STEPS) for name in saturation.OBJECTIVES}
fig, ax = plt.subplots(figsize=(8, 3.8))
for name, records in runs.items():
    ax.plot([r["step"] for r in records], [r["grad_norm_g"] for r in records],
            color=saturation.COLOURS[name], ls="--" if name == "ml" else "-",
            label=saturation.LABELS[name])
ax.set(yscale="log", xlabel="generator step", ylabel="‖∇ G's loss‖ (G's parameters)",
       title="G's gradient norm in three otherwise identical runs")
ax.legend(fontsize=8)
plt.show()


def after_step_20(name: str, key: str) -> np.ndarray:
    return np.array([r[key] for r in runs[name] if r["step"] >= 20])


check("minimax run: median D(G(z)) from step 20 (D rejects the fakes)",
      np.median(after_step_20("minimax", "d_fake")), 0.05)
for other in ("minimax", "ml"):
    ratio = np.median(after_step_20("nonsaturating", "grad_norm_g")
                      / after_step_20(other, "grad_norm_g"))
    check(f"median |∇G| non-saturating / {other}", ratio, 10.0, at_most=False)

# %% [markdown]
# ## What to take away
#
# - For a fixed G the best D is $p_\text{data} / (p_\text{data} + p_g)$, and a trained network gets
#   there where the data are.
# - With that D the game is $-\log 4 + 2\cdot\mathrm{JSD}$: the generator's best move is
#   $p_g = p_\text{data}$, where D can only say ½.
# - That result assumes G descends $\log(1 - D(G(z)))$, whose gradient vanishes exactly when G is
#   bad. Practice swaps in $-\log D(G(z))$: the same fixed point, strong gradients early.
#   Notebook 2 trains all three losses with Algorithm 1 and shows what this does to the samples.
#
# The same checks, with more cases and tighter tolerances, run from the command line:
# `gankit theory --out runs/theory` (add `--quick` for a short version).
