# %% [markdown]
# # 5 · The 1-Wasserstein distance, WGAN and WGAN-GP
#
# **What this notebook teaches.** What the 1-Wasserstein (earth mover's) distance measures and
# how to compute it exactly between two samples; why it is a better training signal than the
# Jensen–Shannon divergence hidden in the original GAN, above all when the two distributions do
# not overlap; and how WGAN and WGAN-GP turn it into a game, with a *critic* in place of the
# discriminator, kept 1-Lipschitz by weight clipping or by a gradient penalty.
#
# **Which lecture results it checks.**
#
# - *The definition* ("Generative Adversarial Networks - II", §5.1):
#   $W_1(P, Q) = \inf_{\gamma \in \Pi(P, Q)} \mathbb{E}_{(x, y)\sim\gamma}\|x - y\|$. For two
#   samples of n points with equal weights an optimal plan is a permutation, so $W_1$ is an
#   assignment problem, solved exactly (`gankit.metrics`), checked here against brute force.
# - *JSD saturates, W1 does not* (§5.2, property 5; the notes "Generative Adversarial Networks",
#   §3.1, "gradient vanishing"): once the supports are disjoint JSD is stuck at $\log 2$ whatever
#   the distance, W1 keeps growing with it; and through a near-optimal D the minimax generator's
#   gradient shrinks towards zero.
# - *The WGAN critic estimates W1* (§5.3; Arjovsky, Chintala and Bottou): by the
#   Kantorovich–Rubinstein duality $W_1 = \sup_{\|f\|_L \le 1} \mathbb{E}_P f - \mathbb{E}_Q f$,
#   so a 1-Lipschitz critic's $\mathbb{E} f(\text{real}) - \mathbb{E} f(\text{fake})$ tracks
#   the distance during training ("the distance correlates well with sample quality").
#
# **Time.** About 2 minutes on a laptop CPU; `GANKIT_NOTEBOOK_QUICK=1` runs the same cells with a
# fortieth of the training (the training checks need the full length and are skipped then).

# %% tags=["parameters"]
import os

QUICK = os.environ.get("GANKIT_NOTEBOOK_QUICK") == "1"  # the cheap mode the tests run

STEPS = 100 if QUICK else 4000  # generator steps of each training run (part 3)
N_SHIFT = 500 if QUICK else 1000  # samples per side for W1 against the shift (part 2)
EVERY = 25 if QUICK else 100  # measure W1 and the critic's estimate every EVERY steps
D_CHECKPOINTS = (25, 100, 400) if QUICK else (25, 50, 100, 200, 400, 800, 1600, 3200)
SEED = 0

# %%
from itertools import permutations

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats
from scipy.optimize import linear_sum_assignment

import gankit
from gankit.metrics.wasserstein import wasserstein1
from gankit.theory import disjoint

plt.rcParams.update({"figure.dpi": 90})


def check(what: str, measured: float, bound: float, at_most: bool = True) -> None:
    """Print a lecture result's check; stop the notebook if it does not hold."""
    holds = measured <= bound if at_most else measured >= bound
    print(f"{'✓' if holds else '✗'} {what}: {measured:.3g} {'≤' if at_most else '≥'} {bound:.3g}")
    assert holds, f"{what} does not hold"


# %% [markdown]
# ## Part 1 · Moving earth
#
# Eight points of P (black) and eight of Q (green). A transport plan moves each unit of mass of P
# to Q; its cost is the mean distance moved. With equal weights the cheapest plan is a matching
# (a permutation), and $W_1$ its cost — here found by the Hungarian algorithm, and checked
# against all $8! = 40{,}320$ matchings.

# %%
rng = np.random.default_rng(3)
p_pts = rng.normal([0.0, 0.0], 0.6, (8, 2))
q_pts = rng.normal([2.5, 1.0], 0.6, (8, 2))
cost = np.linalg.norm(p_pts[:, None] - q_pts[None], axis=-1)
rows, cols = linear_sum_assignment(cost)
brute = min(cost[np.arange(8), list(perm)].mean() for perm in permutations(range(8)))

fig, ax = plt.subplots(figsize=(6, 4))
for i, j in zip(rows, cols):
    ax.annotate("", q_pts[j], p_pts[i], arrowprops={"arrowstyle": "->", "color": "grey"})
ax.scatter(*p_pts.T, c="k", s=40, label="P", zorder=3)
ax.scatter(*q_pts.T, c="g", s=40, label="Q", zorder=3)
ax.set(aspect="equal", title=f"the optimal plan: W1 = {wasserstein1(p_pts, q_pts):.3f}")
ax.legend()
plt.show()

check("|gankit's W1 − the best of all 8! matchings|", abs(wasserstein1(p_pts, q_pts) - brute),
      1e-12)
a1, b1 = rng.normal(0, 1, 1000), rng.normal(0.5, 2, 1000)
check("1-D, 1,000 points: |gankit's W1 − scipy's sorted-sample W1|",
      abs(wasserstein1(a1[:, None], b1[:, None]) - stats.wasserstein_distance(a1, b1)), 1e-9)

# %% [markdown]
# ## Part 2 · When the supports do not overlap
#
# Slide a narrow Gaussian Q (std 0.05) away from an identical P. The JSD — what the original
# GAN's value measures with the optimal D (notebook 1) — rises to $\log 2$ and stays there once
# the two no longer overlap: it tells G nothing about *which way* to move. W1 equals the shift.
# (JSD by quadrature, W1 exactly from `N_SHIFT` samples per side; `gankit.theory.disjoint`.)

# %%
a = disjoint.jsd_and_w1(n=N_SHIFT)
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.plot(a["distance"], a["jsd"], "o-", color="tab:red", label="JSD(P ‖ Q)")
ax.plot(a["distance"], a["w1"], "s-", color="tab:blue", label="W1(P, Q) from samples")
ax.axhline(np.log(2), color="tab:red", ls=":", lw=1)
ax.text(2.6, np.log(2) + 0.08, "log 2", color="tab:red")
ax.axvline(disjoint.DISJOINT_FROM, color="grey", ls="--", lw=1)
ax.text(disjoint.DISJOINT_FROM + 0.05, 3.3, "supports disjoint\n(20 std apart)", color="grey")
ax.set(xlabel="shift of Q", ylabel="divergence / distance")
ax.legend(loc="upper left")
plt.show()

far = a["distance"] >= disjoint.DISJOINT_FROM
check("max |JSD − log 2| once the supports are disjoint", np.abs(a["jsd"][far] - np.log(2)).max(),
      1e-9)
check("max |W1 − shift| (3× the expected sampling error bound)",
      np.abs(a["w1"] - a["distance"]).max(), 3 * disjoint.w1_sampling_bound(disjoint.STD, N_SHIFT))

# %% [markdown]
# **The gradient G gets.** A fixed generator whose samples lie on a curve inside the 8-mode ring
# (the supports are disjoint), and a discriminator trained longer and longer against it. The
# better D is, the closer to the optimal D, the smaller the gradient that the minimax loss
# $\log(1 - D(G(z)))$ passes to G: the vanishing gradient of the lecture notes. The
# non-saturating loss keeps a gradient, but it is not the gradient of a distance.

# %%
b = disjoint.gradient_vs_d_training(D_CHECKPOINTS)
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.loglog(b["d_steps"], b["grad_minimax"], "o-", color="tab:red", label="minimax  log(1 − D)")
ax.loglog(b["d_steps"], b["grad_nonsaturating"], "o-", color="tab:blue",
          label="non-saturating  −log D")
ax.set(xlabel="D's training steps against the fixed G", ylabel="‖∇ G's loss‖")
ax.legend()
plt.show()
check("minimax |∇G| at the last / the first checkpoint",
      b["grad_minimax"][-1] / b["grad_minimax"][0], 0.5 if QUICK else 0.05)

# %% [markdown]
# ## Part 3 · Training with a critic
#
# Four Gaussians (std 0.3) at $(\pm 3, \pm 3)$; G starts as a small cloud at the origin, between
# them. Three runs with the same networks (MLPs 2×64), batch 128 and seed:
#
# | method | gankit options | the critic's constraint |
# |---|---|---|
# | GAN (reference) | `train.loss = nonsaturating` | none: D is a classifier |
# | WGAN | `train.loss = wasserstein`, `train.clip = 0.01`, RMSprop 5e-5, `train.k = 5` | weights clipped to [−0.01, 0.01] |
# | WGAN-GP | `train.loss = wasserstein`, `train.gp_lambda = 10`, Adam 2e-4 (β = 0.5, 0.9), `train.k = 5` | penalty $10\,(\|\nabla f(\hat x)\| - 1)^2$ on points between real and fake |
#
# (WGAN's are the settings of its paper; WGAN-GP's paper uses Adam 1e-4, doubled here to fit
# a laptop's minutes.) Every `EVERY` steps we compare 500 generated points with a fixed set of
# 500 real ones: the exact W1, and the critic's own estimate $\frac1n\sum f(x_i) - \frac1n\sum f(G(z_i))$.

# %%
means = np.array([[3.0, 3.0], [3.0, -3.0], [-3.0, 3.0], [-3.0, -3.0]])
rng = np.random.default_rng(0)
real = torch.tensor(means[rng.integers(0, 4, 500)] + 0.3 * rng.standard_normal((500, 2)),
                    dtype=torch.float32)
BASE = {"data.name": "mixture", "data.means": means.tolist(), "data.std": 0.3,
        "data.n_train": 20_000, "model.g_width": 64, "model.g_depth": 2, "model.d_width": 64,
        "model.d_depth": 2, "prior.dim": 2, "train.batch_size": 128, "train.seed": SEED,
        "train.log_every": 50}
METHODS = {
    "GAN": {"train.loss": "nonsaturating", "train.lr_g": 2e-4, "train.lr_d": 2e-4},
    "WGAN": {"train.loss": "wasserstein", "train.clip": 0.01, "train.optimizer": "rmsprop",
             "train.lr_g": 5e-5, "train.lr_d": 5e-5, "train.k": 5},
    "WGAN-GP": {"train.loss": "wasserstein", "train.gp_lambda": 10.0, "train.k": 5,
                "train.lr_g": 2e-4, "train.lr_d": 2e-4, "train.betas_g": [0.5, 0.9],
                "train.betas_d": [0.5, 0.9]},
}
COLOURS = {"GAN": "tab:grey", "WGAN": "tab:orange", "WGAN-GP": "tab:purple"}


def tracker(trace: list):
    """A callback: (step, exact W1, the critic's estimate) every EVERY steps."""
    def record(trainer):
        if trainer.step % EVERY == 0:
            fake = trainer.sample(500, seed=1)
            with torch.no_grad():
                estimate = float(trainer.D(real).mean() - trainer.D(fake).mean())
            trace.append((trainer.step, wasserstein1(fake, real), estimate))
    return record


runs, traces = {}, {}
for name, options in METHODS.items():
    traces[name] = []
    runs[name] = gankit.fit(overrides={**BASE, **options}, steps=STEPS, evaluate=False,
                            callbacks=tracker(traces[name]))
    print(f"{name}: {runs[name]}")

fig, axes = plt.subplots(1, 3, figsize=(16, 3.8))
for name, trace in traces.items():
    step, w1, estimate = np.array(trace).T
    axes[0].plot(step, w1, color=COLOURS[name], label=name)
    if name != "GAN":
        axes[1 if name == "WGAN-GP" else 2].plot(step, w1, color=COLOURS[name], label="exact W1")
        axes[1 if name == "WGAN-GP" else 2].plot(step, estimate, "--", color=COLOURS[name],
                                                 label="critic: E f(real) − E f(fake)")
axes[0].set(xlabel="generator step", ylabel="exact W1 to the data", title="distance to the data")
axes[1].set(xlabel="generator step", title="WGAN-GP: the critic's estimate")
axes[2].set(xlabel="generator step", yscale="symlog", title="WGAN (clipped): its estimate")
axes[2].set_yscale("symlog", linthresh=1e-3)
for ax in axes:
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **The critics at the end.** What G climbs (white: its samples; red: the modes): the GAN's D(x)
# is a probability, bounded in [0, 1]; a critic $f(x)$ is an unbounded score whose slope is what
# matters. The gradient norm of $f$ on points between real and generated samples is its Lipschitz
# constant in practice: about 1 with the penalty, far below 1 with clipping — which is why the
# clipped critic estimates W1 only up to an unknown factor, and why WGAN's estimate above is so
# small (and its generator slow: its gradients are as small).

# %%
LIM, CELLS = 5.5, 120
axis = np.linspace(-LIM, LIM, CELLS)
grid = torch.tensor(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2), dtype=torch.float32)
fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
slopes = {}
for ax, (name, run) in zip(axes, runs.items()):
    with torch.no_grad():
        out = run.D(grid)
    surface = torch.sigmoid(out) if name == "GAN" else out
    im = ax.imshow(surface.numpy().reshape(CELLS, CELLS), origin="lower", cmap="viridis",
                   extent=(-LIM, LIM, -LIM, LIM))
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.scatter(*run.sample(500, seed=1).numpy().T, s=2, c="w", alpha=0.6)
    ax.scatter(*means.T, marker="x", c="r", s=40)
    ax.set(xlim=(-LIM, LIM), ylim=(-LIM, LIM), xticks=[], yticks=[],
           title=f"{name}: " + ("D(x)" if name == "GAN" else "critic f(x)"))
    # the gradient norm of D's output on random points between real and generated samples
    t = torch.rand(500, 1)
    between = (t * real + (1 - t) * run.sample(500, seed=2)).requires_grad_(True)
    (grad,) = torch.autograd.grad(run.D(between).sum(), between)
    slopes[name] = float(grad.norm(dim=1).median())
plt.show()
print("median ‖∇f‖ between real and generated points:",
      ", ".join(f"{k} {v:.3g}" for k, v in slopes.items()))

# %% [markdown]
# **Checks.** With the gradient penalty the critic is close to 1-Lipschitz, and its estimate
# follows the exact distance over training (correlation across the evaluations); with clipping
# the critic is far flatter; and WGAN-GP brings G much closer to the data than it started.

# %%
check("WGAN-GP: |median ‖∇f‖ between real and generated points − 1|",
      abs(slopes["WGAN-GP"] - 1), 0.5)
check("WGAN: median ‖∇f‖ (clipping: far below 1)", slopes["WGAN"], 0.1)
if QUICK:
    print("quick mode: the training checks need the full length; skipped")
else:
    step, w1, estimate = np.array(traces["WGAN-GP"]).T
    check("WGAN-GP: correlation of the critic's estimate with the exact W1",
          np.corrcoef(w1, estimate)[0, 1], 0.8, at_most=False)
    check("WGAN-GP: final W1 / first measured W1", w1[-1] / w1[0], 1 / 3)

# %% [markdown]
# ## What to take away
#
# - W1 is the cost of the cheapest way to move one distribution onto the other; between two
#   samples of equal size it is an assignment problem, which gankit solves exactly (`w1` in every
#   run's metrics).
# - JSD cannot tell "far" from "very far": with disjoint supports it is constant, and the
#   minimax generator's gradient vanishes. W1 grows with the distance.
# - A WGAN's critic is a learned, constrained estimate of W1: useful as a training signal and as
#   a readout of progress, as long as the constraint (clipping or a penalty) holds its Lipschitz
#   constant near a known value.
