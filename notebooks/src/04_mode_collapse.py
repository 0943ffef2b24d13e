# %% [markdown]
# # 4 · Mode collapse: minimax vs maximin, the unrolled GAN, PacGAN
#
# **What this notebook teaches.** Why a GAN trained by alternating gradient steps can give up on
# diversity — its generator piles all its samples onto one mode, the discriminator turns against
# that mode, the generator hops to the next — and two remedies that change what G sees: unrolling
# the discriminator, and packing samples.
#
# **Which lecture results it checks** (all from "Generative Adversarial Networks - II", §3–4):
#
# - *Minimax is not maximin.* With D in the inner loop ($\min_G \max_D V$) G ends at
#   $p_\text{data}$; with G in the inner loop ($\max_D \min_G V$) G maps every z to the one point
#   D finds most real, and hops from point to point as D reacts.
# - *Mode collapse in a real GAN*, on the 8-mode ring of the unrolled GAN's paper: one mode at a
#   time, moving from mode to mode.
# - *Unrolling cures it*: G descends $f_K(\theta_G, \theta_D) = f(\theta_G, \theta_D^K(\theta_G,
#   \theta_D))$, the value after K look-ahead steps of D (Metz et al.).
# - *Packing cures it*: D judges m samples at once, so a missing mode becomes visible; in the
#   language of hypothesis testing, the distance between $P^m$ and $Q^m$ grows fastest for a
#   generator that drops modes (Lin, Khetan, Fanti and Oh, PacGAN).
#
# **Time.** About 2 minutes on a laptop CPU; `GANKIT_NOTEBOOK_QUICK=1` runs every cell with a
# twentieth of the steps (too short to collapse or to cure: the training checks say so and skip).

# %% tags=["parameters"]
import os

QUICK = os.environ.get("GANKIT_NOTEBOOK_QUICK") == "1"  # the cheap mode the tests run

STEPS = 150 if QUICK else 3000  # generator steps of each of the three ring runs (part 2)
EVERY = 25 if QUICK else 100  # evaluate the samples every EVERY steps
GAME_ROUNDS = (300, 30)  # rounds of the minimax and maximin games (a few seconds)
SEED = 0

# %%
from functools import reduce
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import torch

import gankit
from gankit.metrics.modes import hq_fraction, modes_recovered
from gankit.theory import minimax

plt.rcParams.update({"figure.dpi": 90})


def check(what: str, measured: float, bound: float, at_most: bool = True) -> None:
    """Print a lecture result's check; stop the notebook if it does not hold."""
    holds = measured <= bound if at_most else measured >= bound
    print(f"{'✓' if holds else '✗'} {what}: {measured:.3g} {'≤' if at_most else '≥'} {bound:.3g}")
    assert holds, f"{what} does not hold"


# %% [markdown]
# ## Part 1 · The order of min and max
#
# A game small enough to solve exactly: 161 points $x_i$ on a line, $p_\text{data}$ a 3-mode
# mixture on them, D one logit per point, G any distribution $p_g$ on the points (it maps a
# uniform z to a point through $p_g$'s inverse CDF). Both players take only gradient steps on
# the same $V(D, G) = \sum_i p_\text{data}(x_i)\log D(x_i) + p_g(x_i) \log(1 - D(x_i))$
# (`gankit.theory.minimax`).
#
# - **min_G max_D**: D is trained to convergence between two G steps.
# - **max_D min_G**: G is solved to convergence between two D steps. $V$ is linear in $p_g$, so
#   G's best answer puts all its mass on the single point where D is largest.

# %%
rounds_mm, rounds_mx = GAME_ROUNDS
a = minimax.minimax(rounds_mm)
b = minimax.maximin(rounds_mx)
x, p_data = a["x"], a["p_data"]
dx = float(x[1] - x[0])
z = torch.rand(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
points, shares = [], []
for p_g in b["solutions"][1:]:  # round 0: D ≡ ½ everywhere, every point ties
    g_of_z = minimax.inverse_cdf(x, p_g, z)
    top = torch.mode(g_of_z).values
    points.append(float(top))
    shares.append(float((g_of_z == top).double().mean()))

fig, axes = plt.subplots(1, 3, figsize=(16, 3.8))
axes[0].plot(x, p_data / dx, "k:", lw=2, label="p_data")
axes[0].plot(x, a["p_g"] / dx, "g-", label=f"p_g after {rounds_mm} rounds")
axes[0].set(title="min_G max_D: G spreads over the three modes", xlabel="x")
last = len(b["solutions"]) - 1
axes[1].plot(x, p_data / dx, "k:", lw=2, label="p_data")
axes[1].plot(x, b["ds"][last], "b--", label=f"D in round {last}")
axes[1].vlines(points[-1], 0, 1, color="g", lw=3, label=f"p_g in round {last}: one point")
axes[1].scatter(points, np.full(len(points), 1.12), c=np.arange(len(points)), cmap="viridis",
                marker="v", label="G's point, round by round (dark → light)")
axes[1].set(title="max_D min_G: every z goes to argmax D", xlabel="x", ylim=(0, 1.9))
zz = np.linspace(0.0005, 0.9995, 400)
axes[2].plot(zz, minimax.inverse_cdf(x, a["p_g"], torch.from_numpy(zz)), "g-", label="min_G max_D")
for r in (1, last // 2, last):
    axes[2].plot(zz, minimax.inverse_cdf(x, b["solutions"][r], torch.from_numpy(zz)), "--",
                 label=f"max_D min_G, round {r}")
axes[2].set(title="the generators as maps z → x", xlabel="z ~ U(0, 1)", ylabel="G(z)")
for ax in axes:
    ax.legend(fontsize=7, loc="upper left", ncol=1 if ax is axes[2] else 2)
plt.show()

check("min_G max_D: JSD(p_data ‖ p_g) at the end", minimax.jsd(p_data, a["p_g"]), 1e-3)
check("max_D min_G: smallest share of z sent to one point, over rounds", min(shares), 0.99,
      at_most=False)
check("max_D min_G: most modes holding ≥ 5 % of p_g in any round",
      max(int((minimax.mode_masses(x, p_g) >= 0.05).sum()) for p_g in b["solutions"][1:]), 1)
modes_visited = {int(np.argmin([abs(p - m) for m in minimax.MEANS])) for p in points}
check("max_D min_G: modes G's point visits, one after the other", len(modes_visited), 2,
      at_most=False)

# %% [markdown]
# ## Part 2 · A real GAN collapses; unrolling and packing do not
#
# The 8-mode ring of the unrolled GAN's paper (radius 2, standard deviation 0.02) with its
# networks and the saturating minimax loss (preset `toy-ring-unrolled`: G 2×128 ReLU, z in 256
# dimensions, batch 512), here with Adam's step raised from 1e-4 to 5e-4 so that the story
# unfolds in minutes instead of an hour. Three runs, identical but for one option each:
#
# | method | option | what changes |
# |---|---|---|
# | GAN | — | Algorithm 1 with k = 1 |
# | Unrolled, K = 5 | `train.unroll = 5` | G's loss after 5 look-ahead steps of D, through them |
# | PacGAN2 | `train.pack = 2` | D judges pairs of samples, both real or both generated |
#
# Every `EVERY` steps we draw 1,000 samples and measure, for each mode, the share of samples
# within 0.5 of its centre (a third of the way to the next one), and PacGAN's two metrics:
# modes with at least one *high-quality* sample (within 3 standard deviations) and the
# high-quality fraction.

# %%
angles = np.arange(8) * 2 * np.pi / 8
centres = torch.tensor(2 * np.stack([np.cos(angles), np.sin(angles)], 1))
STD = 0.02
METHODS = {"GAN": {}, "Unrolled K=5": {"train.unroll": 5}, "PacGAN2": {"train.pack": 2}}
shown = [STEPS // 6, STEPS // 3, 2 * STEPS // 3, STEPS]
LIM, CELLS = 2.8, 100
axis = np.linspace(-LIM, LIM, CELLS)
grid = torch.tensor(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2), dtype=torch.float32)


def tracker(curve: list, shots: dict):
    """A callback: mode shares and PacGAN's metrics every EVERY steps, pictures at `shown`."""
    def record(trainer):
        if trainer.step % EVERY == 0:
            x = trainer.sample(1000, seed=1).double()
            near = torch.cdist(x, centres).min(1)
            counts = torch.bincount(near.indices[near.values < 0.5], minlength=8)
            curve.append({"step": trainer.step, "shares": (counts / len(x)).numpy(),
                          "modes": modes_recovered(x, centres, STD),
                          "hq": hq_fraction(x, centres, STD)})
        if trainer.step in shown:
            d = trainer.discriminate(grid).cpu().numpy().reshape(CELLS, CELLS)
            shots[trainer.step] = (trainer.sample(1000, seed=1).numpy(), d)
    return record


curves, shots = {}, {}
for name, option in METHODS.items():
    curves[name], shots[name] = [], {}
    run = gankit.fit(config="toy-ring-unrolled", steps=STEPS, evaluate=False,
                     callbacks=tracker(curves[name], shots[name]),
                     overrides={"train.lr_g": 5e-4, "train.lr_d": 5e-4, "train.seed": SEED,
                                "train.log_every": 50, **option})
    print(f"{name}: {run}")

# %%
fig, axes = plt.subplots(3, len(shown), figsize=(3.2 * len(shown), 9.6))
for row, name in zip(axes, METHODS):
    for ax, step in zip(row, shown):
        samples, d = shots[name][step]
        ax.imshow(d, origin="lower", extent=(-LIM, LIM, -LIM, LIM), cmap="RdBu", vmin=0, vmax=1)
        ax.scatter(*samples.T, s=1, c="k", alpha=0.5)
        ax.scatter(*centres.numpy().T, marker="x", s=30, c="gold", linewidths=1.5)
        ax.set(xlim=(-LIM, LIM), ylim=(-LIM, LIM), xticks=[], yticks=[], title=f"step {step}")
    row[0].set_ylabel(name)
fig.suptitle("samples (black) over D(x) (blue: 'real'); crosses: the 8 modes")
fig.tight_layout()
plt.show()

# %% [markdown]
# **The mode-share chart.** Each colour is one mode; its height the share of samples near that
# mode. A collapsed GAN shows one colour at a time, changing; a healthy one eight even bands.

# %%
colours = plt.cm.tab10(np.arange(8))
fig, axes = plt.subplots(1, 3, figsize=(16, 3.4), sharey=True)
for ax, name in zip(axes, METHODS):
    steps = [c["step"] for c in curves[name]]
    ax.stackplot(steps, np.array([c["shares"] for c in curves[name]]).T, colors=colours, lw=0)
    ax.set(title=name, xlabel="generator step", ylim=(0, 1))
axes[0].set_ylabel("share of samples within 0.5 of each mode")
plt.show()

fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
for name in METHODS:
    steps = [c["step"] for c in curves[name]]
    axes[0].plot(steps, [c["modes"] for c in curves[name]], label=name)
    axes[1].plot(steps, [c["hq"] for c in curves[name]], label=name)
axes[0].set(xlabel="generator step", ylabel="modes with a high-quality sample", ylim=(-0.3, 8.3))
axes[1].set(xlabel="generator step", ylabel="high-quality fraction")
for ax in axes:
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **Checks.** Over the last third of the run the plain GAN never holds more than one mode with
# 5 % of its samples, and the mode it holds changes; at the end, the unrolled GAN and PacGAN2
# each hold all eight, with a high-quality sample at every one.

# %%
def held(entry) -> int:
    return int((entry["shares"] >= 0.05).sum())


if QUICK:
    print("quick mode: too few steps to collapse or to cure; the training checks are skipped")
else:
    tail = [c for c in curves["GAN"] if c["step"] > 2 * STEPS // 3]
    dominant = [int(np.argmax(c["shares"])) for c in tail if c["shares"].max() >= 0.05]
    hops = sum(p != q for p, q in pairwise(dominant))
    check("GAN: most modes holding ≥ 5 % of the samples, last third", max(map(held, tail)), 1)
    check("GAN: changes of the dominant mode, last third", hops, 2, at_most=False)
    for name in ("Unrolled K=5", "PacGAN2"):
        end = curves[name][-1]
        check(f"{name}: modes holding ≥ 5 % of the samples at the end", held(end), 8,
              at_most=False)
        check(f"{name}: modes with a high-quality sample at the end", end["modes"], 8,
              at_most=False)

# %% [markdown]
# ## Part 3 · Why packing works: two generators, equally far, told apart by pairs
#
# PacGAN's argument is about hypothesis tests. Let P be the 8 modes with equal weights, and two
# generators at the same total-variation distance $\frac18$ from it: one **drops a mode** (mode 0
# gets nothing, the other seven $\frac17$ each), the other **keeps every mode** but shifts weight
# between four of them ($\frac1{16}, \frac1{16}, \frac3{16}, \frac3{16}$). A single sample cannot
# tell which generator is worse. A packed discriminator sees m samples, i.e. tells $P^m$ from
# $Q^m$, and $\mathrm{TV}(P^m, Q^m)$, computed here exactly over all $8^m$ outcomes, grows much
# faster for the generator that drops a mode.

# %%
P = np.full(8, 1 / 8)
generators = {"drops a mode": np.r_[0.0, np.full(7, 1 / 7)],
              "keeps every mode": np.r_[1 / 16, 1 / 16, 3 / 16, 3 / 16, np.full(4, 1 / 8)]}
packs = range(1, 6)


def tv_packed(p: np.ndarray, q: np.ndarray, m: int) -> float:
    """Total variation between the m-fold products p^m and q^m, over all 8^m outcomes."""
    pm, qm = (reduce(np.multiply.outer, [v] * m).ravel() for v in (p, q))
    return 0.5 * float(np.abs(pm - qm).sum())


tv = {name: [tv_packed(P, q, m) for m in packs] for name, q in generators.items()}
fig, ax = plt.subplots(figsize=(6, 3.6))
for name, values in tv.items():
    ax.plot(list(packs), values, "o-", label=name)
ax.set(xlabel="m, samples per pack", ylabel="TV(P^m, Q^m)", xticks=list(packs),
       title="what a packed discriminator can see")
ax.legend()
plt.show()
for name, values in tv.items():
    print(f"{name:17s}", "  ".join(f"m={m}: {v:.3f}" for m, v in zip(packs, values)))

check("m = 1: |TV(drops) − TV(keeps)| (equally far for one sample)",
      abs(tv["drops a mode"][0] - tv["keeps every mode"][0]), 1e-12)
check("m = 2: TV(drops) − TV(keeps)", tv["drops a mode"][1] - tv["keeps every mode"][1], 0.02,
      at_most=False)

# %% [markdown]
# ## What to take away
#
# - Alternating gradient steps do not say which player is "inside": when G effectively answers
#   the current D (the maximin order), its best answer is a single point, and it collapses.
# - Unrolling lets G answer the D of K steps later, which punishes the single-point answer;
#   packing lets D see diversity, which a single-point G cannot fake. Both cost little to try in
#   gankit: `train.unroll = K`, `train.pack = m`, on any data set and network.
# - Longer runs with several seeds, PacGAN's own protocol and its 25-mode grid, and the
#   1,000-mode stacked MNIST: `gankit bench unrolled`, `gankit bench pacgan-grid`, and
#   `docs/mode_collapse.md`.
