# %% [markdown]
# # 3 · Images: DCGAN and the Keras MNIST GAN
#
# **What this notebook teaches.** How the game of notebooks 1 and 2 is played on images: the
# design rules of the deep convolutional GAN (DCGAN), and the complete Keras MNIST GAN of the
# blog post "An Annotated Proof of Generative Adversarial Networks with Implementation Notes" —
# its networks, its uniform prior, its discriminator pretraining and its half-real, half-fake
# minibatches — both trained by gankit on the same images and compared at a CPU-friendly size.
#
# **Which lecture results it checks.**
#
# - *The DCGAN guidelines* of "Machine Learning I (DATS 6202) Generative Adversarial Network":
#   strided (transposed) convolutions instead of pooling, batch normalisation except at G's output
#   and D's input, no fully connected hidden layers, ReLU in G with a tanh output, LeakyReLU in D —
#   checked layer by layer on gankit's DCGAN networks, and compared with the Keras recipe.
# - *The Keras networks as printed in the implementation notes*: the model summary's parameter
#   counts, and the notes' 2-way softmax discriminator being the same classifier as one logit.
# - *The notes' pretraining step*: one epoch on real and generated images teaches D to tell
#   them apart before the game starts.
#
# **Data.** The first of Fashion-MNIST, MNIST and scikit-learn's 8×8 digits (upscaled to 28×28)
# that this machine has, without downloading anything: `gankit data list` shows which are there;
# `sudo apt-get install dataset-fashion-mnist` or `gankit data fetch mnist` adds one.
#
# **Time.** About 3 minutes on a laptop CPU (and half a minute more the first time on the 8×8
# digits, whose quality-metric network gankit trains once); `GANKIT_NOTEBOOK_QUICK=1` trains for
# a handful of steps, to check that every cell runs.

# %% tags=["parameters"]
import os
import tempfile
from pathlib import Path

QUICK = os.environ.get("GANKIT_NOTEBOOK_QUICK") == "1"  # the cheap mode the tests run

DATA = os.environ.get("GANKIT_NOTEBOOK_DATA", "auto")  # fashion-mnist, mnist, digits, or auto
DCGAN_STEPS = 20 if QUICK else 1000
KERAS_STEPS = 10 if QUICK else 300
KERAS_PRETRAIN = 1024 if QUICK else 2000  # the notes: 10,000 real + 10,000 generated images
KERAS_WIDTHS = (64, 64)  # G's and D's width; the notes' are 200 and 256 (preset keras-mnist)
DCGAN_WIDTH = 32  # the preset's is 64
EVALUATE = not QUICK  # Fréchet distance in a domain classifier's features (part 4)
OUT = Path(tempfile.mkdtemp(prefix="gankit-notebook-3-"))  # run folders; set your own to keep them

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import gankit

plt.rcParams.update({"figure.dpi": 90})


def check(what: str, measured: float, bound: float, at_most: bool = True) -> None:
    """Print a lecture result's check; stop the notebook if it does not hold."""
    holds = measured <= bound if at_most else measured >= bound
    print(f"{'✓' if holds else '✗'} {what}: {measured:.6g} {'≤' if at_most else '≥'} {bound:.6g}")
    assert holds, f"{what} does not hold"


def show_grid(ax, images, title="", rows=4):
    """A grid of single-channel images (n, 1, H, W) in [0, 1] or [-1, 1]."""
    x = images.detach().float().cpu()
    x = (x + 1) / 2 if x.min() < 0 else x
    n, _, h, w = x.shape
    cols = n // rows
    tiles = x[: rows * cols, 0].reshape(rows, cols, h, w).permute(0, 2, 1, 3).reshape(rows * h, -1)
    ax.imshow(tiles.clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[], title=title)


def read_log(run) -> dict[str, np.ndarray]:
    """The run folder's training log (metrics.jsonl), one array per column."""
    rows = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


if DATA == "auto":  # a data set registry says where each set's files are on this machine
    DATA = next(name for name in ("fashion-mnist", "mnist", "digits")
                if gankit.DATASETS.info(name)["files"](None))
print("data:", DATA)
EVAL = {"eval.metrics": ["fd_classifier", "classes_present"], "eval.n_samples": 1000}

# %% [markdown]
# ## Part 1 · The networks, layer by layer
#
# The DCGAN recipe (Radford, Metz and Chintala) and the Keras recipe of the implementation notes
# as gankit builds them (`gankit.GENERATORS` and `gankit.DISCRIMINATORS` map an architecture name
# to a builder). First, the guidelines of the lecture, checked on the modules themselves:

# %%
def layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if not list(m.children())]


def guidelines(G: nn.Module, D: nn.Module) -> dict[str, bool]:
    """The DCGAN guidelines of the lecture, as facts about two networks' layers."""
    g, d = layers(G), layers(D)
    convs = (nn.Conv2d, nn.ConvTranspose2d)
    g_convs = [i for i, m in enumerate(g) if isinstance(m, convs)]
    d_convs = [i for i, m in enumerate(d) if isinstance(m, convs)]
    return {
        "no pooling: strided convolutions in D, transposed ones in G":
            not any(isinstance(m, nn.MaxPool2d | nn.AvgPool2d) for m in g + d)
            and any(m.stride[0] > 1 for m in d if isinstance(m, nn.Conv2d))
            and any(isinstance(m, nn.ConvTranspose2d) for m in g),
        "batch norm in both, not at G's output nor D's input":
            any(isinstance(m, nn.BatchNorm2d) for m in g)
            and any(isinstance(m, nn.BatchNorm2d) for m in d)
            and not any(isinstance(m, nn.BatchNorm2d) for m in g[g_convs[-1]:])
            and not isinstance(d[d_convs[0] + 1], nn.BatchNorm2d),
        "no fully connected hidden layers": not any(isinstance(m, nn.Linear) for m in g + d),
        "ReLU in G, tanh at its output":
            any(isinstance(m, nn.ReLU) for m in g) and isinstance(g[-1], nn.Tanh),
        "LeakyReLU in D": any(isinstance(m, nn.LeakyReLU) for m in d)
            and not any(isinstance(m, nn.ReLU) for m in d),
    }


shape = (1, 28, 28)
recipes = {"dcgan": gankit.load_config("fashion-dcgan"),
           "keras-mnist": gankit.load_config("keras-mnist")}
nets = {name: (gankit.GENERATORS[name](cfg, shape), gankit.DISCRIMINATORS[name](cfg, shape))
        for name, cfg in recipes.items()}
table = {name: guidelines(G, D) for name, (G, D) in nets.items()}
print(f"{'DCGAN guideline':62s} {'dcgan':>6s} {'keras-mnist':>12s}")
for rule in table["dcgan"]:
    print(f"{rule:62s} {'yes' if table['dcgan'][rule] else 'no':>6s} "
          f"{'yes' if table['keras-mnist'][rule] else 'no':>12s}")
check("guidelines gankit's DCGAN networks break", sum(not v for v in table["dcgan"].values()), 0)

# %% [markdown]
# The Keras recipe breaks three of them on purpose: it has dense layers (G starts with
# Dense(200·7·7), D ends with Dense(256)), uses dropout instead of batch norm in D, and ends G in
# a sigmoid for images in [0, 1]. Its sizes are those of the notes' model summary, which lists G
# with 1,586,351 weights of which 1,566,401 trainable (the rest are batch norm's moving averages,
# which PyTorch keeps as buffers) and D with 9,707,266 — including the 257 weights of the second
# output of its `Dense(2)` + softmax, which gankit replaces by a single logit:

# %%
G, D = nets["keras-mnist"]
trainable_g = sum(p.numel() for p in G.parameters())
moving_stats = sum(b.numel() for name, b in G.named_buffers() if name.endswith(("mean", "var")))
check("G's trainable weights − the notes' 1,566,401", abs(trainable_g - 1_566_401), 0)
check("G's weights + moving averages − the notes' 1,586,351",
      abs(trainable_g + moving_stats - 1_586_351), 0)
check("D's weights − (the notes' 9,707,266 − 257)",
      abs(sum(p.numel() for p in D.parameters()) - (9_707_266 - 257)), 0)

# %% [markdown]
# Why one logit is the same classifier as the notes' two softmax outputs: with outputs
# $(a_0, a_1)$, $\mathrm{softmax}(a)_1 = e^{a_1} / (e^{a_0} + e^{a_1}) = \sigma(a_1 - a_0)$, and the
# 2-class cross-entropy is the binary cross-entropy of the logit $a_1 - a_0$. Numerically:

# %%
a = 4 * torch.randn(10_000, 2, dtype=torch.float64)
label = torch.randint(0, 2, (10_000,))
softmax_ce = nn.functional.cross_entropy(a, label, reduction="none")
logit_bce = nn.functional.binary_cross_entropy_with_logits(a[:, 1] - a[:, 0], label.double(),
                                                           reduction="none")
check("max |softmax(a)₁ − σ(a₁ − a₀)|",
      (torch.softmax(a, 1)[:, 1] - torch.sigmoid(a[:, 1] - a[:, 0])).abs().max().item(), 1e-12)
check("max |2-class cross-entropy − BCE of the logit|",
      (softmax_ce - logit_bce).abs().max().item(), 1e-12)

# %% [markdown]
# ## Part 2 · DCGAN
#
# The preset `fashion-dcgan` (or `mnist-dcgan`) is the DCGAN recipe: N(0, I) prior, Adam with
# step 2e-4 and β₁ = 0.5, batch 128, the non-saturating loss, images scaled to [−1, 1] for G's
# tanh. For a laptop we halve the widths and the batch. A callback keeps an 8×4 grid of samples
# from the same fixed noise as training goes.

# %%
def fixed_noise_grids(at_steps, n=32):
    """A callback keeping samples from one fixed latent draw at the given steps."""
    grids = {}

    def record(trainer):
        if trainer.step in at_steps:
            grids[trainer.step] = trainer.sample(n, seed=7)

    return record, grids


dcgan_shown = sorted({1, DCGAN_STEPS // 10, DCGAN_STEPS // 3, DCGAN_STEPS})
record, dcgan_grids = fixed_noise_grids(dcgan_shown)
preset = "mnist-dcgan" if DATA == "mnist" else "fashion-dcgan"
started = time.perf_counter()
dcgan = gankit.fit(config=preset, data=DATA, steps=DCGAN_STEPS, out=OUT / "dcgan", force=True,
                   evaluate=False, callbacks=record,
                   overrides={"model.g_width": DCGAN_WIDTH, "model.d_width": DCGAN_WIDTH,
                              "train.batch_size": 64, "train.log_every": 10,
                              "train.frame_every": max(DCGAN_STEPS // 10, 1), **EVAL})
dcgan_seconds = time.perf_counter() - started
print(f"{dcgan}: {dcgan_seconds:.0f} s, {dcgan_seconds / DCGAN_STEPS:.2f} s per step")

fig, axes = plt.subplots(1, len(dcgan_shown), figsize=(4 * len(dcgan_shown), 2.6))
for ax, step in zip(axes, dcgan_shown):
    show_grid(ax, dcgan_grids[step], f"DCGAN, step {step}")
plt.show()

# %% [markdown]
# Every run is a folder (`run.run_dir`): the config, a checkpoint to resume from, the training
# log, and, after `run.render()`, pictures — among them `real.png`, real test images to compare
# with.

# %%
dcgan.render()
log = read_log(dcgan)
fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
axes[0].imshow(plt.imread(dcgan.run_dir / "real.png"), cmap="gray")
axes[0].set(xticks=[], yticks=[], title=f"real images ({DATA})")
axes[1].plot(log["step"], log["d_loss"], "r", label="D loss")
axes[1].plot(log["step"], log["g_loss"], "b", label="G loss (non-saturating)")
axes[1].set(xlabel="generator step", title="losses")
axes[2].plot(log["step"], log["d_real"], "k", label="mean D(x), real")
axes[2].plot(log["step"], log["d_fake"], "b", label="mean D(G(z))")
axes[2].set(xlabel="generator step", ylim=(0, 1), title="D's outputs")
for ax in axes[1:]:
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Part 3 · The Keras MNIST GAN of the implementation notes
#
# The preset `keras-mnist` (or `keras-fashion`) is the notes' recipe: uniform prior on
# $[-1, 1]^{100}$, Keras' Adam defaults with steps 2e-4 (G) and 1e-4 (D), 32 real + 32 generated
# images per D step, G's sigmoid output with images in [0, 1], and first **one epoch of D on real
# and generated images** before the game. gankit trains G through a frozen D on the "real" label,
# which is what the notes' adversarial model `Sequential([gen, dsc])` with
# `layer.trainable = False` does: the non-saturating loss. Here at a quarter of the width and with
# a shorter pretraining, so that it runs in about the DCGAN's time.

# %%
keras_preset = "keras-mnist" if DATA == "mnist" else "keras-fashion"
keras_shown = sorted({1, KERAS_STEPS // 3, KERAS_STEPS})
record, keras_grids = fixed_noise_grids(keras_shown)
started = time.perf_counter()
keras = gankit.fit(config=keras_preset, data=DATA, steps=KERAS_STEPS, out=OUT / "keras",
                   force=True, evaluate=False, callbacks=record,
                   overrides={"model.g_width": KERAS_WIDTHS[0], "model.d_width": KERAS_WIDTHS[1],
                              "train.pretrain_d_samples": KERAS_PRETRAIN, "train.log_every": 10,
                              "train.frame_every": max(KERAS_STEPS // 10, 1), **EVAL})
keras_seconds = time.perf_counter() - started
print(f"{keras}: {keras_seconds:.0f} s, pretraining included")

pretrain = json.loads((keras.run_dir / "pretrain.json").read_text())
print("pretraining:", pretrain)
check("D's accuracy over its pretraining epoch (real vs the untrained G's images)",
      pretrain["pretrain_d_accuracy"], 0.9, at_most=False)

# %% [markdown]
# `run.render()` also redraws the notes' own two figures from the run: the 3×8 "Generated
# Images" grid and the "Loss" plot (Discriminator vs Adversarial).

# %%
keras.render()
fig, axes = plt.subplots(1, 2, figsize=(15, 3.4), gridspec_kw={"width_ratios": [1.4, 1]})
for ax, name in zip(axes, ["keras_grid.png", "keras_loss.png"]):
    ax.imshow(plt.imread(keras.run_dir / name))
    ax.set(xticks=[], yticks=[])
    ax.axis("off")
plt.show()

fig, axes = plt.subplots(1, len(keras_shown), figsize=(4 * len(keras_shown), 2.6))
for ax, step in zip(axes, keras_shown):
    show_grid(ax, keras_grids[step], f"Keras recipe, step {step}")
plt.show()

# %% [markdown]
# ## Part 4 · Side by side
#
# The same fixed noise through both final generators. With `EVALUATE` on (the default), both are
# also scored by the Fréchet distance between generated and real images in the features of a
# classifier trained on the data set (`fd_classifier`, lower is better; `classes_present`: how
# many of the 10 classes the classifier finds among the samples).

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
show_grid(axes[0], dcgan.sample(32, seed=7),
          f"DCGAN, {DCGAN_STEPS} steps, {dcgan_seconds:.0f} s")
show_grid(axes[1], keras.sample(32, seed=7),
          f"Keras recipe, {KERAS_STEPS} steps, {keras_seconds:.0f} s")
plt.show()

if EVALUATE:
    print(f"{'recipe':14s} {'fd_classifier':>14s} {'classes_present':>16s}  (1,000 samples)")
    scores = {}
    for name, run in [("DCGAN", dcgan), ("Keras recipe", keras)]:
        m = scores[name] = run.evaluate()
        print(f"{name:14s} {m['fd_classifier']:14.1f} {m['classes_present']:16.0f}")
    check("fd_classifier: DCGAN − Keras recipe (DCGAN ahead at equal time)",
          scores["DCGAN"]["fd_classifier"] - scores["Keras recipe"]["fd_classifier"], 0.0)
    d_fake = {name: float(np.median(read_log(run)["d_fake"])) for name, run in
              [("DCGAN", dcgan), ("Keras recipe", keras)]}
    print("median over the training log of mean D(G(z)):", d_fake)
    check("median D(G(z)): Keras recipe − DCGAN (its D rejects the fakes more)",
          d_fake["Keras recipe"] - d_fake["DCGAN"], 0.0)

# %% [markdown]
# At this budget DCGAN is far ahead: its small networks make many more steps in the same time,
# while the Keras recipe's D — dense layers, dropout, trained first on its own — starts the game
# as the stronger player (its D(G(z)) stays lower than DCGAN's), the situation of notebook 2's
# part 3. How the full recipe fares over its 10,000 steps, and at full width, is measured in
# gankit's documentation on images (`docs/images.md`), with the command that produced each number.
