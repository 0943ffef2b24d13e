"""Speed: gankit's training step against the classic eager loop, in one run, on one device.

(a) the classic loop, written the way pytorch/examples' dcgan/main.py writes it: a sigmoid at the
    end of D and nn.BCELoss, a DataLoader, separate backward passes for real and fake, G's step
    through an unfrozen D on the D step's fake batch, five `.item()` reads per step; at its
    default fp32, with bf16 autocast added as a new user would (where the CPU has bf16 in
    hardware), and at its own best settings (bf16 autocast and the channels-last memory format
    for the convnets);
(b) gankit's Trainer.train_step at its defaults for the device (gankit/train/fastpath.py) and with
    each speed option on its own, data resident on the device, statistics read once at the end of
    the timed window.
Both train the same nets (built from the same preset) with the same batch and optimizer; the
numbers are samples (images) per second of the generator's batch, best of --repeats windows,
every variant of a model and thread count interleaved window by window (A B C A B C ...) so that
background load on a shared machine hits them alike.

Rows: the toy MLP (toy-grid preset), the 28×28 DCGAN (fashion-dcgan preset) and the 64×64 RGB
DCGAN (nz 100, 64 base channels, batch 128, Adam 2e-4 β 0.5), random images, at 1 and 2 threads
on CPU; with CUDA the same three models and the fraction of the GPU's peak dense bf16
throughput that gankit reaches: model FLOPs per image (torch.utils.flop_counter over one
training step) × images/s ÷ peak.

    python -m benchmarks.speed                # CPU here; the GPU rows on a CUDA machine
    python -m benchmarks.speed --quick --no-write
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from benchmarks.report import provenance, write_section
from gankit.config import Config, load_preset
from gankit.nets import build_discriminator, build_generator
from gankit.tasks import build_task
from gankit.train import fastpath
from gankit.train.loop import Trainer

#: Peak dense (no sparsity) bf16 tensor throughput, TFLOP/s, from NVIDIA's data sheets (which
#: quote twice these numbers "with sparsity"); matched against torch.cuda.get_device_name() in
#: this order. The H200 has the H100 SXM's tensor cores and clocks, hence its number.
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.4),
                    ("H200", 989.4), ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0))
PEAK_SOURCE = ("NVIDIA's H100/H200, A100, L40S and L4 data sheets: dense bf16 tensor-core peak, "
               "half the 'with sparsity' figure")
NO_GPU = "not measured: no GPU lent in this session"
#: CPU flags worth naming in the report (vector width, bf16 and int8 hardware)
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
             "amx_bf16", "amx_int8", "bf16")
#: load averages sampled while the windows ran (one per round of windows)
LOADS: list[float] = []


@dataclass
class Model:
    name: str
    cfg: Config
    shape: tuple[int, ...]
    data: torch.Tensor


@dataclass(frozen=True)
class Classic:
    """Settings of the classic loop: torch threads, bf16 autocast, channels-last."""

    threads: int
    amp: bool = False
    channels_last: bool = False


class Synthetic:
    """A task of random samples: speed does not depend on what the pixels show."""

    def __init__(self, data: torch.Tensor) -> None:
        self.data = data
        self.sample_shape = tuple(data.shape[1:])

    def train_data(self) -> torch.Tensor:
        return self.data


def models(cuda: bool, with_64: bool = True) -> list[Model]:
    toy = load_preset("toy-grid")
    out = [Model("toy MLP (toy-grid: 3×256, batch 256)", toy, (2,),
                 build_task(toy).train_data()[:20_000])]
    d28 = load_preset("fashion-dcgan").with_overrides({"eval.metrics": []})
    gen = torch.Generator().manual_seed(0)
    out.append(Model("DCGAN 28×28 (fashion-dcgan: width 64, nz 100, batch 128)", d28, (1, 28, 28),
                     torch.rand(4096, 1, 28, 28, generator=gen) * 2 - 1))
    if with_64:
        out.append(Model("DCGAN 64×64 (RGB, width 64, nz 100, batch 128)", dcgan64(), (3, 64, 64),
                         torch.rand(4096 if cuda else 1024, 3, 64, 64, generator=gen) * 2 - 1))
    return out


def dcgan64() -> Config:
    return load_preset("fashion-dcgan").with_overrides({
        "data.name": "folder", "data.resolution": 64, "data.channels": 3, "eval.metrics": []})


# -- (a) the classic loop -------------------------------------------------------------------------
def classic_step(m: Model, device: torch.device,
                 settings: Classic | None = None) -> Callable[[], None]:
    """One step of the pytorch/examples-style loop per call; with `settings`' bf16 autocast
    around the nets' forward passes (BCELoss on their float32 outputs) and channels-last."""
    cfg, t = m.cfg, m.cfg.train
    settings = settings or Classic(torch.get_num_threads())
    torch.manual_seed(t.seed)
    G = build_generator(cfg, m.shape).to(device)
    D = nn.Sequential(build_discriminator(cfg, m.shape), nn.Sigmoid()).to(device)
    layout = torch.channels_last if settings.channels_last else torch.contiguous_format
    G, D = G.to(memory_format=layout), D.to(memory_format=layout)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(D.parameters(), lr=t.lr_d, betas=t.betas_d)
    opt_g = torch.optim.Adam(G.parameters(), lr=t.lr_g, betas=t.betas_g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(m.data),
                                         batch_size=t.batch_size, shuffle=True, drop_last=True)
    batches = iter(loader)
    nz = cfg.prior.dim

    def amp() -> contextlib.AbstractContextManager:
        return (torch.autocast(device.type, dtype=torch.bfloat16) if settings.amp
                else contextlib.nullcontext())

    def step() -> None:
        nonlocal batches
        try:
            (real,) = next(batches)
        except StopIteration:
            batches = iter(loader)
            (real,) = next(batches)
        real = real.to(device)
        if real.dim() == 4:
            real = real.contiguous(memory_format=layout)
        b = real.shape[0]
        D.zero_grad()
        label = torch.full((b,), 1.0, device=device)
        with amp():
            output = D(real)
        err_d_real = criterion(output.float(), label)
        err_d_real.backward()
        d_x = output.mean().item()
        with amp():
            fake = G(torch.randn(b, nz, device=device))
        label.fill_(0.0)
        with amp():
            output = D(fake.detach())
        err_d_fake = criterion(output.float(), label)
        err_d_fake.backward()
        d_g_z1 = output.mean().item()
        err_d = err_d_real + err_d_fake
        opt_d.step()
        G.zero_grad()
        label.fill_(1.0)
        with amp():
            output = D(fake)
        err_g = criterion(output.float(), label)
        err_g.backward()
        d_g_z2 = output.mean().item()
        opt_g.step()
        _ = (err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2)  # what the example prints

    return step


# -- (b) gankit ---------------------------------------------------------------------------------
def gankit_trainer(m: Model, device: torch.device, overrides: dict) -> Trainer:
    cfg = m.cfg.with_overrides({"train.device": device.type, **overrides})
    return Trainer(cfg, Synthetic(m.data))


def windows(step: Callable[[], None], sync: Callable[[], None], seconds: float) -> float:
    """Steps per second over one window of at least `seconds` (and at least 3 steps)."""
    sync()
    n, start = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - start < seconds:
        step()
        n += 1
    sync()
    return n / (time.perf_counter() - start)


def cuda_sync(device: torch.device) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def trainer_sync(trainer: Trainer) -> Callable[[], None]:
    """Wait for a trainer's queued steps: the one host read of its statistics that gankit makes
    per log interval, then the device."""
    def sync() -> None:
        trainer.acc.tolist()
        cuda_sync(trainer.device)()

    return sync


def steps_per_second(trainer: Trainer, seconds: float, warmup: int = 3) -> float:
    """`warmup` untimed training steps, then the steps per second of one window (`windows`)."""
    for _ in range(warmup):
        trainer.train_step()
    return windows(trainer.train_step, trainer_sync(trainer), seconds)


def compare(m: Model, device: torch.device, classic_threads: dict[str, int | Classic],
            variants: dict[str, dict], seconds: float, repeats: int,
            warmup: int) -> dict[str, tuple[float, float]]:
    """Best-of-`repeats` samples/s of classic loops (name -> threads or `Classic` settings) and
    gankit variants (name -> config overrides; train.threads unset = gankit's choice),
    interleaved window by window.

    Returns name -> (samples/s, seconds of set-up and warm-up, compilation included)."""
    batch = m.cfg.train.batch_size
    runners: dict[str, tuple[Callable[[], None], Callable[[], None], int]] = {}
    warm: dict[str, float] = {}
    for name, settings in classic_threads.items():
        settings = settings if isinstance(settings, Classic) else Classic(settings)
        torch.set_num_threads(settings.threads)
        started = time.perf_counter()
        classic = classic_step(m, device, settings)
        for _ in range(warmup):
            classic()
        runners[name] = (classic, cuda_sync(device), settings.threads)
        warm[name] = time.perf_counter() - started
    for name, overrides in variants.items():
        started = time.perf_counter()
        trainer = gankit_trainer(m, device, overrides)  # sets torch's threads (train.threads)
        for _ in range(warmup):  # torch.compile compiles here, at this thread count
            trainer.train_step()
        trainer_sync(trainer)()
        warm[name] = time.perf_counter() - started
        runners[name] = (trainer.train_step, trainer_sync(trainer), torch.get_num_threads())
    best = {name: 0.0 for name in runners}
    for _ in range(repeats):
        LOADS.append(os.getloadavg()[0])
        for name, (step, sync, threads) in runners.items():
            torch.set_num_threads(threads)
            best[name] = max(best[name], windows(step, sync, seconds) * batch)
    return {name: (best[name], warm[name]) for name in runners}


def flops_per_image(m: Model, batch: int = 8) -> float:
    """Model FLOPs of one gankit training step (k D steps + one G step), per generated image."""
    from torch.utils.flop_counter import FlopCounterMode

    cfg = m.cfg.with_overrides({"train.batch_size": batch, "train.device": "cpu",
                                "train.amp": False, "train.compile": False})
    trainer = Trainer(cfg, Synthetic(m.data[:256]))
    with FlopCounterMode(display=False) as counter:
        trainer.train_step()
    return counter.get_total_flops() / batch


def peak_bf16(device: torch.device) -> float | None:
    name = torch.cuda.get_device_name(device)
    return next((tf * 1e12 for key, tf in PEAK_BF16_TFLOPS if key in name), None)


# -- the report ---------------------------------------------------------------------------------
def fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


#: gankit variants on CPU: name -> overrides (train.threads added per row); "defaults" = none
OFF = {"train.amp": False, "train.channels_last": False, "train.compile": False}
CONV_VARIANTS = {
    "gankit defaults": {},
    "gankit defaults + reused fakes": {"train.fresh_latents_for_g": False},
    "fp32 eager": OFF,
    "fp32 eager + channels-last": {**OFF, "train.channels_last": True},
    "bf16 autocast": {**OFF, "train.amp": True},
    "bf16 autocast + channels-last": {**OFF, "train.amp": True, "train.channels_last": True},
    "bf16 + channels-last + reused fakes": {**OFF, "train.amp": True, "train.channels_last": True,
                                            "train.fresh_latents_for_g": False},
    "fp32 + torch.compile": {**OFF, "train.compile": True},
}
#: the 64×64 DCGAN's windows are long: the variants that decide the defaults only
CONV64_VARIANTS = ("gankit defaults", "gankit defaults + reused fakes", "fp32 eager",
                   "bf16 autocast + channels-last")
MLP_VARIANTS = {
    "gankit defaults": {},
    "gankit defaults + reused fakes": {"train.fresh_latents_for_g": False},
    "fused Adam": {"train.fused_adam": True},
    "bf16 autocast (too coarse for 2-D points)": {"train.amp": True},
}


def cpu_plan(m: Model, quick: bool) -> tuple[dict[str, dict], bool]:
    """(the gankit variants, whether the model is a convnet) for one CPU model."""
    conv = is_conv(m)
    if not conv:
        return dict(MLP_VARIANTS), False
    names = CONV64_VARIANTS if m.shape[-1] == 64 else tuple(CONV_VARIANTS)
    plan = {n: CONV_VARIANTS[n] for n in names}
    if quick:  # no compilation
        plan = {n: {**v, "train.compile": False} for n, v in plan.items()
                if "compile" not in n}
    return plan, True


def classic_plan(conv: bool, threads: int) -> dict[str, Classic]:
    """The classic loop at its default fp32, with bf16 autocast added (where the CPU has bf16 in
    hardware: what a new user would try first) and at its own best settings on this CPU."""
    plan = {"classic fp32": Classic(threads)}
    if conv:
        native = fastpath.cpu_bf16_native()
        if native:
            plan["classic bf16"] = Classic(threads, amp=True)
        plan["classic best"] = Classic(threads, amp=native, channels_last=True)
    return plan


def classic_best_words(conv: bool) -> str:
    if not conv:
        return "fp32 (bf16 is too coarse for 2-D points)"
    return ("bf16 autocast + channels-last" if fastpath.cpu_bf16_native()
            else "channels-last (bf16 emulated here)")


def cpu_rows(args) -> tuple[list[str], list[str]]:
    """Classic vs gankit on CPU at 1 and 2 threads: the headline rows and the sweep."""
    device = torch.device("cpu")
    torch_default = torch.get_num_threads()
    lines, sweep = [], []
    for m in models(cuda=False, with_64=not args.quick):
        variants, conv = cpu_plan(m, args.quick)
        seconds = args.seconds * (4 if m.shape[-1] == 64 else 2 if conv else 1)
        repeats = max(1, args.repeats - 1) if m.shape[-1] == 64 else args.repeats
        for threads in args.threads:
            classics = classic_plan(conv, threads)
            plan = {n: {**v, "train.threads": threads} for n, v in variants.items()}
            res = compare(m, device, classics, plan, seconds, repeats, args.warmup)
            torch.set_num_threads(torch_default)
            base = res["classic fp32"][0]
            bf16 = res.get("classic bf16", (None,))[0]
            best = res.get("classic best", res["classic fp32"])[0]
            for name, (speed, warm) in res.items():
                label = f"{name} ({describe_defaults(m)})" if name == "gankit defaults" else name
                sweep.append(f"| {m.name} | {threads} | {label} | {fmt(speed)} | "
                             f"{speed / base:.2f}× | {speed / best:.2f}× | {warm:.1f} |")
            default = res["gankit defaults"][0]
            vs_bf16 = "–" if bf16 is None else f"**{default / bf16:.2f}×**"
            lines.append(f"| {m.name} | {threads} | {fmt(base)} | "
                         f"{'–' if bf16 is None else fmt(bf16)} | {fmt(best)} | {fmt(default)} | "
                         f"**{default / base:.2f}×** | {vs_bf16} | **{default / best:.2f}×** | "
                         f"{describe_defaults(m)}; classic best: {classic_best_words(conv)} |")
            print(lines[-1], flush=True)
    return lines, sweep


def is_conv(m: Model) -> bool:
    return fastpath.has_conv(build_generator(m.cfg, m.shape), build_discriminator(m.cfg, m.shape))


def describe(m: Model, device: torch.device) -> str:
    return fastpath.resolve(m.cfg.train, device, is_conv(m)).describe()


def describe_defaults(m: Model) -> str:
    """gankit's resolved CPU defaults for the model (torch.compile only where it works here)."""
    fast = fastpath.resolve(m.cfg.train, torch.device("cpu"), is_conv(m))
    if fast.compile and fastpath.compile_unavailable():
        fast = fastpath.FastPath(fast.amp, fast.channels_last, False, fast.fused_adam)
    return fast.describe()


def gpu_rows(args) -> list[str]:
    device = torch.device("cuda")
    peak = peak_bf16(device)
    lines = []
    for m in models(cuda=True):
        res = compare(m, device, {"classic eager loop": torch.get_num_threads()},
                      {"gankit fast path": {}}, args.seconds, args.repeats, max(args.warmup, 20))
        classic, (fast, _) = res["classic eager loop"][0], res["gankit fast path"]
        flops = flops_per_image(m)
        frac = f"{flops * fast / peak:.1%}" if peak else "unknown peak"
        lines.append(f"| {m.name} | {torch.cuda.get_device_name(device)} | {fmt(classic)} | "
                     f"{fmt(fast)} | {fast / classic:.2f}× | {describe(m, device)}; "
                     f"{flops / 1e9:.3f} GFLOP/image, {frac} of peak bf16 |")
        print(lines[-1], flush=True)
    return lines


def cpu_facts() -> str:
    """What the CPU defaults depend on, as found on this machine."""
    flags = [f for f in CPU_FLAGS if f in fastpath.cpu_flags()]
    why = fastpath.compile_unavailable()
    return (f"CPU flags: {', '.join(flags) or 'none of ' + ', '.join(CPU_FLAGS)}; bf16 in "
            f"hardware: {'yes' if fastpath.cpu_bf16_native() else 'no'}; oneDNN: "
            f"{'yes' if torch.backends.mkldnn.is_available() else 'no'}; torch.compile (inductor "
            f"CPU backend): {'works' if why is None else 'unavailable: ' + why}; torch's "
            f"default threads: {torch.get_num_threads()} (inter-op: "
            f"{torch.get_num_interop_threads()}).")


CPU_HEADER = ("| model | threads | classic fp32, samples/s | classic bf16 autocast, samples/s | "
              "classic best, samples/s | gankit defaults, samples/s | vs classic fp32 | "
              "vs classic bf16 | vs classic best | settings |\n"
              "|---|---|---|---|---|---|---|---|---|---|")
NOTES = (
    "Samples/s counts the generator's batch per training step (k = 1 D step + 1 G step). By "
    "default gankit draws fresh latents for the G step (Algorithm 1: a second G forward); "
    "`train.fresh_latents_for_g=false` re-uses the D step's fake batch as the classic loop does. "
    "The classic loop also computes D's weight gradients in the G step, which gankit skips by "
    "freezing D. oneDNN's own operator fusions (convolution + activation) need frozen weights, "
    "an inference-only pass, so no row uses them; torch.compile fuses the element-wise work "
    "around oneDNN's convolutions. The inter-op thread pool is not varied: torch fixes it once "
    "per process, and a training step has no independent operators for it to overlap.")


def report(args, cpu: list[str], sweep: list[str], gpu: list[str], loads: tuple) -> str:
    flops = "\n".join(f"| {m.name} | {flops_per_image(m) / 1e9:.3f} |"
                      for m in models(cuda=False)[1:])
    before, after = loads
    during = f"{min(LOADS):.2f}–{max(LOADS):.2f}" if LOADS else "n/a"
    return (
        "## Speed: gankit vs the classic eager loop\n\n" + provenance() + "\n" + cpu_facts() +
        f"\n\nLoad average (1 min): {before:.2f} when started, {during} during the windows, "
        f"{after:.2f} at the end (a shared machine: best of {args.repeats} windows per variant, "
        f"{args.seconds:g} s for the MLP, twice that for the 28×28 DCGAN, 4× and one window "
        "fewer for the 64×64 one; all variants of a row interleaved).\n\n"
        "### CPU: gankit's defaults against the classic loop\n\n" + CPU_HEADER + "\n" +
        "\n".join(cpu) + "\n\n" + NOTES + "\n\n"
        "### CPU: each option\n\n"
        "| model | threads | variant | samples/s | vs classic fp32 | vs classic best | "
        "warm-up s (compile included) |\n|---|---|---|---|---|---|---|\n" + "\n".join(sweep) +
        "\n\n### GPU\n\n| model | device | classic eager loop, samples/s | gankit, samples/s | "
        "ratio | gankit settings |\n|---|---|---|---|---|---|\n" + "\n".join(gpu) + "\n\n"
        "### Model FLOPs per generated image (one training step, torch.utils.flop_counter)\n\n"
        "| model | GFLOP per image |\n|---|---|\n" + flops + "\n\n"
        "Fraction of peak bf16 throughput (FLOPs per image × images/s ÷ peak): "
        + ("in the GPU rows above." if torch.cuda.is_available() else NO_GPU + ".") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="the MLP's timed window")
    parser.add_argument("--repeats", type=int, default=3, help="windows per variant (best kept)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per variant")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU threads")
    parser.add_argument("--quick", action="store_true",
                        help="short windows, no torch.compile, no 64×64 DCGAN")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.repeats, args.warmup = 0.2, 1, 2
    torch._dynamo.config.recompile_limit = 64  # many compiled trainers in one process
    load = os.getloadavg()[0]
    cpu, sweep = cpu_rows(args)
    gpu = gpu_rows(args) if torch.cuda.is_available() else [
        f"| DCGAN 64×64, DCGAN 28×28, toy MLP | GPU | {NO_GPU} | | | |"]
    body = report(args, cpu, sweep, gpu, (load, os.getloadavg()[0]))
    print(body)
    if not args.no_write:
        print(f"wrote {write_section('speed', body)}")


if __name__ == "__main__":
    main()
