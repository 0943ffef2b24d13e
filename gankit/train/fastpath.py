"""The fast path: bf16 autocast, channels-last, torch.compile and fused Adam, each switchable.

Each option is a `train.*` field: true, false, or unset (automatic). Automatic means on for CUDA
(bf16 autocast and channels-last for conv nets only: a 2-D toy point in bf16 is rounded to 1/32
near 4, on the scale of the grid's mode width 0.05) and, on CPU, what measured fastest for the
toy MLP (BENCHMARKS.md, section `speed`; CPU_DEFAULTS). The trainer calls `prepare`
once; it returns the modules the step calls (`Nets`),

    G_fast, D_fast   the nets as the step runs them locally (autocast, compiled)
    G_ddp,  D_ddp    the same, wrapped in DistributedDataParallel under torchrun (else identical)

while `trainer.G` / `trainer.D` stay the plain modules whose parameters they share: checkpoints,
sampling, EMA and evaluation use those, so a checkpoint does not depend on the fast path or the
process count. The step never reads a value back to the host (gankit/train/loop.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.train import distributed

#: Automatic choices on CPU, from benchmarks/speed.py on the 2-core development machine
#: (BENCHMARKS.md): for the toy MLP torch.compile was slower (and costs seconds of compilation),
#: fused Adam no faster beyond noise; bf16 was faster but too coarse for 2-D points (see above),
#: and on CPUs without bf16 units it is emulated; so CPU runs stay eager fp32.
CPU_DEFAULTS = {"amp": False, "channels_last": False, "compile": False, "fused_adam": False}
CONV_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)


@dataclass(frozen=True)
class FastPath:
    """The resolved switches of one run."""

    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    fused_adam: bool = False
    compile_mode: str = "default"

    def describe(self) -> str:
        on = [name for name, flag in (("bf16 autocast", self.amp),
                                      ("channels-last", self.channels_last),
                                      (f"torch.compile ({self.compile_mode})", self.compile),
                                      ("fused Adam", self.fused_adam)) if flag]
        return ", ".join(on) if on else "eager fp32"


def has_conv(*modules: nn.Module) -> bool:
    return any(isinstance(m, CONV_LAYERS) for module in modules for m in module.modules())


def resolve(train_cfg: Any, device: torch.device, conv: bool) -> FastPath:
    """The switches for `device`: explicit true/false kept, unset ones chosen per device."""
    cuda = device.type == "cuda"

    def pick(name: str, cuda_default: bool) -> bool:
        value = getattr(train_cfg, name)
        if value is not None:
            return bool(value)
        return cuda_default if cuda else CPU_DEFAULTS[name]

    adam = train_cfg.optimizer == "adam"
    # "skip" wants fused Adam: it is what skips an update without a host read (guard.py)
    skip = train_cfg.on_nonfinite == "skip" and train_cfg.fused_adam is None
    fast = FastPath(
        amp=pick("amp", conv), channels_last=pick("channels_last", True) and conv,
        compile=pick("compile", True), fused_adam=adam and (pick("fused_adam", True) or skip),
        compile_mode=train_cfg.compile_mode)
    if fast.amp and cuda and not torch.cuda.is_bf16_supported():
        if train_cfg.amp:
            raise ConfigError(f"train.amp = true needs bf16, which {torch.cuda.get_device_name()}"
                              " does not support; set train.amp=false")
        fast = FastPath(False, fast.channels_last, fast.compile, fast.fused_adam,
                        fast.compile_mode)
    return fast


class Autocast(nn.Module):
    """Runs the wrapped net under bf16 autocast and returns float32, so losses, statistics and
    everything downstream stay in float32 (the losses are logit-based and autocast-safe anyway)."""

    def __init__(self, net: nn.Module, device_type: str) -> None:
        super().__init__()
        self.net = net
        self.device_type = device_type

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            out = self.net(x)
        return out.float()


def set_fused(opt: torch.optim.Optimizer, fused: bool) -> None:
    """Switch an Adam optimizer to the fused kernel (or back), also after load_state_dict (which
    restores the flags of the run that saved it). Other optimizers are left as they are."""
    if not isinstance(opt, torch.optim.Adam | torch.optim.AdamW):
        return
    for group in opt.param_groups:
        if fused:
            group["foreach"] = None
        group["fused"] = fused
        for p in group["params"]:
            state = opt.state.get(p, {})
            if torch.is_tensor(state.get("step")):  # fused keeps it beside the weights
                state["step"] = state["step"].to(p.device if fused else "cpu", torch.float32)


def _compile(module: nn.Module, fast: FastPath) -> nn.Module:
    return torch.compile(module, mode=fast.compile_mode) if fast.compile else module


@dataclass(frozen=True)
class Nets:
    """What `prepare` builds: the plain G and D (SyncBatchNorm versions under torchrun when
    asked), the step's local modules and their DDP-wrapped versions, and the switches."""

    G: nn.Module
    D: nn.Module
    G_fast: nn.Module
    D_fast: nn.Module
    G_ddp: nn.Module
    D_ddp: nn.Module
    fast: FastPath


def prepare(t: Any, info: distributed.Dist, device: torch.device, G: nn.Module, D: nn.Module,
            G_ema: nn.Module | None, optimizers: tuple[torch.optim.Optimizer, ...]) -> Nets:
    """Build the step's modules and set the optimizers' kernels, for train config `t`."""
    fast = resolve(t, device, has_conv(G, D))
    if device.type == "cpu" and t.threads:  # 0: torch's default, one thread per core, which
        torch.set_num_threads(t.threads)      # measured fastest on an idle machine (speed.py)
    if t.sync_batchnorm and info.enabled:  # same parameters: the optimizers still hold them
        G = distributed.sync_batchnorm(G, device)
        D = distributed.sync_batchnorm(D, device)
    if fast.channels_last:
        for module in (G, D, G_ema):
            if module is not None:
                module.to(memory_format=torch.channels_last)
    nets = [Autocast(m, device.type) if fast.amp else m for m in (G, D)]
    G_fast, D_fast = (_compile(m, fast) for m in nets)
    if info.enabled:
        G_ddp, D_ddp = (_compile(distributed.wrap(m, device), fast) for m in nets)
    else:
        G_ddp, D_ddp = G_fast, D_fast
    set_kernels(optimizers, fast)
    return Nets(G, D, G_fast, D_fast, G_ddp, D_ddp, fast)


def set_kernels(optimizers: tuple[torch.optim.Optimizer, ...], fast: FastPath) -> None:
    """This run's optimizer kernels (also after a checkpoint restored the saver's)."""
    for opt in optimizers:
        set_fused(opt, fast.fused_adam)
