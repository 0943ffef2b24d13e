# %% [markdown]
# # 6 · Bring your own networks, data and loss
#
# **What this notebook teaches.** How to use gankit from Python for a GAN of your own: your
# `nn.Module`s for G and D, your data as a tensor, your loss written the way the lectures write
# it — and still get everything the command line gives (run folders, checkpoints, exact resume,
# metrics, pictures). Then how to give your pieces *names* (`gankit.register_arch`,
# `register_dataset`, `register_metric`), so a configuration can use them like the built-in ones.
#
# **Which lecture result it checks.** The lectures write both players' objectives as binary
# cross-entropy ("Generative Adversarial Networks: From Theory to Practice"): maximising V over
# D *is* minimising D's BCE with labels real = 1, fake = 0, and the non-saturating generator
# loss $-\log D(G(z))$ *is* G's BCE with the label 1. We write the loss exactly that way, as a
# `gankit.Objective`, and check that training with it matches gankit's built-in
# `nonsaturating` loss. Along the way we check gankit's own promises: a stopped run resumed from
# its checkpoint ends bit for bit where an uninterrupted run ends, and a run folder reopened with
# `gankit.open_run` samples exactly what the run did.
#
# **Time.** About a minute on a laptop CPU; `GANKIT_NOTEBOOK_QUICK=1` runs the same cells with
# fewer steps in a few seconds.

# %% tags=["parameters"]
import os
import tempfile
from pathlib import Path

QUICK = os.environ.get("GANKIT_NOTEBOOK_QUICK") == "1"  # the cheap mode the tests run

STEPS = 150 if QUICK else 3000  # generator steps of the main run
SHORT = 50 if QUICK else 300  # steps of the comparison and resume runs
OUT = Path(tempfile.mkdtemp(prefix="gankit-notebook-6-"))  # run folders; set your own to keep them

# %%
import json
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.nn.functional import binary_cross_entropy_with_logits

import gankit
from gankit.metrics.wasserstein import wasserstein1

plt.rcParams.update({"figure.dpi": 90})


def check(what: str, measured: float, bound: float, at_most: bool = True) -> None:
    """Print a result's check; stop the notebook if it does not hold."""
    holds = measured <= bound if at_most else measured >= bound
    print(f"{'✓' if holds else '✗'} {what}: {measured:.3g} {'≤' if at_most else '≥'} {bound:.3g}")
    assert holds, f"{what} does not hold"


# %% [markdown]
# ## Part 1 · Your data and your networks
#
# Data are any tensor of shape `(n, *sample_shape)`: here 20,000 points on a two-armed spiral.
# G maps a latent batch `(batch, prior.dim)` to samples; D maps samples to **one logit per
# sample** — no sigmoid at the end: every gankit loss is written on logits, which keeps it exact.

# %%
def spiral(n: int, seed: int = 0) -> torch.Tensor:
    """Two interleaved spiral arms with a little noise."""
    g = torch.Generator().manual_seed(seed)
    t = 0.5 + 2.5 * torch.rand(n, generator=g)
    arm = torch.randint(0, 2, (n,), generator=g) * math.pi
    points = torch.stack([t * torch.cos(2 * t + arm), t * torch.sin(2 * t + arm)], 1)
    return points + 0.06 * torch.randn(n, 2, generator=g)


class Generator(nn.Module):
    def __init__(self, z_dim: int = 4, width: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU(), nn.Linear(width, width),
                                 nn.ReLU(), nn.Linear(width, 2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, width: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, width), nn.LeakyReLU(0.2),
                                 nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # one logit per sample


def fresh_nets(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """The same initial G and D every time: the comparisons below start from equal weights."""
    torch.manual_seed(seed)
    return Generator(), Discriminator()


data = spiral(20_000)
plt.figure(figsize=(4, 4))
plt.scatter(*data[:2000].T, s=1, c="k")
plt.gca().set(aspect="equal", title="the data: 2,000 of 20,000 points")
plt.show()

# %% [markdown]
# ## Part 2 · `gankit.fit`
#
# One call trains. `overrides` are the same dotted keys as on the command line; `out` is the run
# folder (`None`: train in memory). With your own data, the default metric is `w1`, the exact
# 1-Wasserstein distance between generated and real samples. A *callback* is any function of the
# trainer, called after every step; here it records W1 as training goes.

# %%
real_eval = data[torch.randperm(len(data), generator=torch.Generator().manual_seed(1))[:500]]
OPTIONS = {"prior.dim": 4, "train.batch_size": 128, "train.lr_g": 1e-3, "train.lr_d": 1e-3,
           "train.log_every": 50, "eval.n_samples": 1000}


def w1_every(n_steps: int, trace: list):
    def record(trainer):
        if trainer.step % n_steps == 0:
            trace.append((trainer.step, wasserstein1(trainer.sample(500, seed=2), real_eval)))
    return record


trace: list = []
G, D = fresh_nets()
run = gankit.fit(G, D, data, loss="nonsaturating", steps=STEPS, overrides=OPTIONS,
                 out=OUT / "spiral", force=True, callbacks=w1_every(max(STEPS // 30, 1), trace))
print(run, "\nmetrics:", run.metrics)
print("the run folder:", sorted(p.name for p in run.run_dir.iterdir()))

lim, cells = 3.5, 120
axis = np.linspace(-lim, lim, cells)
grid = torch.tensor(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2), dtype=torch.float32)
with torch.no_grad():
    d_of_x = torch.sigmoid(run.D(grid)).numpy().reshape(cells, cells)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
axes[0].imshow(d_of_x, origin="lower", extent=(-lim, lim, -lim, lim), cmap="RdBu", vmin=0, vmax=1)
axes[0].scatter(*run.sample(2000).T, s=1, c="k")
axes[0].set(title="2,000 samples over D(x) (blue: 'real')", xticks=[], yticks=[],
            xlim=(-lim, lim), ylim=(-lim, lim))
axes[1].plot(*np.array(trace).T, "b.-")
axes[1].set(xlabel="generator step", ylabel="W1(500 samples, 500 real points)",
            title="a callback's record")
plt.show()

# %% [markdown]
# ## Part 3 · The loss as the lectures write it
#
# "Maximising V(D, G) w.r.t. D is equivalent to minimising BCE": real points get the label 1,
# generated ones 0. And "minimising −log D(G(z)) w.r.t. G is equivalent to minimising BCE" with
# the label 1 on generated points. A `gankit.Objective` takes the two losses, both called with
# D's outputs on a real and a generated batch, `(real_out, fake_out)`.

# %%
def d_bce(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    return (binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))
            + binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))


def g_bce(real_out: torch.Tensor | None, fake_out: torch.Tensor) -> torch.Tensor:
    return binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))


lecture_loss = gankit.Objective(d_bce, g_bce)
builtin = gankit.LOSSES["nonsaturating"]
logits = 10 * torch.randn(2, 100_000)
check("|D's BCE − gankit's D loss| on random logits",
      (d_bce(*logits) - builtin.d_loss(*logits)).abs().item(), 1e-5)
check("|G's BCE with label 1 − gankit's non-saturating G loss|",
      (g_bce(None, logits[1]) - builtin.g_loss(None, logits[1])).abs().item(), 1e-5)

# the gradients both players get from the two versions, on one real and one generated batch
G, D = fresh_nets()
real, z = data[:256], torch.randn(256, 4)
grads = {}
for name, objective in (("lecture", lecture_loss), ("gankit", builtin)):
    fake = G(z)
    d_grads = torch.autograd.grad(objective.d_loss(D(real), D(fake.detach())), D.parameters())
    g_grads = torch.autograd.grad(objective.g_loss(None, D(fake)), G.parameters())
    grads[name] = torch.cat([g.ravel() for g in d_grads + g_grads])
check("max |gradient difference| / max |gradient|, both players",
      ((grads["lecture"] - grads["gankit"]).abs().max() / grads["gankit"].abs().max()).item(),
      1e-6)

short = {**OPTIONS, "train.log_every": 10}
difference = {}
for steps in (10, SHORT):
    ours = gankit.fit(*fresh_nets(), data, loss=lecture_loss, steps=steps, overrides=short,
                      evaluate=False)
    theirs = gankit.fit(*fresh_nets(), data, loss="nonsaturating", steps=steps, overrides=short,
                        evaluate=False)
    difference[steps] = (ours.sample(1000) - theirs.sample(1000)).abs().max().item()
    print(f"trained {steps} steps from the same start: max |sample difference| "
          f"{difference[steps]:.2g}")
check("after 10 steps: max |sample difference|", difference[10], 1e-4)

# %% [markdown]
# The two are the same function computed in a different order: equal losses and gradients up to
# float32 rounding. Training amplifies those last-digit differences step after step — a GAN's
# training is a chaotic dynamical system — so runs that agree after 10 steps drift apart slowly
# afterwards, as any two runs on different hardware would. A loss of your own that is *not* one of
# gankit's works the same way; `examples/own_loss.py` trains the relativistic GAN, whose G loss
# also needs D's outputs on real data (`gankit.Objective(d_loss, g_loss, g_uses_real=True)`).
#
# ## Part 4 · Stop, resume, reopen
#
# A callback may stop the run (`trainer.request_stop(reason)`); the run then writes a checkpoint
# and returns with `run.finished == False`, exactly as after Ctrl-C. `resume=True` continues from
# the checkpoint — pass the same kind of networks and the same data again (a checkpoint holds
# weights, never code). gankit promises that on a CPU the result is bit for bit that of a run
# that was never interrupted:

# %%
def stop_at(step: int):
    def stop(trainer):
        if trainer.step == step:
            trainer.request_stop(f"a callback at step {step}")
    return stop


whole = gankit.fit(*fresh_nets(), data, steps=2 * SHORT, overrides=short, out=OUT / "whole",
                   force=True, evaluate=False)
first = gankit.fit(*fresh_nets(), data, steps=2 * SHORT, overrides=short, out=OUT / "halves",
                   force=True, evaluate=False, callbacks=stop_at(SHORT))
print(first, "finished:", first.finished)
second = gankit.fit(*fresh_nets(seed=123), data, steps=2 * SHORT, overrides=short,
                    out=OUT / "halves", resume=True, evaluate=False)
print(second, "finished:", second.finished)
check("stopped + resumed vs uninterrupted: max |sample difference| (bit for bit: 0)",
      (whole.sample(1000) - second.sample(1000)).abs().max().item(), 0.0)


def log_of(run) -> list[dict]:
    return [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]


check("…and the training logs are identical (records that differ)",
      sum(a != b for a, b in zip(log_of(whole), log_of(second))), 0)

reopened = gankit.open_run(OUT / "spiral", G=Generator(), D=Discriminator(), data=data)
check("a run folder reopened with open_run: max |sample difference|",
      (reopened.sample(1000) - run.sample(1000)).abs().max().item(), 0.0)

# %% [markdown]
# ## Part 5 · Names for your pieces: registries
#
# A configuration names its parts: `model.g_arch = "mlp"`, `data.name = "ring"`,
# `eval.metrics = ["w1"]`. Register your own under a name and every configuration in this Python
# session can use them — with the same validation as the built-in names. An architecture is a
# *builder* `builder(cfg, sample_shape) -> nn.Module`, so it can read the config (here the
# latent size and the width); a data set is a loader of the data config; a metric is
# `fn(fake, real, task) -> float`.

# %%
gankit.register_arch("spiral-g", lambda cfg, shape: Generator(cfg.prior.dim, cfg.model.g_width),
                     role="generator")
gankit.register_arch("spiral-d", lambda cfg, shape: Discriminator(cfg.model.d_width),
                     role="discriminator")
gankit.register_dataset("spiral", lambda d: spiral(d.n_train))
gankit.register_metric("mean_radius_error",
                       lambda fake, real, task: float(abs(fake.norm(dim=1).mean()
                                                          - real.norm(dim=1).mean())),
                       higher_is_better=False)

named = {**OPTIONS, "model.g_arch": "spiral-g", "model.d_arch": "spiral-d",
         "model.g_width": 64, "model.d_width": 64, "data.name": "spiral", "data.n_train": 20_000,
         "eval.metrics": ["w1", "mean_radius_error"]}
cfg = gankit.load_config(None, named)
print("model:", cfg.model.g_arch, cfg.model.d_arch, "| data:", cfg.data.name,
      "| metrics:", cfg.eval.metrics)
by_name = gankit.fit(config=cfg, steps=SHORT, out=OUT / "by-name", force=True)
print(by_name, by_name.metrics)

try:  # a typo is caught before anything is built, with a suggestion
    gankit.load_config(None, {**named, "model.g_arch": "spiral-gg"})
except gankit.GankitError as e:
    print("GankitError:", e)

# %% [markdown]
# Names registered in Python live as long as the Python process. The command line reaches your
# code by import path instead, e.g. `gankit train toy-grid model.g_arch=mypkg.nets:build`; since
# such a config runs code when it is opened, `gankit resume/eval/sample` of that run folder ask
# for `--trust-code`. More in `docs/api.md`, and three scripts in `examples/`: your own 2-D nets,
# your own loss, your own convolutional nets on a folder of images.
