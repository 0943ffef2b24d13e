"""Speed: gankit's training step against the classic eager loop, in one run, on one device.

(a) the classic loop, written the way pytorch/examples' dcgan/main.py writes it: a sigmoid at the
    end of D and nn.BCELoss, a DataLoader, separate backward passes for real and fake, G's step
    through an unfrozen D, five `.item()` reads per step, fp32;
(b) gankit's Trainer.train_step with the device's default fast path (gankit/train/fastpath.py),
    data resident on the device, statistics read once at the end of the timed window.
Both train the same nets (built from the same preset) with the same batch and optimizer; the
numbers are samples (images) per second of the generator's batch, best of --repeats windows of
--seconds each, (a) and (b) interleaved so both see the same load on a shared machine.

Rows: the toy MLP (toy-grid preset) and the 28×28 DCGAN (fashion-dcgan preset, random images) on
every device; on CPU also the settings behind the CPU defaults (threads, compile, bf16, fused
Adam); with CUDA also the 64×64 DCGAN (nz 100, 64 base channels, batch 128, Adam 2e-4 β 0.5) and
the fraction of the GPU's peak dense bf16 throughput that gankit reaches: model FLOPs per image
(torch.utils.flop_counter over one training step) × images/s ÷ peak.

    python -m benchmarks.speed                # CPU here; the GPU rows on a CUDA machine
    python -m benchmarks.speed --quick --no-write
"""

from __future__ import annotations

import argparse
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
from gankit.train.loop import Trainer

#: Peak dense (no sparsity) bf16 tensor throughput, TFLOP/s, from NVIDIA's data sheets (which
#: quote twice these numbers "with sparsity"); matched against torch.cuda.get_device_name() in
#: this order. The H200 has the H100 SXM's tensor cores and clocks, hence its number.
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.4),
                    ("H200", 989.4), ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0))
PEAK_SOURCE = ("NVIDIA's H100/H200, A100, L40S and L4 data sheets: dense bf16 tensor-core peak, "
               "half the 'with sparsity' figure")
NO_GPU = "not measured: no GPU lent in this session"


@dataclass
class Model:
    name: str
    cfg: Config
    shape: tuple[int, ...]
    data: torch.Tensor


class Synthetic:
    """A task of random samples: speed does not depend on what the pixels show."""

    def __init__(self, data: torch.Tensor) -> None:
        self.data = data
        self.sample_shape = tuple(data.shape[1:])

    def train_data(self) -> torch.Tensor:
        return self.data


def models(cuda: bool) -> list[Model]:
    toy = load_preset("toy-grid")
    out = [Model("toy MLP (toy-grid: 3×256, batch 256)", toy, (2,),
                 build_task(toy).train_data()[:20_000])]
    d28 = load_preset("fashion-dcgan").with_overrides({"eval.metrics": []})
    gen = torch.Generator().manual_seed(0)
    out.append(Model("DCGAN 28×28 (fashion-dcgan: width 64, nz 100, batch 128)", d28, (1, 28, 28),
                     torch.rand(4096, 1, 28, 28, generator=gen) * 2 - 1))
    if cuda:
        out.append(Model("DCGAN 64×64 (RGB, width 64, nz 100, batch 128)", dcgan64(), (3, 64, 64),
                         torch.rand(4096, 3, 64, 64, generator=gen) * 2 - 1))
    return out


def dcgan64() -> Config:
    return load_preset("fashion-dcgan").with_overrides({
        "data.name": "folder", "data.resolution": 64, "data.channels": 3, "eval.metrics": []})


# -- (a) the classic loop -------------------------------------------------------------------------
def classic_step(m: Model, device: torch.device) -> Callable[[], None]:
    """One step of the pytorch/examples-style loop per call."""
    cfg, t = m.cfg, m.cfg.train
    torch.manual_seed(t.seed)
    G = build_generator(cfg, m.shape).to(device)
    D = nn.Sequential(build_discriminator(cfg, m.shape), nn.Sigmoid()).to(device)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(D.parameters(), lr=t.lr_d, betas=t.betas_d)
    opt_g = torch.optim.Adam(G.parameters(), lr=t.lr_g, betas=t.betas_g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(m.data),
                                         batch_size=t.batch_size, shuffle=True, drop_last=True)
    batches = iter(loader)
    nz = cfg.prior.dim

    def step() -> None:
        nonlocal batches
        try:
            (real,) = next(batches)
        except StopIteration:
            batches = iter(loader)
            (real,) = next(batches)
        real = real.to(device)
        b = real.shape[0]
        D.zero_grad()
        label = torch.full((b,), 1.0, device=device)
        output = D(real)
        err_d_real = criterion(output, label)
        err_d_real.backward()
        d_x = output.mean().item()
        fake = G(torch.randn(b, nz, device=device))
        label.fill_(0.0)
        output = D(fake.detach())
        err_d_fake = criterion(output, label)
        err_d_fake.backward()
        d_g_z1 = output.mean().item()
        err_d = err_d_real + err_d_fake
        opt_d.step()
        G.zero_grad()
        label.fill_(1.0)
        output = D(fake)
        err_g = criterion(output, label)
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


def compare(m: Model, device: torch.device, classic_threads: dict[str, int],
            variants: dict[str, dict], seconds: float, repeats: int,
            warmup: int) -> dict[str, tuple[float, float]]:
    """Best-of-`repeats` samples/s of classic loops (name -> threads) and gankit variants (name
    -> config overrides; train.threads unset = gankit's choice), interleaved window by window.

    Returns name -> (samples/s, seconds of set-up and warm-up, compilation included)."""
    batch = m.cfg.train.batch_size
    runners: dict[str, tuple[Callable[[], None], Callable[[], None], int]] = {}
    warm: dict[str, float] = {}
    for name, threads in classic_threads.items():
        torch.set_num_threads(threads)
        started = time.perf_counter()
        classic = classic_step(m, device)
        for _ in range(warmup):
            classic()
        runners[name] = (classic, cuda_sync(device), threads)
        warm[name] = time.perf_counter() - started
    for name, overrides in variants.items():
        started = time.perf_counter()
        trainer = gankit_trainer(m, device, overrides)  # sets torch's threads (train.threads)
        for _ in range(warmup):
            trainer.train_step()
        trainer_sync(trainer)()
        warm[name] = time.perf_counter() - started
        runners[name] = (trainer.train_step, trainer_sync(trainer), torch.get_num_threads())
    best = {name: 0.0 for name in runners}
    for _ in range(repeats):
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


def cpu_rows(args) -> tuple[list[str], list[str]]:
    """Classic vs gankit on CPU, as each comes by default, and the sweep behind the defaults."""
    device = torch.device("cpu")
    cores = os.cpu_count() or 1
    torch_default = torch.get_num_threads()
    lines, sweep = [], []
    mlp, d28 = models(cuda=False)
    classics = {"classic, 1 thread": 1, f"classic, {cores} threads": cores}
    toy = {"gankit defaults": {}, "gankit, 1 thread": {"train.threads": 1},
           f"gankit, {cores} threads": {"train.threads": cores},
           "gankit, 1 thread, bf16 autocast": {"train.threads": 1, "train.amp": True},
           "gankit, 1 thread, fused Adam": {"train.threads": 1, "train.fused_adam": True}}
    if not args.quick:
        toy["gankit, 1 thread, torch.compile"] = {"train.threads": 1, "train.compile": True}
    conv = {"gankit defaults": {}, "gankit, 1 thread": {"train.threads": 1},
            f"gankit, {cores} threads": {"train.threads": cores},
            "gankit, 1 thread, channels-last": {"train.threads": 1, "train.channels_last": True},
            "gankit, 1 thread, bf16 autocast": {"train.threads": 1, "train.amp": True}}
    for m, variants, seconds in ((mlp, toy, args.seconds), (d28, conv, 2 * args.seconds)):
        res = compare(m, device, classics, variants, seconds, args.repeats, args.warmup)
        torch.set_num_threads(torch_default)
        same = {1: res["classic, 1 thread"][0], cores: res[f"classic, {cores} threads"][0]}
        for name, (speed, warm) in res.items():
            default = name == "gankit defaults"
            threads = threads_of(m) if default else 1 if "1 thread" in name else cores
            ratio = "" if name.startswith("classic") else f"{speed / same[threads]:.2f}×"
            threads_note = f" ({describe_defaults(m)})" if default else ""
            sweep.append(f"| {m.name} | {name}{threads_note} | {fmt(speed)} | {ratio} | "
                         f"{warm:.1f} |")
        classic = res[f"classic, {cores} threads"][0] if torch_default == cores else \
            res["classic, 1 thread"][0]
        default = res["gankit defaults"][0]
        lines.append(f"| {m.name} | cpu | {fmt(classic)} ({torch_default} threads, torch's "
                     f"default) | {fmt(default)} | {default / classic:.2f}× | gankit's CPU "
                     f"defaults: {describe_defaults(m)} |")
        print(lines[-1], flush=True)
    return lines, sweep


def is_conv(m: Model) -> bool:
    from gankit.train.fastpath import has_conv

    return has_conv(build_generator(m.cfg, m.shape), build_discriminator(m.cfg, m.shape))


def threads_of(m: Model) -> int:
    """The threads gankit's defaults give this model on CPU."""
    return m.cfg.train.threads or torch.get_num_threads()


def describe(m: Model, device: torch.device) -> str:
    from gankit.train.fastpath import resolve

    return resolve(m.cfg.train, device, is_conv(m)).describe()


def describe_defaults(m: Model) -> str:
    return f"{describe(m, torch.device('cpu'))}, {threads_of(m)} thread(s)"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of a timed window")
    parser.add_argument("--repeats", type=int, default=3, help="windows per variant (best kept)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per variant")
    parser.add_argument("--quick", action="store_true", help="short windows, no torch.compile")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.repeats = 0.5, 1
    load = os.getloadavg()[0]
    header = ("| model | device | classic eager loop, samples/s | gankit, samples/s | ratio | "
              "gankit settings |\n|---|---|---|---|---|---|")
    cpu, sweep = cpu_rows(args)
    gpu = gpu_rows(args) if torch.cuda.is_available() else [
        f"| DCGAN 64×64 (RGB, width 64, nz 100, batch 128) | GPU | {NO_GPU} | | | |",
        f"| DCGAN 28×28, toy MLP | GPU | {NO_GPU} | | | |"]
    flops = "\n".join(f"| {m.name} | {flops_per_image(m) / 1e9:.3f} |"
                      for m in [*models(cuda=False)[1:], Model(
                          "DCGAN 64×64 (RGB, width 64, nz 100, batch 128)", dcgan64(),
                          (3, 64, 64), torch.rand(256, 3, 64, 64) * 2 - 1)])
    body = (
        "## Speed: gankit vs the classic eager loop\n\n" + provenance() +
        f"\nLoad average when started: {load:.2f} (a shared machine: best of {args.repeats} "
        f"windows of {args.seconds:g} s per row, classic and gankit interleaved).\n\n"
        + header + "\n" + "\n".join(cpu + gpu) + "\n\n"
        "Samples/s counts the generator's batch per training step (k = 1 D step + 1 G step). "
        "gankit does a little more work per step than the classic loop (a second G forward: "
        "Algorithm 1 draws fresh latents for the G step), the classic loop computes D's weight "
        "gradients in the G step, which gankit skips by freezing D.\n\n"
        "### CPU settings behind the defaults\n\n"
        "| model | variant | samples/s | vs classic | warm-up s (compile included) |\n"
        "|---|---|---|---|---|\n" + "\n".join(sweep) + "\n\n"
        "### Model FLOPs per generated image (one training step, torch.utils.flop_counter)\n\n"
        "| model | GFLOP per image |\n|---|---|\n" + flops + "\n\n"
        "Fraction of peak bf16 throughput (FLOPs per image × images/s ÷ peak): "
        + ("in the GPU rows above." if torch.cuda.is_available() else NO_GPU + ".") + "\n")
    print(body)
    if not args.no_write:
        print(f"wrote {write_section('speed', body)}")


if __name__ == "__main__":
    main()
