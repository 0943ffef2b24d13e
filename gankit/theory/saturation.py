"""Check 3, saturation (seeds 000, 001): early in training, when D rejects the fakes, the minimax
generator loss log(1 - D(G(z))) gives G almost no gradient; -log D(G(z)) does.

Per sample, with the logit a = σ⁻¹(D):   d/da log(1 - D) = -D,   d/da[-log D] = -(1 - D),
d/da[-D/(1 - D)] = -D/(1 - D).  At D(G(z)) → 0 the minimax and maximum-likelihood gradients
vanish like D, the non-saturating one tends to -1. We check these derivatives of gankit's own
loss functions by autograd, then measure G's gradient norm early in real toy runs (the real
Trainer, Algorithm 1) that differ only in the generator objective.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.config import Config
from gankit.losses import generator_minimax, generator_ml, generator_nonsaturating
from gankit.theory.common import save_figure
from gankit.theory.result import CheckResult, at_least, at_most

KEY = "saturation"
OBJECTIVES = {"minimax": generator_minimax, "nonsaturating": generator_nonsaturating,
              "ml": generator_ml}
CLOSED_FORM = {  # d loss / d logit as a function of D
    "minimax": lambda d: -d,
    "nonsaturating": lambda d: -(1 - d),
    "ml": lambda d: -d / (1 - d),
}
LABELS = {"minimax": "minimax  log(1 - D)", "nonsaturating": "non-saturating  -log D",
          "ml": "maximum likelihood  -D/(1 - D)"}
COLOURS = {"minimax": "tab:red", "nonsaturating": "tab:blue", "ml": "tab:green"}


def loss_curves(d: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-sample loss and its autograd derivative w.r.t. the logit, at each value of D."""
    out = {}
    for name, fn in OBJECTIVES.items():
        a = torch.logit(torch.as_tensor(d, dtype=torch.float64)).requires_grad_(True)
        per_sample = torch.stack([fn(v.view(1)) for v in a])  # each loss on one logit
        per_sample.sum().backward()
        out[name] = (per_sample.detach().numpy(), a.grad.numpy())
    return out


def toy_config(loss: str, steps: int) -> Config:
    """A toy run where G starts far from the data and D is the stronger player (k = 5, lr 10×):
    the situation 'early in learning' that Goodfellow et al. (2014) describe."""
    return Config.from_dict({
        "description": f"saturation check, {loss}",
        "data": {"name": "mixture", "means": [[4.0, 4.0], [4.0, 6.0], [6.0, 4.0], [6.0, 6.0]],
                 "std": 0.1, "n_train": 4096},
        "prior": {"dim": 2},
        "model": {"g_width": 64, "g_depth": 2, "d_width": 64, "d_depth": 2},
        "train": {"steps": steps, "batch_size": 128, "loss": loss, "k": 5, "lr_g": 2e-4,
                  "lr_d": 2e-3, "log_every": 5, "seed": 0, "device": "cpu"},
        "eval": {"metrics": []},
    })


def early_run(loss: str, steps: int) -> list[dict]:
    """The Trainer's log records (every 5 steps) of a short real run with this objective."""
    from gankit.tasks import build_task
    from gankit.train.loop import Trainer

    cfg = toy_config(loss, steps)
    trainer = Trainer(cfg, build_task(cfg), None)
    records: list[dict] = []
    trainer.fit(steps, lambda t: records.append(dict(t.last_record))
                if t.step % cfg.train.log_every == 0 else None)
    return records


def run(out: Path, quick: bool = False) -> CheckResult:
    steps = 60 if quick else 150
    res = CheckResult(KEY, "log(1 - D(G(z))) saturates; -log D(G(z)) does not",
                      "seeds 000 and 001")
    d = np.logspace(-4, np.log10(1 - 1e-4), 200)
    curves = loss_curves(d)
    for name, (_, grad) in curves.items():
        err = float(np.max(np.abs(grad - CLOSED_FORM[name](d)) / np.abs(CLOSED_FORM[name](d))))
        res.criteria.append(at_most(
            f"{name}: autograd vs closed-form dJ/da (max rel. err)", err, 1e-9,
            "float64 autograd of gankit.losses vs the formula; only rounding separates them"))
        res.numbers[f"{name}_grad_at_D=1e-3"] = float(CLOSED_FORM[name](1e-3))
    runs = {name: early_run(name, steps) for name in OBJECTIVES}
    # Compare the runs once D has taken over (from step 20): gradient norms per logged step.
    early = {name: np.array([r["grad_norm_g"] for r in recs if r["step"] >= 20])
             for name, recs in runs.items()}
    d_fake = {name: np.array([r["d_fake"] for r in recs if r["step"] >= 20])
              for name, recs in runs.items()}
    ratio_mm = float(np.median(early["nonsaturating"] / early["minimax"]))
    ratio_ml = float(np.median(early["nonsaturating"] / early["ml"]))
    why = ("G's gradient scales with D(G(z)) (< 0.01 here) under minimax and ML, with "
           "1 - D(G(z)) under non-saturating: expect ~100×; 10× is the bar")
    res.criteria.append(at_most("minimax run: median D(G(z)) from step 20",
                                float(np.median(d_fake["minimax"])), 0.05,
                                "the run must be in the saturated regime of "
                                "Goodfellow et al. 2014"))
    res.criteria.append(at_least("median |∇G| non-saturating / minimax", ratio_mm, 10.0, why))
    res.criteria.append(at_least("median |∇G| non-saturating / ML", ratio_ml, 10.0, why))
    res.numbers["toy_run"] = {
        "config": "4 modes at (4..6, 4..6), std 0.1; MLP 2x64; k = 5; lr_g 2e-4, lr_d 2e-3; "
                  f"batch 128; {steps} steps; seed 0",
        **{f"median_grad_norm_g_{n}": float(np.median(v)) for n, v in early.items()},
        **{f"final_d_fake_{n}": runs[n][-1]["d_fake"] for n in runs},
        "ratio_nonsaturating_over_minimax": ratio_mm,
        "ratio_nonsaturating_over_ml": ratio_ml,
    }
    res.headline = (f"early |∇G|: minimax {np.median(early['minimax']):.1e}, "
                    f"non-sat. {np.median(early['nonsaturating']):.1e}, "
                    f"ML {np.median(early['ml']):.1e}")
    res.figure = draw(out / f"{KEY}.png", d, curves, runs)
    return res


def draw(path: Path, d: np.ndarray, curves: dict, runs: dict[str, list[dict]]) -> str:
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (Agg backend)

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for name, (loss, grad) in curves.items():
        axes[0].plot(d, loss, color=COLOURS[name], label=LABELS[name])
        axes[1].plot(d, np.abs(grad), color=COLOURS[name], label=LABELS[name])
    axes[0].set_xscale("log")
    axes[0].set_ylim(-10, 10)
    axes[0].set_xlabel("D(G(z))")
    axes[0].set_ylabel("generator loss J(G)")
    axes[0].set_title("the three generator objectives")
    axes[0].legend(fontsize=7)
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("D(G(z))")
    axes[1].set_ylabel("|dJ/da|, a = logit of D")
    axes[1].set_title("gradient w.r.t. the logit (autograd)")
    axes[1].axvspan(d[0], 1e-2, color="grey", alpha=0.15, lw=0)
    axes[1].text(2e-4, 2e-3, "early training:\nD rejects fakes", fontsize=8)
    ax = axes[2]
    for name, recs in runs.items():
        steps = [r["step"] for r in recs]
        ax.plot(steps, [r["grad_norm_g"] for r in recs], color=COLOURS[name],
                label=name + (" (on top of minimax)" if name == "ml" else ""))
    ax.set_yscale("log")
    ax.set_xlabel("generator step")
    ax.set_ylabel("‖∇θ_G J(G)‖")
    ax.set_title("real toy run (Trainer, k = 5): G's gradient norm")
    twin = ax.twinx()
    twin.plot([r["step"] for r in runs["minimax"]], [r["d_fake"] for r in runs["minimax"]],
              color="k", ls=":", lw=1, label="D(G(z)), minimax run")
    twin.set_ylim(0, 1)
    twin.set_ylabel("mean D(G(z))")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="center right")
    fig.tight_layout()
    return save_figure(fig, path)
