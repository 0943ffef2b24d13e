"""The lab's one door into gankit's training code: configs, the trainer, the loss registry and
run folders are used here and nowhere else in gankit.lab, through their most stable parts
(`Config` and the presets; the Trainer's `train_step`, `sample`, `discriminate`, `step`, `log`,
`save`; `gankit.run`'s render and the run-folder functions). When those internals change,
this file is the one to adapt.

A `LabRun` is an ordinary gankit run that lives in memory: the same Trainer `gankit train` drives,
without a folder until the user saves it; `save` then writes a complete run folder that
`gankit resume`, `gankit eval` and `gankit sample` accept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.errors import ConfigError, GankitError
from gankit.lab.controls import LabInputError

#: The preset each data choice starts from (its networks, batch and data settings).
PRESETS = {"ring": "toy-ring", "grid": "toy-grid", "unrolled-ring": "toy-ring-unrolled",
           "mixture": "toy-grid"}
#: The target a lab run trains towards; a saved run records the step it was saved at instead.
LAB_STEPS = 1_000_000
#: How the page names the built-in losses; a newly registered loss shows under its own name.
LOSS_LABELS = {"minimax": "minimax (saturating)", "nonsaturating": "non-saturating",
               "ml": "maximum likelihood", "wasserstein": "Wasserstein (add a gradient penalty)",
               "hinge": "hinge", "least_squares": "least squares"}
#: Config keys whose errors belong to a control of the page.
CONTROL_OF_KEY = {"train.loss": "loss", "train.k": "k", "train.lr_g": "lr_g",
                  "train.lr_d": "lr_d", "train.unroll": "unroll", "train.pack": "pack",
                  "train.ema": "ema", "train.gp_lambda": "gp", "train.batch_size": "batch_size",
                  "prior.name": "prior", "prior.dim": "prior_dim", "data.std": "mixture_std",
                  "data.means": "mixture", "data.weights": "mixture", "train.seed": "seed"}


def loss_options() -> list[dict[str, Any]]:
    """Every loss a config can name (gankit's loss registry), with its label and whether D is a
    critic (its output a score, not a log-odds)."""
    from gankit.registry import LOSSES, PYTHON

    return [{"name": name, "label": LOSS_LABELS.get(name, name.replace("_", " ")),
             "critic": bool(LOSSES.info(name)["critic"])}
            for name in LOSSES if name != PYTHON]


def loss_names() -> list[str]:
    return [option["name"] for option in loss_options()]


def build_config(controls: dict[str, Any], seed: int) -> Any:
    """The gankit Config of one run's (validated) controls; a ConfigError becomes a LabInputError
    naming the control it is about."""
    from gankit.config import load_preset

    c = controls
    pairs: dict[str, Any] = {
        "train.loss": c["loss"], "train.k": c["k"], "train.lr_g": c["lr_g"],
        "train.lr_d": c["lr_d"], "train.unroll": c["unroll"], "train.pack": c["pack"],
        "train.ema": c["ema"], "train.gp_lambda": c["gp"], "train.batch_size": c["batch_size"],
        "prior.name": c["prior"], "prior.dim": c["prior_dim"], "train.seed": seed,
        # the lab trains on one CPU thread (the web server needs the other cores) and, without
        # a folder, writes nothing until saved
        "train.device": "cpu", "train.threads": 1, "train.steps": LAB_STEPS,
        "train.tensorboard": False, "train.lr_milestones": [],
    }
    if c["data"] == "mixture":
        pairs.update({"data.name": "mixture", "data.means": [list(m) for m in c["mixture_means"]],
                      "data.weights": list(c["mixture_weights"]), "data.std": c["mixture_std"]})
    try:
        return load_preset(PRESETS[c["data"]]).with_overrides(pairs)
    except ConfigError as e:
        key = str(e).split(" ", 1)[0]
        raise LabInputError(str(e), CONTROL_OF_KEY.get(key)) from None


class LabRun:
    """One gankit run in memory: a Trainer on a 2-D mixture, and its training log."""

    def __init__(self, cfg: Any, data_name: str) -> None:
        from gankit.losses import discriminator_loss
        from gankit.registry import LOSSES
        from gankit.tasks import build_task
        from gankit.train.loop import Trainer

        self.cfg, self.data_name = cfg, data_name
        self.trainer = Trainer(cfg, build_task(cfg), None)
        self.mixture = self.trainer.task.mixture  # the exact p_data (a GaussianMixture)
        self.critic = bool(LOSSES.info(cfg.train.loss)["critic"])
        #: D minimises the cross-entropy, so -d_loss estimates V(D, G) of the minimax game
        self.cross_entropy = LOSSES[cfg.train.loss].d_loss is discriminator_loss
        self.records: list[dict[str, float]] = []  # the lines of metrics.jsonl, when saved
        self._unlogged = 0

    @property
    def step(self) -> int:
        return self.trainer.step

    def train_step(self) -> None:
        """One iteration of Algorithm 1 (k D updates, one G update)."""
        self.trainer.train_step()
        self._unlogged += 1

    def log(self) -> dict[str, float] | None:
        """The training statistics averaged since the last call (None if no step since)."""
        if not self._unlogged:
            return None
        record = self.trainer.log()
        self._unlogged = 0
        self.records.append(record)
        return record

    def sample(self, n: int, seed: int) -> np.ndarray:
        """n samples of G (its weight average when EMA is on) from latent draws of `seed`."""
        return self.trainer.sample(n, seed).float().cpu().numpy()

    @torch.no_grad()
    def d_values(self, points: np.ndarray) -> np.ndarray:
        """D at the points: a probability, or the critic's raw score for a critic loss."""
        x = torch.as_tensor(points, dtype=torch.float32)
        if not self.critic:
            return self.trainer.discriminate(x).float().cpu().numpy().ravel()
        D, m = self.trainer.D, self.cfg.train.pack  # a packed D judges m copies of each point
        was_training = D.training
        D.eval()
        try:
            return D(x.to(self.trainer.device).repeat_interleave(m, 0)).float().cpu().numpy(
                ).ravel()
        finally:
            D.train(was_training)

    def save(self, root: Path, label: str) -> Path:
        """Write this run as an ordinary gankit run folder under `root` (a new folder, never an
        existing one): config, checkpoint, training log and pictures; returns the folder.
        Training goes on afterwards exactly as it would have.

        metrics.json is left to `gankit eval`: its exact W1 on eval.n_samples samples can take
        a minute for a collapsed G, too long to hold the page."""
        from gankit import run, rundir

        t = self.trainer
        folder = _new_folder(Path(root), f"{self.data_name}-{self.cfg.train.loss}-seed"
                                         f"{self.cfg.train.seed}-step{t.step}")
        run.prepare_run_dir(folder, force=False, command="gankit lab")
        kept = t.cfg, t.task.cfg
        saved = t.cfg.with_overrides({"train.steps": t.step,
                                      "description": f"gankit lab: {label}"})
        try:
            t.cfg = t.task.cfg = saved
            (folder / "config.toml").write_text(saved.to_toml())
            with open(folder / rundir.LOG, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in self.records)
            t.run_dir = folder
            t.save()
            t.save_frame()
            run.render(t)
        except OSError as e:
            raise GankitError(f"could not write the run folder {folder}: {e.strerror or e}"
                              ) from None
        finally:
            t.run_dir = None
            t.cfg, t.task.cfg = kept
            rundir.unlock_run(folder)
        return folder


def _new_folder(root: Path, name: str) -> Path:
    """root/name, or root/name-2, -3, ... : a folder that does not exist yet."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    candidate, n = root / name, 1
    while candidate.exists():
        n += 1
        candidate = root / f"{name}-{n}"
    return candidate
