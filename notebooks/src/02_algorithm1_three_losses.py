# %% [markdown]
# # 2 · Algorithm 1 and the three generator losses
#
# **What this notebook teaches.** How a GAN is actually trained — Algorithm 1 of the GAN paper,
# minibatch stochastic gradient steps that alternate between the two players — and what the
# choice of the generator's loss does to that training. We train on 2-D data, where every
# sample, the discriminator's whole decision surface D(x) and the exact distance to the data can
# be drawn and measured at every step.
#
# **Which lecture results it checks.**
#
# - *Algorithm 1* ("Generative Adversarial Networks: From Theory to Practice"): k discriminator
#   steps on fresh minibatches, then one generator step, with the three generator losses of the
#   lectures — the saturating **minimax** $\log(1 - D(G(z)))$, the **non-saturating**
#   $-\log D(G(z))$, and the **maximum-likelihood** $-D(G(z))/(1 - D(G(z)))$ of "Generative
#   Adversarial Networks - II" §2, whose expected gradient with the optimal D is that of
#   $\mathrm{KL}(p_\text{data} \,\|\, p_g)$.
# - *The equilibrium* ("Machine Learning I (DATS 6202) Generative Adversarial Network"): when G
#   mimics the data, D can no longer tell real from fake and outputs about ½ on both.
# - *Saturation in practice* (the "log D trick" of the notes "Generative Adversarial Networks"):
#   when G starts far from the data and D wins early, the minimax and maximum-likelihood
#   generators stall while the non-saturating one moves at once.
#
# **Time.** About a minute on a laptop CPU; `GANKIT_NOTEBOOK_QUICK=1` runs the same cells with
# fewer steps in a few seconds (some checks need the full length and are skipped then: they say so).

# %% tags=["parameters"]
import os
import tempfile
from pathlib import Path

QUICK = os.environ.get("GANKIT_NOTEBOOK_QUICK") == "1"  # the cheap mode the tests run

RING_STEPS = 200 if QUICK else 3000  # generator steps of the three runs on the ring (part 2)
FAR_STEPS = 200 if QUICK else 1500  # generator steps of the far-start runs (part 3)
SEED = 0
OUT = Path(tempfile.mkdtemp(prefix="gankit-notebook-2-"))  # run folders; set your own to keep them

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
import torch

import gankit
from gankit.metrics.wasserstein import wasserstein1

plt.rcParams.update({"figure.dpi": 90})
LOSSES = {"minimax": "tab:red", "nonsaturating": "tab:blue", "ml": "tab:green"}
TITLES = {"minimax": "minimax  log(1 − D)", "nonsaturating": "non-saturating  −log D",
          "ml": "max. likelihood  −D/(1 − D)"}


def check(what: str, measured: float, bound: float, at_most: bool = True) -> None:
    """Print a lecture result's check; stop the notebook if it does not hold."""
    holds = measured <= bound if at_most else measured >= bound
    print(f"{'✓' if holds else '✗'} {what}: {measured:.3g} {'≤' if at_most else '≥'} {bound:.3g}")
    assert holds, f"{what} does not hold"


def snapshots(at_steps, lo, hi, n=500, cells=120):
    """A callback recording samples and D(x) on a grid over [lo, hi]² at the given steps, and
    the records (step -> (samples, D on the grid))."""
    axis = np.linspace(lo, hi, cells)
    grid = torch.tensor(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2), dtype=torch.float32)
    shots = {}

    def record(trainer):
        if trainer.step in at_steps:
            d = trainer.discriminate(grid).cpu().numpy().reshape(cells, cells)
            shots[trainer.step] = (trainer.sample(n, seed=1).numpy(), d)

    return record, shots


def draw(ax, samples, d, centres, lo, hi, title=""):
    """Samples (black) over D(x) (blue: 'real', red: 'fake'), true mode centres as crosses."""
    ax.imshow(d, origin="lower", extent=(lo, hi, lo, hi), cmap="RdBu", vmin=0, vmax=1)
    ax.scatter(*samples.T, s=2, c="k", alpha=0.6)
    ax.scatter(*centres.T, marker="x", s=30, c="gold", linewidths=1.5)
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xticks=[], yticks=[], title=title)


def read_log(run) -> dict[str, np.ndarray]:
    """The run folder's training log (metrics.jsonl), one array per column."""
    rows = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


# %% [markdown]
# ## Part 1 · Algorithm 1, and where each of its knobs lives in gankit
#
# > **for** each training iteration **do**
# > &nbsp;&nbsp;**for** k steps **do**: sample m noise vectors $z$ and m data points $x$; update D
# > by ascending $\frac1m \sum_i \log D(x_i) + \log(1 - D(G(z_i)))$
# > &nbsp;&nbsp;sample m noise vectors $z$; update G by descending its loss on $D(G(z_i))$
#
# | Algorithm 1 | gankit config key |
# |---|---|
# | k, D steps per G step | `train.k` |
# | m, the minibatch size | `train.batch_size` |
# | G's loss | `train.loss` (`minimax`, `nonsaturating`, `ml`, or others) |
# | the gradient rule and step sizes | `train.optimizer`, `train.lr_d`, `train.lr_g` |
# | the noise prior $p_z$ | `prior.name`, `prior.dim` |
#
# D ascends $V$ by descending its cross-entropy (real = 1, fake = 0); D returns a logit, and
# every loss is written with softplus so it is exact for any logit. `gankit.load_config` checks a
# configuration before anything runs, and says what is wrong in one line:

# %%
try:
    gankit.load_config(None, {"train.k": 0})
except gankit.GankitError as e:
    print("GankitError:", e)

# %% [markdown]
# ## Part 2 · Three losses on the 8-mode ring
#
# The data: 8 Gaussians on a circle of radius 2, standard deviation 0.05. G and D are small MLPs
# (2 hidden layers of 64 units), Adam with step 1e-3, batch 128, k = 1, prior $N(0, I_2)$. The
# three runs differ *only* in the generator loss; same seed, same initial networks, same data.
# Each panel shows 500 samples over D's decision surface, crosses mark the true mode centres.

# %%
RING = {"data.name": "ring", "data.radius": 2.0, "data.std": 0.05, "data.n_train": 20_000,
        "model.g_width": 64, "model.g_depth": 2, "model.d_width": 64, "model.d_depth": 2,
        "prior.dim": 2, "train.batch_size": 128, "train.lr_g": 1e-3, "train.lr_d": 1e-3,
        "train.k": 1, "train.seed": SEED, "train.log_every": 10, "eval.n_samples": 1000}
angles = np.arange(8) * 2 * np.pi / 8
ring_centres = 2 * np.stack([np.cos(angles), np.sin(angles)], 1)
steps_shown = sorted({1, RING_STEPS // 20, RING_STEPS // 4, RING_STEPS})
ring_runs, ring_shots = {}, {}
for loss in LOSSES:
    callback, ring_shots[loss] = snapshots(steps_shown, -3.0, 3.0)
    ring_runs[loss] = gankit.fit(loss=loss, overrides=RING, steps=RING_STEPS,
                                 out=OUT / f"ring-{loss}", force=True, evaluate=False,
                                 callbacks=callback)

fig, axes = plt.subplots(3, len(steps_shown), figsize=(3 * len(steps_shown), 9.3))
for row, loss in zip(axes, LOSSES):
    for ax, step in zip(row, steps_shown):
        draw(ax, *ring_shots[loss][step], ring_centres, -3.0, 3.0, f"step {step}")
    row[0].set_ylabel(TITLES[loss])
fig.suptitle("samples (black) over D(x): blue = D says real, red = D says fake")
fig.tight_layout()
plt.show()

# %% [markdown]
# The training log of each run (`metrics.jsonl` in its run folder) has D's mean output on real
# and on generated points. As G improves, the two move towards ½, D's value at the equilibrium.

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.6), sharey=True)
for ax, loss in zip(axes, LOSSES):
    log = read_log(ring_runs[loss])
    ax.plot(log["step"], log["d_real"], color="k", label="mean D(x), real")
    ax.plot(log["step"], log["d_fake"], color=LOSSES[loss], label="mean D(G(z)), generated")
    ax.axhline(0.5, color="grey", ls=":")
    ax.set(title=TITLES[loss], xlabel="generator step", ylim=(0, 1))
    ax.legend(fontsize=8)
plt.show()

print("PacGAN's mode metrics and the exact W1, on 1,000 samples:")
print(f"{'loss':14s} {'modes':>5s} {'HQ %':>6s} {'reverse KL':>10s} {'W1':>6s}")
ring_metrics = {}
for loss, run in ring_runs.items():
    m = ring_metrics[loss] = run.evaluate()
    print(f"{loss:14s} {m['modes']:5.0f} {100 * m['hq_fraction']:6.1f} {m['reverse_kl']:10.3f} "
          f"{m['w1']:6.3f}")

# %% [markdown]
# **Checks.** At the default length the non-saturating run has found every mode, and D is close
# to the equilibrium of the lectures: about ½ on real and on generated points alike (the last
# logging interval's means). The quick mode is too short for this and skips it.

# %%
if QUICK:
    print("quick mode: the equilibrium checks need the default length; skipped")
else:
    last = {k: v[-1] for k, v in read_log(ring_runs["nonsaturating"]).items()}
    check("non-saturating: modes recovered (of 8)", ring_metrics["nonsaturating"]["modes"], 8,
          at_most=False)
    check("non-saturating: |mean D(x) − ½| at the end", abs(last["d_real"] - 0.5), 0.15)
    check("non-saturating: |mean D(G(z)) − ½| at the end", abs(last["d_fake"] - 0.5), 0.15)

# %% [markdown]
# ## Part 3 · When D wins early: a generator that starts far away
#
# Now the situation the lectures warn about. The data are four modes around (5, 5); G starts near
# the origin, so its first samples are easy to reject; and D is the stronger player: k = 5 D steps
# per G step and a 10× larger learning rate (2e-3 against 2e-4). We follow the exact
# 1-Wasserstein distance between 500 generated and 500 real points (gankit.metrics) and D's mean
# output on the generated points.

# %%
far_means = np.array([[4.0, 4.0], [4.0, 6.0], [6.0, 4.0], [6.0, 6.0]])
FAR = {"data.name": "mixture", "data.means": far_means.tolist(), "data.std": 0.1,
       "data.n_train": 20_000, "model.g_width": 64, "model.g_depth": 2, "model.d_width": 64,
       "model.d_depth": 2, "prior.dim": 2, "train.batch_size": 128, "train.k": 5,
       "train.lr_g": 2e-4, "train.lr_d": 2e-3, "train.seed": SEED, "train.log_every": 50}
rng = np.random.default_rng(0)
far_real = far_means[rng.integers(0, 4, 500)] + 0.1 * rng.standard_normal((500, 2))


def distance_trace(every: int):
    """A callback recording (step, W1 to the data, mean D(G(z))) every `every` steps."""
    trace = []

    def record(trainer):
        if trainer.step % every == 0:
            fake = trainer.sample(500, seed=1)
            trace.append((trainer.step, wasserstein1(fake, far_real),
                          float(trainer.discriminate(fake).mean())))

    return record, trace


far_traces, far_shots = {}, {}
far_steps_shown = sorted({1, FAR_STEPS // 5, FAR_STEPS // 2, FAR_STEPS})
for loss in LOSSES:
    trace_cb, far_traces[loss] = distance_trace(every=25)
    shot_cb, far_shots[loss] = snapshots(far_steps_shown, -1.5, 7.5)
    gankit.fit(loss=loss, overrides=FAR, steps=FAR_STEPS, evaluate=False,
               callbacks=[trace_cb, shot_cb])

fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
for loss, colour in LOSSES.items():
    steps, w1, d_fake = np.array(far_traces[loss]).T
    axes[0].plot(steps, w1, color=colour, label=TITLES[loss])
    axes[1].plot(steps, d_fake, color=colour, label=TITLES[loss])
axes[0].set(xlabel="generator step", ylabel="W1(generated, real)", title="distance to the data")
axes[1].set(xlabel="generator step", ylabel="mean D(G(z))", yscale="symlog",
            title="how real D finds the fakes", ylim=(0, 1))
axes[1].set_yscale("symlog", linthresh=1e-3)
for ax in axes:
    ax.legend(fontsize=8)
plt.show()

fig, axes = plt.subplots(3, len(far_steps_shown), figsize=(3 * len(far_steps_shown), 9.3))
for row, loss in zip(axes, LOSSES):
    for ax, step in zip(row, far_steps_shown):
        draw(ax, *far_shots[loss][step], far_means, -1.5, 7.5, f"step {step}")
    row[0].set_ylabel(TITLES[loss])
fig.tight_layout()
plt.show()

# %% [markdown]
# **Checks.** At step 200 (the end of the quick mode) the non-saturating generator has reached
# the data, while the minimax and maximum-likelihood ones have hardly moved: D rejects their
# samples ($D(G(z)) \approx 0$), and both losses have a gradient proportional to $D(G(z))$.

# %%
w1_at = {loss: dict((int(s), w) for s, w, _ in far_traces[loss])[200] for loss in LOSSES}
start = far_traces["minimax"][0][1]
print(f"W1 at step 25: {start:.2f};  at step 200:",
      ", ".join(f"{k} {v:.2f}" for k, v in w1_at.items()))
check("non-saturating: W1 to the data at step 200", w1_at["nonsaturating"], 3.0)
check("minimax: W1 to the data at step 200 (stalled)", w1_at["minimax"], 6.0, at_most=False)
check("maximum likelihood: W1 to the data at step 200 (stalled)", w1_at["ml"], 6.0,
      at_most=False)

# %% [markdown]
# What happens next, at the default length: the minimax generator does get going — once its
# samples drift close enough that D is no longer sure, $D(G(z))$ rises and so does the gradient —
# but hundreds of steps later. The maximum-likelihood generator, whose gradient
# $D/(1-D)$ vanishes even faster, stays stuck. Its loss is the right one only with a D that is
# near $D^*$ *and* a p_g that overlaps p_data: then $D/(1 - D) = p_\text{data}/p_g$ (notebook 1).
# The non-saturating loss reaches the data first, but it is not the end of the story either:
# watch how many of the four modes each generator covers in the last column. Notebook 4 is about
# that: mode collapse.
