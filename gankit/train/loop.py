"""Algorithm 1 of Goodfellow et al. (2014), seed 000: k discriminator steps, then one G step.

One `Trainer` serves every objective; variations are options of the same loop, not copies of it.
The step never reads a value back to the host: losses and D outputs are summed on the device and
read once per `log_every` steps.
"""

from __future__ import annotations

import bisect
import copy
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.data.sampler import EpochSampler
from gankit.losses import OBJECTIVES, gradient_penalty
from gankit.nets import build_discriminator, build_generator
from gankit.priors import sample_prior
from gankit.train import distributed, ema, fastpath
from gankit.train.checkpoint import (
    FILENAME,
    load_checkpoint,
    load_module_state,
    save_checkpoint,
)
from gankit.train.optim import clip_weights, make_optimizer
from gankit.train.unrolled import unrolled_g_loss

#: Quantities averaged over each logging interval, in this order.
LOGGED = ("d_loss", "g_loss", "d_real", "d_fake")

# Offsets from the run's seed for each independent random stream.
SEED_Z, SEED_DATA, SEED_FRAMES, SEED_EVAL, SEED_BN = 1, 2, 3, 4, 5

#: Latent draws, in batches, that re-estimate the BatchNorm statistics of G's weight average.
BN_RECALIBRATION = (8, 512)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        from gankit.errors import ConfigError

        raise ConfigError(f"train.device = {name!r} but no CUDA device is available; use cpu")
    return device


def grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


class Trainer:
    """Owns the two networks, their optimizers and the random streams of one run."""

    def __init__(self, cfg: Config, task: Any, run_dir: Path | None = None) -> None:
        t = cfg.train
        self.cfg, self.task = cfg, task
        self.run_dir = Path(run_dir) if run_dir is not None else None
        # -- speed and scale (docs/speed.md): torchrun ranks; only rank 0 writes files --
        self.dist = distributed.from_env()
        self.device = distributed.local_device(pick_device(t.device), self.dist)
        distributed.setup(self.device)
        if not self.dist.is_main:
            self.run_dir = None
        # -- end speed and scale (threads: fastpath.prepare) --
        torch.manual_seed(t.seed)
        shape = task.sample_shape
        self.G = build_generator(cfg, shape).to(self.device)
        self.D = build_discriminator(cfg, shape).to(self.device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if t.ema > 0 else None
        self._ema_has_bn = self.G_ema is not None and ema.has_batchnorm(self.G_ema)
        self._ema_bn_stale = self._ema_has_bn  # statistics to re-estimate before sampling
        self.opt_g = make_optimizer(t.optimizer, self.G.parameters(), t.lr_g, t.betas_g)
        self.opt_d = make_optimizer(t.optimizer, self.D.parameters(), t.lr_d, t.betas_d)
        self.objective = OBJECTIVES[t.loss]
        self.z_gen = torch.Generator(device=self.device).manual_seed(t.seed + SEED_Z)
        data = task.train_data().to(self.device)
        self.sampler = EpochSampler(  # train.batch_size is global: each rank takes its share
            data, distributed.local_batch(t.batch_size, t.pack, self.dist),
            seed=t.seed + SEED_DATA, rank=self.dist.rank, world_size=self.dist.world_size)
        self.step = 0  # generator steps done
        self.d_batches = 0  # real batches consumed
        self.acc = torch.zeros(len(LOGGED), device=self.device)
        self.acc_steps = 0
        self.stop_signal: str | None = None
        self._lr_factor = 1.0
        self.d_pretrained = False  # D pretraining (train.pretrain_d_samples) done?
        fastpath.prepare(self)  # G_fast/D_fast, G_ddp/D_ddp (DDP), fused Adam, NaN guard

    # -- Algorithm 1 ----------------------------------------------------------------------------
    def sample_z(self, n: int) -> Tensor:
        p = self.cfg.prior  # one global draw for all ranks; each keeps its slice
        z = sample_prior(p.name, n * self.dist.world_size, p.dim, self.z_gen, self.device)
        return distributed.rank_slice(z, self.dist)

    def d_step(self) -> Tensor:
        """One discriminator update on a real and a fake minibatch; returns detached stats."""
        real = self.sampler.batch(self.d_batches)
        self.d_batches += 1
        with torch.no_grad():
            fake = self.G_fast(self.sample_z(len(real)))
        real_logits, fake_logits = self.D_ddp(real), self.D_ddp(fake)
        loss = self.objective.d_loss(real_logits, fake_logits)
        t = self.cfg.train
        penalty = t.gp_lambda * gradient_penalty(self.D, real, fake, self.z_gen) \
            if t.gp_lambda else 0.0  # WGAN-GP: in the gradient, not in the logged d_loss
        self.opt_d.zero_grad(set_to_none=True)
        (loss + penalty).backward()
        self.guard.step(self.opt_d, loss + penalty, "discriminator")
        if t.clip:  # WGAN: keep the critic's weights in [-clip, clip]
            clip_weights(self.D, t.clip)
        return torch.stack([loss.detach(), torch.sigmoid(real_logits.detach()).mean(),
                            torch.sigmoid(fake_logits.detach()).mean()])

    def g_step(self) -> Tensor:
        """One generator update through a frozen D."""
        self.D.requires_grad_(False)
        fake = self.G_ddp(self.sample_z(self.sampler.batch_size))
        # unrolled GAN: G's loss sees D after train.unroll functional D steps (unrolled.py)
        loss = unrolled_g_loss(self, fake) if self.cfg.train.unroll \
            else self.objective.g_loss(self.D_fast(fake))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.guard.step(self.opt_g, loss, "generator")
        self.D.requires_grad_(True)
        if self.G_ema is not None:
            ema.update(self.G_ema, self.G, self.cfg.train.ema)
            self._ema_bn_stale = self._ema_has_bn
        return loss.detach()

    def train_step(self) -> None:
        """k discriminator steps, one generator step, statistics accumulated on the device."""
        self._apply_lr()
        k = self.cfg.train.k
        d_stats = sum(self.d_step() for _ in range(k)) / k
        g_loss = self.g_step()
        self.acc += self.guard.finite_stats(torch.stack([d_stats[0], g_loss, d_stats[1],
                                                          d_stats[2]]))
        self.acc_steps += 1
        self.step += 1
        distributed.poll_stop(self)  # torchrun: every rank stops after the same step

    def _apply_lr(self) -> None:
        t = self.cfg.train
        factor = t.lr_gamma ** bisect.bisect_right(t.lr_milestones, self.step)
        if factor != self._lr_factor:
            for opt, lr in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
                for group in opt.param_groups:
                    group["lr"] = lr * factor
            self._lr_factor = factor

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, until: int, on_step: Callable[[Trainer], None] | None = None) -> bool:
        """Train up to generator step `until`; True if finished, False if stopped by a signal.

        SIGINT/SIGTERM finish the current step, then the loop saves a checkpoint and returns.
        """
        t = self.cfg.train
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def request_stop(signum, frame):
            distributed.request_stop(self, signum)
            for s, h in previous.items():  # a second signal acts at once
                signal.signal(s, h)

        for s in previous:
            signal.signal(s, request_stop)
        try:
            if self.step == 0:
                self.save_frame()
            # -- D pretraining (seed 003): once, before the first G step; checkpointed at once --
            if t.pretrain_d_samples and not self.d_pretrained and self.step == 0:
                from gankit.train.pretrain import pretrain_discriminator

                stats = pretrain_discriminator(self)
                self.d_pretrained = True
                if self.run_dir is not None:
                    (self.run_dir / "pretrain.json").write_text(json.dumps(stats, indent=2))
                self.save()
            # -- end of D pretraining --
            while self.step < until and self.stop_signal is None:
                self.train_step()
                if self.step % t.log_every == 0:
                    self.log()
                if self.step % t.frame_every == 0:
                    self.save_frame()
                if self.step % t.ckpt_every == 0:
                    self.save()
                if on_step is not None:
                    on_step(self)
            self.save()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
        return self.stop_signal is None

    # -- logging, frames ------------------------------------------------------------------------
    def log(self) -> dict[str, float]:
        """Average the accumulated statistics (one host read) and append them to metrics.jsonl."""
        self.guard.check()  # a NaN/Inf loss stops the run here (train.on_nonfinite)
        values, extra = self.guard.interval_means(self.acc, self.acc_steps)  # over ranks
        norms = torch.stack([grad_norm(self.D), grad_norm(self.G)]).tolist()
        record = {"step": self.step, **dict(zip(LOGGED, values)),
                  "grad_norm_d": norms[0], "grad_norm_g": norms[1],
                  "lr_g": self.opt_g.param_groups[0]["lr"],
                  "lr_d": self.opt_d.param_groups[0]["lr"], **extra}
        self.acc.zero_()
        self.acc_steps = 0
        self.last_record = record
        if self.run_dir is not None:
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
        return record

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator samples come from: the weight average when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        """G(z) in inference mode (BatchNorm running statistics, no dropout)."""
        G = self.sampling_generator
        if G is self.G_ema and self._ema_bn_stale:
            self._recalibrate_ema()
        was_training = G.training
        G.eval()
        try:
            return torch.cat([G(chunk) for chunk in z.split(8192)])
        finally:
            G.train(was_training)

    def _recalibrate_ema(self) -> None:
        """BatchNorm statistics of the weight average, from latent draws of a fixed stream: a
        function of the averaged weights alone, so resumed runs sample exactly as uninterrupted
        ones."""
        n_batches, size = BN_RECALIBRATION
        gen = torch.Generator(device=self.device).manual_seed(self.cfg.train.seed + SEED_BN)
        p = self.cfg.prior
        ema.recalibrate_batchnorm(self.G_ema, (
            sample_prior(p.name, size, p.dim, gen, self.device) for _ in range(n_batches)))
        self._ema_bn_stale = False

    def sample(self, n: int, seed: int | None = None) -> Tensor:
        """n samples from a latent stream of its own, so sampling never disturbs training."""
        seed = self.cfg.train.seed + SEED_EVAL if seed is None else seed
        gen = torch.Generator(device=self.device).manual_seed(seed)
        p = self.cfg.prior
        return self.generate(sample_prior(p.name, n, p.dim, gen, self.device))

    @torch.no_grad()
    def discriminate(self, x: Tensor) -> Tensor:
        """D(x) as probabilities, in inference mode."""
        was_training = self.D.training
        self.D.eval()
        m = self.cfg.train.pack  # a packed D (PacGAN) judges a pack of m copies of each point
        try:
            return torch.cat([torch.sigmoid(self.D(c.repeat_interleave(m, 0)))
                              for c in x.to(self.device).split(8192)])
        finally:
            self.D.train(was_training)

    def save_frame(self) -> None:
        """One frame of the training animation, written as frames/step_XXXXXXX.npz."""
        self.guard.check()
        if self.run_dir is None:
            return
        frame = self.task.frame(self)
        folder = self.run_dir / "frames"
        folder.mkdir(exist_ok=True)
        np.savez_compressed(folder / f"step_{self.step:07d}.npz", step=self.step, **frame)

    # -- checkpoints ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state(), "z": self.z_gen.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {
            "config": self.cfg.to_toml(), "step": self.step, "d_batches": self.d_batches,
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "rng": rng, "acc": self.acc, "acc_steps": self.acc_steps,
            "d_pretrained": self.d_pretrained,
        }
        if self.G_ema is not None:
            state["G_ema"] = self.G_ema.state_dict()
        return state

    def save(self) -> None:
        distributed.sync_for_save(self)  # rank 0's BatchNorm buffers everywhere
        self.guard.before_save()  # never a checkpoint of non-finite weights
        if self.run_dir is not None:
            save_checkpoint(self.run_dir / FILENAME, self.state())
            self.guard.saved(self.run_dir / FILENAME, self.step)

    def load_state(self, state: dict[str, Any], path: Path) -> None:
        load_module_state(self.G, state["G"], "generator", path)
        load_module_state(self.D, state["D"], "discriminator", path)
        if self.G_ema is not None:
            load_module_state(self.G_ema, state.get("G_ema", state["G"]), "generator", path)
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step, self.d_batches = int(state["step"]), int(state["d_batches"])
        self.acc = state["acc"].to(self.device)
        self.acc_steps = int(state["acc_steps"])
        self.d_pretrained = bool(state.get("d_pretrained", False))
        torch.set_rng_state(state["rng"]["torch"])
        self.z_gen.set_state(state["rng"]["z"])
        if self.device.type == "cuda" and "cuda" in state["rng"]:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self._lr_factor = float("nan")  # re-derive the learning rate from the step
        fastpath.after_load(self, path)  # this run's optimizer kernels; last good checkpoint

    @classmethod
    def from_checkpoint(
        cls, run_dir: Path, task_factory: Callable[[Config], Any], cfg: Config | None = None,
        keep_metrics: bool = True,
    ) -> Trainer:
        """Rebuild a trainer from run_dir/checkpoint.pt (its own config unless one is given)."""
        path = Path(run_dir) / FILENAME
        state = load_checkpoint(path)
        if cfg is None:
            cfg = Config.from_toml(state["config"], source=f"the config inside {path}")
        trainer = cls(cfg, task_factory(cfg), run_dir)
        trainer.load_state(state, path)
        if keep_metrics:
            trainer.truncate_log()
        return trainer

    def truncate_log(self) -> None:
        """Drop log lines written after the checkpoint: the resumed run will write them again."""
        if self.run_dir is None:
            return
        path = self.run_dir / "metrics.jsonl"
        if path.exists():
            lines = [ln for ln in path.read_text().splitlines()
                     if ln.strip() and json.loads(ln)["step"] <= self.step]
            tmp = path.with_name(f".{path.name}.tmp")  # a kill mid-write keeps the old log
            tmp.write_text("".join(ln + "\n" for ln in lines))
            os.replace(tmp, path)
