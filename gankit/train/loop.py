"""Algorithm 1 of Goodfellow et al. (2014): k discriminator steps, then one generator step.

One `Trainer` serves every objective; variations are options of the same loop, not copies of it.
The step never reads a value back to the host: its statistics (named in `Trainer.stat_names`) are
summed on the device and read once per `log_every` steps.

Everything a trainer holds is declared in `Trainer.__init__`; helpers (fastpath, distributed,
the NaN guard) return what they build and the trainer stores it. G and D are built from the
config, or passed in (`gankit.fit`): the loop only needs modules.
"""

from __future__ import annotations

import bisect
import copy
import json
import os
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gankit import seeds
from gankit.config import Config
from gankit.data.sampler import EpochSampler
from gankit.losses import OBJECTIVES
from gankit.nets import build_discriminator, build_generator
from gankit.priors import sample_prior
from gankit.runrecord import RunRecord
from gankit.tasks.protocol import Task
from gankit.train import augment, distributed, ema, fastpath, labels, scalars, shapes
from gankit.train.checkpoint import (
    FILENAME,
    load_module_state,
    save_checkpoint,
)
from gankit.train.guard import NonFiniteGuard
from gankit.train.objective import DObjective, uses_real
from gankit.train.optim import make_optimizer
from gankit.train.unrolled import unrolled_g_loss

#: Statistics averaged over each logging interval (plus each penalty's, under its name).
LOGGED = ("d_loss", "g_loss", "d_real", "d_fake")

#: A function called after every step; it may call `trainer.request_stop(reason)`.
Callback = Callable[["Trainer"], None]

#: Latent draws, in batches, that re-estimate the BatchNorm statistics of G's weight average.
BN_RECALIBRATION = (8, 512)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    from gankit.errors import ConfigError

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"train.device = {name!r} is not a device: use auto, cpu, cuda or "
                          "cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device = {name!r} but no CUDA device is available; use cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"train.device = {name!r} but this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s)")
    return device


def _packed(D: nn.Module, pack: int) -> nn.Module:
    """A user's D under PacGAN (train.pack = m): built for m× the input's first axis, wrapped so
    it judges packs of m samples, as the built-in ones are."""
    if pack == 1:
        return D
    from gankit.nets.pack import Packed

    return D if isinstance(D, Packed) else Packed(D, pack)


def grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


class Trainer:
    """Owns the two networks, their optimizers and the random streams of one run.

    `G`, `D`: modules to train instead of the configured architectures (the config then records
    what built them, e.g. "python"); `objective`: a loss object instead of `train.loss`.
    """

    def __init__(self, cfg: Config, task: Task, run_dir: Path | None = None, *,
                 G: nn.Module | None = None, D: nn.Module | None = None,
                 objective: Any = None) -> None:
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
        self.cond = labels.from_task(cfg, task, self.device)  # None unless model.conditional
        classes = 0 if self.cond is None else self.cond.n_classes
        G = build_generator(cfg, shape, classes) if G is None else G
        D = build_discriminator(cfg, shape, classes) if D is None else _packed(D, t.pack)
        self.G: nn.Module = G.to(self.device)
        self.D: nn.Module = D.to(self.device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if t.ema > 0 else None
        self._ema_has_bn = self.G_ema is not None and ema.has_batchnorm(self.G_ema)
        self._ema_bn_stale = self._ema_has_bn  # statistics to re-estimate before sampling
        self.opt_g = make_optimizer(t.optimizer, self.G.parameters(), t.lr_g, t.betas_g)
        self.opt_d = make_optimizer(t.optimizer, self.D.parameters(), t.lr_d, t.betas_d)
        self.objective = OBJECTIVES[t.loss] if objective is None else objective
        self.augment = augment.from_config(cfg, shape, self.device)  # D's inputs (or None)
        self.d_objective = DObjective.from_config(t, self.augment)  # penalties, augmentation, clip
        self.z_gen = torch.Generator(device=self.device).manual_seed(t.seed + seeds.Z)
        data = task.train_data().to(self.device)
        self.sampler = EpochSampler(  # train.batch_size is global: each rank takes its share
            data, distributed.local_batch(t.batch_size, t.pack, self.dist),
            seed=t.seed + seeds.DATA, rank=self.dist.rank, world_size=self.dist.world_size)
        # -- progress and logging --
        self.step = 0  # generator steps done
        self.d_batches = 0  # real batches consumed
        self.stat_names: tuple[str, ...] = LOGGED + self.d_objective.stat_names
        self.acc = torch.zeros(len(self.stat_names), device=self.device)  # sums, in that order
        self.acc_steps = 0
        self.last_record: dict[str, float] | None = None  # the latest metrics.jsonl line
        self.scalars = scalars.build(t, self.run_dir, self.dist.is_main)  # TensorBoard, W&B
        self._lr_factor = 1.0
        self.d_pretrained = False  # D pretraining (train.pretrain_d_samples) done?
        # -- stopping: a signal, or a callback's request (under torchrun: agreed by all ranks) --
        self.stop_signal: str | None = None  # why the loop stopped early (SIGINT, a reason...)
        self.stop_pending = 0  # torchrun: the signal number this rank will vote for
        # -- the run's bookkeeping (notes for the user, ...): gankit.run's, never read here --
        self.run_record = RunRecord()
        # -- the fast path (docs/speed.md): modules the step calls, sharing G's and D's weights --
        nets = fastpath.prepare(self.cfg.train, self.dist, self.device, self.G, self.D,
                                self.G_ema, (self.opt_g, self.opt_d))
        self.G, self.D = nets.G, nets.D  # SyncBatchNorm versions under torchrun, if asked
        self.nets = nets  # what the step calls: G and D under autocast/compile, DDP-wrapped
        self.run_record.notes.extend(nets.notes)  # e.g. torch.compile unavailable: eager instead
        self.reused_fake: Tensor | None = None  # fresh_latents_for_g = false: D step's G(z)
        self.reused_labels: Tensor | None = None  # ... and its labels (conditional runs)
        self.guard = NonFiniteGuard(self)
        self.stop_vote = distributed.StopVote() if self.dist.enabled else None
        shapes.check_trainer(self)  # G, D and the data fit together, before any step

    @property
    def fast(self) -> fastpath.FastPath:
        """The speed settings this run uses (docs/speed.md)."""
        return self.nets.fast

    # -- Algorithm 1 ----------------------------------------------------------------------------
    def sample_z(self, n: int) -> Tensor:
        p = self.cfg.prior  # one global draw for all ranks; each keeps its slice
        z = sample_prior(p.name, n * self.dist.world_size, p.dim, self.z_gen, self.device)
        return distributed.rank_slice(z, self.dist)

    def d_step(self) -> dict[str, Tensor]:
        """One discriminator update on a real and a fake minibatch; returns detached stats."""
        real = self.sampler.batch(self.d_batches)
        y = None if self.cond is None else self.cond.of_batch(self.sampler, self.d_batches)
        self.d_batches += 1
        fake = self.d_fake(len(real), y)  # conditional: the real batch's labels (train/labels.py)
        D, plain = (self.nets.D_ddp, self.D) if y is None else \
            (self.cond.bind(self.nets.D_ddp, y), self.cond.bind(self.D, y))
        loss, stats = self.d_objective.loss(self.objective, D, real, fake, self.z_gen,
                                            plain_D=plain, step=self.d_batches - 1)
        class_loss = None if y is None else self.cond.d_class_loss(D, y)  # AC-GAN
        loss = loss if class_loss is None else loss + class_loss
        if self.augment is not None:  # ADA: p follows the sign of D on real images
            self.augment.observe(stats, len(real))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.guard.step(self.opt_d, loss, "discriminator")
        self.d_objective.constrain_(self.D)
        return stats

    def _g_in(self, n: int, y: Tensor | None) -> tuple[Tensor, ...]:
        """G's inputs for n samples: latents, and a conditional run's labels."""
        z = self.sample_z(n)
        return (z,) if y is None else (z, y)

    def d_fake(self, n: int, y: Tensor | None = None) -> Tensor:
        """The D step's fake batch. Algorithm 1 draws it without G's graph, G's step draws its own;
        with train.fresh_latents_for_g = false G's graph is kept and the G step re-uses the batch
        (the classic loop's way: one G forward fewer per step)."""
        if self.cfg.train.fresh_latents_for_g:
            with torch.no_grad():
                return self.nets.G_fast(*self._g_in(n, y))
        self.reused_fake, self.reused_labels = self.nets.G_ddp(*self._g_in(n, y)), y
        return self.reused_fake.detach()

    def g_fake(self) -> tuple[Tensor, Tensor | None]:
        """The G step's fake batch and its labels (None unless conditional): fresh latents, or
        the last D step's batch (`d_fake`)."""
        fake, self.reused_fake = self.reused_fake, None
        if fake is not None:
            return fake, self.reused_labels
        n = self.sampler.batch_size
        y = None if self.cond is None else self.cond.draw(n, self.z_gen, self.dist)
        return self.nets.G_ddp(*self._g_in(n, y)), y

    def last_real_batch(self) -> Tensor:
        """The real batch the last D step used, re-read by its index: no data or random state is
        consumed, so resuming stays exact (for G losses that need D's outputs on real data)."""
        return self.sampler.batch(max(self.d_batches - 1, 0))

    def g_step(self) -> Tensor:
        """One generator update through a frozen D."""
        self.D.requires_grad_(False)
        fake, y = self.g_fake()
        if self.cfg.train.unroll:  # G's loss sees D after train.unroll functional D steps
            loss = unrolled_g_loss(self, fake)
        else:  # relativistic losses see D's outputs on the last D step's real batch
            D = self.nets.D_fast
            real = self.last_real_batch() if uses_real(self.objective) else None
            real, fake_in = self.d_objective.augmented(real, fake)
            D_real, D_fake = (D, D) if y is None else (self.cond.bind(D, self.cond.of_batch(
                self.sampler, max(self.d_batches - 1, 0))), self.cond.bind(D, y))
            loss = self.objective.g_loss(None if real is None else D_real(real), D_fake(fake_in))
            class_loss = None if y is None else self.cond.g_class_loss(D_fake, y)  # AC-GAN
            loss = loss if class_loss is None else loss + class_loss
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.guard.step(self.opt_g, loss, "generator")
        self.D.requires_grad_(True)
        if self.G_ema is not None:
            t = self.cfg.train
            ema.update(self.G_ema, self.G, ema.decay_at(t.ema, self.step, t.ema_warmup))
            self._ema_bn_stale = self._ema_has_bn
        return loss.detach()

    def train_step(self) -> None:
        """k discriminator updates, then train.g_steps generator updates (one in Algorithm 1);
        statistics accumulated on the device."""
        self._apply_lr()
        t = self.cfg.train
        d_runs = [self.d_step() for _ in range(t.k)]
        stats = {name: sum(r[name] for r in d_runs) / t.k for name in d_runs[0]}
        stats["g_loss"] = sum(self.g_step() for _ in range(t.g_steps)) / t.g_steps
        self.acc += self.guard.finite_stats(torch.stack([stats[n] for n in self.stat_names]))
        self.acc_steps += 1
        self.step += 1
        if self.stop_vote is not None:  # torchrun: every rank stops after the same step
            agreed = self.stop_vote.poll(self.stop_pending)
            if agreed and self.stop_signal is None:
                self.stop_signal = distributed.stop_reason(agreed)

    def request_stop(self, reason: str = "callback") -> None:
        """Stop after the current step, save a checkpoint and return from `fit` (False).

        For callbacks: under torchrun, call it at the same step on every rank."""
        self.stop_signal = reason

    def _on_signal(self, signum: int) -> None:
        """SIGINT/SIGTERM: stop after this step; under torchrun after the step at which all
        ranks have heard of it (the stop vote)."""
        if self.dist.enabled:
            self.stop_pending = int(signum)
        else:
            self.stop_signal = signal.Signals(signum).name

    def _apply_lr(self) -> None:
        t = self.cfg.train
        factor = t.lr_gamma ** bisect.bisect_right(t.lr_milestones, self.step)
        if factor != self._lr_factor:
            for opt, lr in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
                for group in opt.param_groups:
                    group["lr"] = lr * factor
            self._lr_factor = factor

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, until: int, callbacks: Callback | Iterable[Callback] | None = None) -> bool:
        """Train up to generator step `until`; True if finished, False if stopped early.

        SIGINT/SIGTERM, or a callback's `trainer.request_stop(reason)`, finish the current step;
        then the loop saves a checkpoint and returns (`stop_signal` says why).
        """
        t = self.cfg.train
        hooks = [] if callbacks is None else [callbacks] if callable(callbacks) else list(callbacks)
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def request_stop(signum, frame):
            self._on_signal(signum)
            for s, h in previous.items():  # a second signal acts at once
                signal.signal(s, h)

        for s in previous:
            signal.signal(s, request_stop)
        try:
            self.scalars.open(self.cfg, self.step)  # after gankit.run locked the folder
            if self.step == 0:
                self.save_frame()
            # -- D pretraining (Keras recipe): once, before the first G step; checkpointed then --
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
                for hook in hooks:
                    hook(self)
            self.save()
        finally:
            self.scalars.close()
            for s, h in previous.items():
                signal.signal(s, h)
        return self.stop_signal is None

    # -- logging, frames ------------------------------------------------------------------------
    def log(self) -> dict[str, float]:
        """Average the accumulated statistics (one host read) and append them to metrics.jsonl."""
        self.guard.check()  # a NaN/Inf loss stops the run here (train.on_nonfinite)
        values, extra = self.guard.interval_means(self.acc, self.acc_steps)  # over ranks
        norms = torch.stack([grad_norm(self.D), grad_norm(self.G)]).tolist()
        record = {"step": self.step, **dict(zip(self.stat_names, values)),
                  "grad_norm_d": norms[0], "grad_norm_g": norms[1],
                  "lr_g": self.opt_g.param_groups[0]["lr"],
                  "lr_d": self.opt_d.param_groups[0]["lr"], **extra}
        self.acc.zero_()
        self.acc_steps = 0
        self.last_record = record
        if self.run_dir is not None:
            path = self.run_dir / "metrics.jsonl"
            try:
                with open(path, "a") as f:
                    f.write(json.dumps(record) + "\n")
            except OSError as e:  # a full disk: name the log (run.train_run reports it)
                raise OSError(e.errno, e.strerror, str(path)) from None
        self.scalars.write(record, self.step)  # TensorBoard, W&B (train/scalars.py)
        return record

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator samples come from: the weight average when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """G(z) in inference mode (BatchNorm running statistics, no dropout); G(z, y) for the
        labels y of a conditional run (default: the classes in turn)."""
        G = self.sampling_generator
        if G is self.G_ema and self._ema_bn_stale:
            self._recalibrate_ema()
        if y is None and self.cond is not None:  # a conditional G: the classes in turn
            y = labels.cycle_labels(len(z), self.cond.n_classes, z.device)
        was_training = G.training
        G.eval()
        try:
            if y is None:
                return torch.cat([G(chunk) for chunk in z.split(8192)])
            return torch.cat([G(a, b) for a, b in zip(z.split(8192), y.split(8192))])
        finally:
            G.train(was_training)

    def _recalibrate_ema(self) -> None:
        """BatchNorm statistics of the weight average, from latent draws of a fixed stream: a
        function of the averaged weights alone, so resumed runs sample exactly as uninterrupted
        ones."""
        n_batches, size = BN_RECALIBRATION
        gen = torch.Generator(device=self.device).manual_seed(self.cfg.train.seed + seeds.BN)
        p = self.cfg.prior
        y = None if self.cond is None else labels.cycle_labels(size, self.cond.n_classes,
                                                                 self.device)
        ema.recalibrate_batchnorm(self.G_ema, (
            sample_prior(p.name, size, p.dim, gen, self.device) if y is None else
            (sample_prior(p.name, size, p.dim, gen, self.device), y) for _ in range(n_batches)))
        self._ema_bn_stale = False

    def sample(self, n: int, seed: int | None = None, labels: Any = None) -> Tensor:
        """n samples from a latent stream of its own, so sampling never disturbs training.
        Conditional runs: of the classes `labels` (n of them), else the classes in turn."""
        seed = self.cfg.train.seed + seeds.EVAL if seed is None else seed
        gen = torch.Generator(device=self.device).manual_seed(seed)
        p = self.cfg.prior
        y = self.sample_labels(n, labels)
        return self.generate(sample_prior(p.name, n, p.dim, gen, self.device), y)

    def sample_labels(self, n: int, asked: Any = None) -> Tensor | None:
        """The labels of n samples (train/labels.py): the asked ones, checked, or the classes
        in turn; None for an unconditional run (which refuses asked-for labels)."""
        if self.cond is None:
            if asked is not None:
                from gankit.errors import GankitError

                raise GankitError("labels are for class-conditional runs (model.conditional = "
                                  "projection or acgan); this run is unconditional")
            return None
        if asked is None:
            return labels.cycle_labels(n, self.cond.n_classes, self.device)
        y = labels.check_labels(torch.as_tensor(asked).reshape(-1), self.cond.n_classes)
        if len(y) != n:
            from gankit.errors import GankitError

            raise GankitError(f"{len(y)} labels given for {n} samples: give one per sample")
        return y.to(self.device)

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
        path = folder / f"step_{self.step:07d}.npz"
        tmp = folder / f".{path.name}.tmp"  # atomic: a kill never leaves a torn frame
        try:
            folder.mkdir(exist_ok=True)
            with open(tmp, "wb") as f:
                np.savez_compressed(f, step=self.step, **frame)
            os.replace(tmp, path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise OSError(e.errno, e.strerror, str(path)) from None

    # -- checkpoints ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state(), "z": self.z_gen.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {
            "config": self.cfg.to_toml(), "step": self.step, "d_batches": self.d_batches,
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "rng": rng, "acc": self.acc, "acc_names": list(self.stat_names),
            "acc_steps": self.acc_steps,
            "d_pretrained": self.d_pretrained,
        }
        if self.augment is not None:  # its random stream and ADA's p
            state["augment"] = self.augment.state()
        if self.G_ema is not None:
            state["G_ema"] = self.G_ema.state_dict()
        return state

    def save(self) -> None:
        # rank 0's BatchNorm buffers everywhere; the partial log averages over ranks
        self.acc = distributed.sync_for_save((self.G, self.D, self.G_ema), self.acc)
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
        names = state.get("acc_names", list(LOGGED))  # older checkpoints: LOGGED's order
        saved = dict(zip(names, state["acc"].to(self.device)))
        self.acc = torch.stack([saved.get(n, torch.zeros((), device=self.device))
                                for n in self.stat_names])
        self.acc_steps = int(state["acc_steps"])
        self.d_pretrained = bool(state.get("d_pretrained", False))
        if self.augment is not None and "augment" in state:
            self.augment.load_state(state["augment"])
        torch.set_rng_state(state["rng"]["torch"])
        self.z_gen.set_state(state["rng"]["z"])
        if self.device.type == "cuda" and "cuda" in state["rng"]:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self._lr_factor = float("nan")  # re-derive the learning rate from the step
        fastpath.set_kernels((self.opt_g, self.opt_d), self.fast)  # this run's, not the saver's
        self.guard.saved(path, self.step)  # the last good checkpoint
