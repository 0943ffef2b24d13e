"""The fast path: bf16 autocast, channels-last, torch.compile, fused Adam and CPU threads.

Each option is a `train.*` field: true, false, or unset (automatic). Automatic means on for CUDA
(bf16 autocast and channels-last for conv nets only: a 2-D toy point in bf16 is rounded to 1/32
near 4, on the scale of the grid's mode width 0.05) and, on CPU, what measured fastest
(BENCHMARKS.md, section `speed`; `cpu_default`): for conv nets bf16 autocast and channels-last
where the CPU has bf16 arithmetic in hardware (AVX512-BF16, AMX-BF16 or Arm's BF16; elsewhere
oneDNN emulates bf16, slower than fp32); torch.compile stays opt-in on CPU (it measured no
faster than eager there), and where inductor's C++ toolchain does not work it falls back to eager
with a note. The trainer calls `prepare` once; it returns
the modules the step calls (`Nets`),

    G_fast, D_fast   the nets as the step runs them locally (autocast, compiled)
    G_ddp,  D_ddp    the same, wrapped in DistributedDataParallel under torchrun (else identical)

while `trainer.G` / `trainer.D` stay the plain modules whose parameters they share: checkpoints,
sampling, EMA and evaluation use those, so a checkpoint does not depend on the fast path or the
process count. The step never reads a value back to the host (gankit/train/loop.py).

oneDNN's own fusions (convolution + bias + activation as one primitive) need frozen weights
(inductor's `freezing`, an inference-only pass), so a training step cannot use them; inductor
fuses the element-wise work around oneDNN's convolutions instead (torch.compile).
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nets.spectral import normalised_layers
from gankit.train import distributed

CONV_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)
#: /proc/cpuinfo flags of bf16 arithmetic in hardware: AVX512-BF16 (Intel Cooper Lake and
#: Sapphire Rapids on, AMD Zen 4 on), AMX-BF16 (Intel Sapphire Rapids on), BF16 (Arm v8.6).
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86 | Arm
            flags.update(value.split())
    return frozenset(flags)


def cpu_bf16_native() -> bool:
    """True where bf16 autocast is fast on this CPU: bf16 instructions in hardware and oneDNN
    (which runs the bf16 convolutions and matrix products) available."""
    return bool(cpu_flags() & BF16_FLAGS) and torch.backends.mkldnn.is_available()


@functools.lru_cache(maxsize=1)
def compile_unavailable() -> str | None:
    """Why torch.compile cannot run on this CPU (None if it can). Inductor builds C++ kernels
    with the system's compiler; a tiny function with a backward pass is compiled once per
    process to prove the whole toolchain (compiler, headers) works."""
    from torch._inductor import cpp_builder

    try:
        compiler = cpp_builder.get_cpp_compiler()
    except Exception as e:  # any failure means "no toolchain"
        return f"inductor found no C++ compiler ({e})"
    if shutil.which(compiler) is None:
        return f"its C++ compiler {compiler!r} is not installed"
    try:
        x = torch.ones(4, requires_grad=True)
        torch.compile(lambda v: (v.sin() * 2).sum(), dynamic=False)(x).backward()
    except Exception as e:
        return f"compiling a test function failed ({type(e).__name__}: {str(e)[:200]})"
    return None


def cpu_default(name: str, conv: bool) -> bool:
    """The automatic choice of switch `name` on CPU, from benchmarks/speed.py's measurements
    (BENCHMARKS.md `speed`): bf16 autocast with channels-last for conv nets where bf16 is in
    hardware; torch.compile off (no faster than eager for the DCGANs, after 8-70 s of
    compilation); fused Adam off (close to the foreach kernel)."""
    return name in ("amp", "channels_last") and conv and cpu_bf16_native()


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
        return cuda_default if cuda else cpu_default(name, conv)

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

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            out = self.net(x, *args, **kwargs)  # conditional nets: labels too
        if isinstance(out, tuple):  # a conditional D's (logits, class logits)
            return tuple(None if o is None else o.float() for o in out)
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
    """torch.compile with static shapes: a new shape (another batch size) compiles anew instead
    of switching to dynamic shapes, whose CPU backward failed to compile in torch 2.13."""
    if not fast.compile:
        return module
    return torch.compile(module, mode=fast.compile_mode, dynamic=False)


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
    notes: tuple[str, ...] = ()  # what the user should be told (a switch that could not apply)


def prepare(t: Any, info: distributed.Dist, device: torch.device, G: nn.Module, D: nn.Module,
            G_ema: nn.Module | None, optimizers: tuple[torch.optim.Optimizer, ...]) -> Nets:
    """Build the step's modules and set the optimizers' kernels, for train config `t`."""
    fast = resolve(t, device, has_conv(G, D))
    notes = set_threads(t) if device.type == "cpu" else []
    if fast.compile and (normalised_layers(G) or normalised_layers(D)):
        asked = "train.compile = true" if t.compile else "torch.compile (automatic)"
        notes.append(f"{asked} is off with spectral normalisation (model.spectral_norm): the "
                     "compiled backward reads the power iteration's u after the next forward "
                     "pass has updated it in place; training eagerly instead")
        fast = dataclasses.replace(fast, compile=False)
    fast, why = check_cpu_switches(t, device, fast)
    notes += why
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
    return Nets(G, D, G_fast, D_fast, G_ddp, D_ddp, fast, tuple(notes))


def set_threads(t: Any) -> list[str]:
    """train.threads and train.interop_threads (0: torch's defaults, one thread per core).
    torch fixes its inter-op pool at the first parallel work of a process: a later change is
    refused, and then said."""
    if t.threads:
        torch.set_num_threads(t.threads)
    if not t.interop_threads or t.interop_threads == torch.get_num_interop_threads():
        return []
    try:
        torch.set_num_interop_threads(t.interop_threads)
    except RuntimeError:
        return [f"train.interop_threads = {t.interop_threads} not applied: this process already "
                f"runs {torch.get_num_interop_threads()} inter-op threads (torch sets them once)"]
    return []


def check_cpu_switches(t: Any, device: torch.device, fast: FastPath) -> tuple[FastPath, list[str]]:
    """On CPU: torch.compile off (with a note) where its C++ toolchain does not work; a note
    when bf16 autocast was asked for on a CPU that emulates bf16."""
    if device.type != "cpu":
        return fast, []
    notes = []
    if fast.amp and not cpu_bf16_native():
        notes.append("train.amp = true on a CPU without bf16 instructions (AVX512-BF16, AMX or "
                     "Arm BF16): bf16 is emulated, usually slower than float32")
    why = compile_unavailable() if fast.compile else None
    if why:
        asked = "train.compile = true" if t.compile else "torch.compile (automatic)"
        notes.append(f"{asked} is not available here: {why}; training eagerly instead")
        fast = dataclasses.replace(fast, compile=False)
    return fast, notes


def set_kernels(optimizers: tuple[torch.optim.Optimizer, ...], fast: FastPath) -> None:
    """This run's optimizer kernels (also after a checkpoint restored the saver's)."""
    for opt in optimizers:
        set_fused(opt, fast.fused_adam)
