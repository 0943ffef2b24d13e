"""One prepared GPU check: every CUDA path of gankit and the long protocols, in one short run.

GPU machines come rarely and briefly, so everything that needs one runs from this one script,
within a total budget, part after part, each in its own process (a crash, a hang or an
out-of-memory in one part is reported with its traceback, and the next part still runs):

    tests        tests/test_cuda.py on the device: sync-free step, bf16 + channels-last + compile
                 + fused Adam, SIGTERM / checkpoint / resume, NaN stop and skip, torchrun
    speed        the classic eager loop vs gankit's fast path (benchmarks/speed.py), toy MLP,
                 DCGAN 28×28 and 64×64 RGB: images/s, FLOPs per image, fraction of peak bf16,
                 and the largest batch that fits
    small_mlp    small MLPs are launch-bound: eager vs torch.compile vs CUDA graphs
                 (reduce-overhead) through gankit's trainer, and several seeds at once with
                 torch.func (benchmarks/multiseed.py) against one seed at a time
    fashion      the Fashion-MNIST DCGAN recipe for a fixed 2 minutes, evaluated as in
                 BENCHMARKS.md (fd_classifier against the noisy-real reference)
    keras_mnist  the Keras MNIST GAN of the implementation notes at its full 10,000 steps
    pacgan       PacGAN's 2-D grid protocol, GAN and PacGAN4, as many of 400,000 steps as fit
    stacked      Stacked MNIST with PacGAN's own nets (the stacked-mnist-pacgan preset: the
                 published protocol), as far as the budget allows

Each part gets a share of what is left of the budget (its nominal seconds, scaled); a part whose
minimum does not fit is skipped with the reason, a part without its data likewise. Results: a
compact JSON and a log under --out. `--write` (or, for a JSON brought back from a GPU machine,
`--record FILE`) puts the numbers into BENCHMARKS.md (section `gpu-check`) and docs/speed.md.

    python benchmarks/gpu_check.py --budget-minutes 8 --out runs/gpu-check   # on the GPU machine
    python benchmarks/gpu_check.py --device cpu --tiny                        # CPU rehearsal
    python benchmarks/gpu_check.py --record runs/gpu-check/gpu-check.json     # write the docs

Nothing is downloaded: MNIST downloads are switched off, and parts whose data is missing are
skipped (bring the data with benchmarks/gpu_bundle.sh; docs/speed.md gives the exact commands).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
BUNDLE = ROOT / ".gpu"
RESULT_NAME, LOG_NAME = "gpu-check.json", "gpu-check.log"
SPEED_MD = ROOT / "docs" / "speed.md"
PAPER_PACGAN_STEPS = 400_000
PACGAN_GOAL = "PacGAN4 ≥ 24.5 of 25 modes, reverse KL ≤ 0.05, at 400,000 steps"
NO_DOWNLOAD = {"GANKIT_MNIST_MIRRORS": "http://127.0.0.1:9/no-download-during-the-gpu-check/"}


@dataclass(frozen=True)
class Part:
    name: str
    full: float  # nominal seconds in a full run (the defaults sum to 8 minutes)
    tiny: float  # nominal seconds with --tiny
    minimum: float  # below this share (full run) the part is skipped
    what: str
    data: str = ""  # the data set it cannot run without (checked before it starts)


PARTS = (
    Part("tests", 75, 25, 30, "CUDA tests (tests/test_cuda.py)"),
    Part("speed", 120, 10, 30, "classic eager loop vs gankit fast path; FLOPs; largest batch"),
    Part("small_mlp", 30, 8, 10, "small MLPs: compile modes, several seeds with torch.func"),
    Part("fashion", 150, 10, 140, "Fashion-MNIST DCGAN recipe, 2 minutes of training"),
    Part("keras_mnist", 60, 5, 30, "Keras MNIST GAN of the implementation notes, 10,000 steps",
         "mnist"),
    Part("pacgan", 30, 8, 20, "PacGAN 2-D grid, GAN and PacGAN4, up to 400,000 steps"),
    Part("stacked", 15, 5, 10, "Stacked MNIST (1,000 modes), up to the published length",
         "mnist"),
)
BY_NAME = {p.name: p for p in PARTS}


def fail(message: str) -> None:
    """Bad input: one line and exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


class Skip(Exception):
    """A part that cannot run here (missing data, no CUDA): reported with its reason."""


# ------------------------------------------------------------------------------------------------
# the parts (each runs in a child process: `gpu_check.py --part NAME ...`)
# ------------------------------------------------------------------------------------------------
def part_tests(a: argparse.Namespace) -> dict:
    junit = Path(a.work) / "tests.xml"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-v",
           "-rs",
           f"--junitxml={junit}", "tests/test_cuda.py",
           "tests/test_fastpath.py::test_the_cuda_step_makes_no_host_synchronisation"]
    deselected = []
    env = {**os.environ, "GANKIT_TEST_DEVICE": a.device, "PYTHONUNBUFFERED": "1"}
    if a.tiny:  # plumbing only: no compilation, no process start-ups (each costs seconds)
        cmd += ["-k", "not torchrun and not compiled"]
        env["GANKIT_TEST_COMPILE"] = "0"
        deselected.append("--tiny: the two torchrun tests and the compiled sync-free step; "
                          "torch.compile off")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:  # stop before the parent's kill, so that the tests done so far are reported
        output, _ = proc.communicate(timeout=max(5.0, a.deadline - time.time() - 5))
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        timed_out = True
    print(output, flush=True)
    outcomes = junit_outcomes(junit) if junit.exists() and not timed_out else {}
    if not outcomes:  # killed: the verbose lines say what finished
        for name, word in re.findall(r"^tests/\S+?::(\S+) (PASSED|FAILED|SKIPPED|ERROR)",
                                     output, re.M):
            outcomes[name] = {"PASSED": "passed", "SKIPPED": "skipped"}.get(word, "failed")
    counts = {k: sum(v.startswith(k) for v in outcomes.values())
              for k in ("passed", "failed", "skipped")}
    result = {"tests": outcomes, **counts, "deselected": deselected,
              "pytest_rc": None if timed_out else proc.returncode}
    if timed_out:
        result |= {"status": "timeout", "reason": f"pytest stopped at the part's deadline after "
                   f"{len(outcomes)} tests ({counts['failed']} failed)"}
    elif proc.returncode != 0 or counts["failed"] or not outcomes:
        result |= {"status": "failed",
                   "reason": f"pytest exit {proc.returncode}, {counts['failed']} failed"}
    return result


def junit_outcomes(junit: Path) -> dict[str, str]:
    import xml.etree.ElementTree as ET

    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "?")
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if bad is not None:
            outcomes[name] = "failed: " + (bad.get("message") or "")[:300]
        elif skipped is not None:
            outcomes[name] = "skipped: " + (skipped.get("message") or "")[:200]
        else:
            outcomes[name] = "passed"
    return outcomes


def save_partial(a: argparse.Namespace, result: dict) -> None:
    """What a part has measured so far: reported even if the part is killed later."""
    (Path(a.work) / f"{a.part}.partial.json").write_text(json.dumps(result, default=str))


def tiny_over(a: argparse.Namespace) -> dict:
    """--tiny checks the plumbing: torch.compile (tens of seconds per net) stays off."""
    return {"train.compile": False} if a.tiny else {}


def speed_models(a: argparse.Namespace) -> list:
    """The three models of benchmarks/speed.py; with --tiny, the same nets at toy widths."""
    import speed
    import torch

    full = [*speed.models(cuda=True)[:2], speed.Model(
        "DCGAN 64×64 (RGB, width 64, nz 100, batch 128)", speed.dcgan64(), (3, 64, 64),
        torch.rand(4096, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1)]
    if not a.tiny:
        return full
    small = {"model.g_width": 8, "model.d_width": 8, "train.batch_size": 16}
    return [speed.Model(m.name.split(" (")[0] + " (tiny: width 8, batch 16)",
                        m.cfg.with_overrides({**small, **({"prior.dim": 16} if i else {})}),
                        m.shape, m.data[:256]) for i, m in enumerate(full)]


def largest_batch(m, device, seconds: float, first: int, max_batch: int,
                  over: dict) -> dict:
    """Double the batch of one trainer (compiled once, then with dynamic shapes) until out of
    memory, `max_batch` or the time is spent; samples/s and peak memory per size."""
    import speed
    import torch

    from gankit.data.sampler import EpochSampler
    from gankit.train.loop import Trainer
    from gankit.train.memory import peak_memory, reset_peak

    cuda = device.type == "cuda"
    cfg = m.cfg.with_overrides({"train.device": device.type, "train.batch_size": first,
                                **over})
    data = m.data.to(device)
    trainer = Trainer(cfg, speed.Synthetic(data[:max(first, 256)]))
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    deadline = time.perf_counter() + seconds
    rows, batch, oom = [], first, None
    while batch <= max_batch and time.perf_counter() < deadline:
        try:
            if data.shape[0] < batch:  # random images on the device, as many as one batch
                data = torch.rand(batch, *m.shape, device=device) * 2 - 1
            trainer.sampler = EpochSampler(data[:batch], batch, seed=0)
            trainer.d_batches = 0
            reset_peak(device)
            for _ in range(2):
                trainer.train_step()
            trainer.acc.tolist()
            sync()
            window = min(1.0, max(0.1, (deadline - time.perf_counter()) / 8))
            n, start = 0, time.perf_counter()
            while n < 2 or time.perf_counter() - start < window:
                trainer.train_step()
                n += 1
            trainer.acc.tolist()
            sync()
            rate = n * batch / (time.perf_counter() - start)
            rows.append({"batch": batch, "samples_per_s": rate,
                         "peak_mib": round(peak_memory(device)[0], 1)})
            print(f"  batch {batch}: {rate:,.0f} samples/s", flush=True)
        except Exception as e:
            if isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower():
                oom = batch
                break
            raise
        batch *= 2
    if cuda:
        torch.cuda.empty_cache()
    fits = max((r["batch"] for r in rows), default=0)
    if oom:
        note = f"out of memory at {oom}: the largest batch that fits is between {fits} and {oom}"
    elif batch > max_batch:
        note = f"no out-of-memory up to {fits} (the search stops at {max_batch})"
    else:
        note = f"time ran out: {fits} fits, larger sizes not tried"
    return {"rows": rows, "largest_fitting": fits, "oom_at": oom, "note": note}


def matmul_tflops(device, n: int, reps: int = 10) -> float:
    """bf16 n×n×n matrix products per second, in TFLOP/s: what the GPU delivers in practice,
    beside the data sheet's peak (mean of `reps` after 3 warm-ups)."""
    import torch

    x = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    y = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        x @ y
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(reps):
        x @ y
    sync()
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e12


def part_speed(a: argparse.Namespace) -> dict:
    import speed
    import torch

    device = torch.device(a.device)
    cuda = device.type == "cuda"
    peak = speed.peak_bf16(device) if cuda else None
    started, models = time.perf_counter(), speed_models(a)
    weights = (0.2, 0.3, 0.5)  # of the share: the 64×64 DCGAN's batch search matters most
    ends = [started + a.seconds * sum(weights[:i + 1]) for i in range(len(models))]
    out: dict[str, Any] = {"models": [], "peak_bf16_tflops": peak / 1e12 if peak else None,
                           "peak_source": speed.PEAK_SOURCE,
                           "matmul_bf16_tflops": matmul_tflops(device, 8192 if cuda and
                                                               not a.tiny else 256),
                           "matmul_size": 8192 if cuda and not a.tiny else 256}
    for i, m in enumerate(models):
        if time.time() > a.deadline - 20:
            out["models"].append({"model": m.name, "skipped": "the part's time ran out"})
            out["out_of_time"] = True
            continue
        torch._dynamo.reset()
        window = max(0.1, a.seconds * weights[i] * 0.2 / 4)  # 2 variants × 2 repeats
        res = speed.compare(m, device, {"classic eager loop": torch.get_num_threads()},
                            {"gankit fast path": tiny_over(a)}, window, 2,
                            2 if a.tiny else 20)
        classic, fast = res["classic eager loop"][0], res["gankit fast path"][0]
        flops = speed.flops_per_image(m)
        row: dict[str, Any] = {
            "model": m.name, "batch": m.cfg.train.batch_size, "classic_samples_per_s": classic,
            "fast_samples_per_s": fast, "ratio": fast / classic,
            "fast_path": speed.describe(speed.Model(m.name, m.cfg.with_overrides(tiny_over(a)),
                                                    m.shape, m.data), device),
            "gflop_per_image": flops / 1e9,
            "warmup_s": res["gankit fast path"][1],
            "peak_fraction": flops * fast / peak if peak else None}
        print(json.dumps(row), flush=True)
        if i > 0:  # the DCGANs: batch search, in what is left of this model's share
            torch._dynamo.reset()
            left = max(ends[i] - time.perf_counter(), a.seconds * weights[i] * 0.3)
            sweep = largest_batch(m, device, left, m.cfg.train.batch_size,
                                  64 if a.tiny else 1 << 17, tiny_over(a))
            best = max(sweep["rows"], key=lambda r: r["samples_per_s"], default=None)
            row["batch_search"] = sweep
            if best:
                row["best_batch"] = best["batch"]
                row["best_samples_per_s"] = best["samples_per_s"]
                row["best_peak_fraction"] = flops * best["samples_per_s"] / peak if peak else None
        out["models"].append(row)
        save_partial(a, out)
    return out


def part_small_mlp(a: argparse.Namespace) -> dict:
    import multiseed
    import speed
    import torch

    from gankit.config import load_preset
    from gankit.tasks import build_task
    from gankit.train.loop import Trainer

    device = torch.device(a.device)
    cuda = device.type == "cuda"
    cfg = load_preset("toy-grid-pacgan").with_overrides(
        {"train.device": a.device, "data.n_train": 10_000, "eval.metrics": []})
    if a.tiny:
        cfg = cfg.with_overrides({"model.g_width": 32, "model.d_width": 32})
    task = build_task(cfg)
    variants = {"eager": {"train.compile": False}}
    if not a.tiny:
        variants |= {"compile default": {"train.compile": True},
                     "compile reduce-overhead (CUDA graphs)": {
                         "train.compile": True, "train.compile_mode": "reduce-overhead"}}
    window = max(0.2, a.seconds * 0.45 / len(variants) / 2)
    trainer_rows = {}
    for name, over in variants.items():
        torch._dynamo.reset()
        try:
            t = Trainer(cfg.with_overrides(over), task)
            start = time.perf_counter()
            for _ in range(20 if cuda else 3):
                t.train_step()
            t.acc.tolist()
            warm = time.perf_counter() - start
            rate = max(speed.windows(t.train_step, lambda t=t: (t.acc.tolist(),
                                                                 speed.cuda_sync(device)()),
                                     window) for _ in range(2))
            trainer_rows[name] = {"steps_per_s": rate, "warmup_s": warm,
                                  "finite": bool(torch.isfinite(t.acc).all()), "overrides": over}
        except Exception as e:  # one failing mode (e.g. CUDA graphs) does not end the part
            trainer_rows[name] = {"error": f"{type(e).__name__}: {str(e)[:300]}",
                                  "overrides": over}
            traceback.print_exc()
        print(name, json.dumps(trainer_rows[name]), flush=True)
        save_partial(a, {"trainer": trainer_rows})
        ok = {k: v for k, v in trainer_rows.items() if "steps_per_s" in v and v["finite"]}
        (Path(a.work) / "trainer_modes.json").write_text(json.dumps(ok))  # for the PacGAN part
    choice = max(ok, key=lambda k: ok[k]["steps_per_s"]) if ok else "eager"
    seeds, width, batch = (3, 32, 64) if a.tiny else (8, 256, 256)
    seed_rows = {}
    hows = ["sequential", "vmap"] + (["vmap+compile"] if cuda and not a.tiny else [])
    for how in hows:
        torch._dynamo.reset()
        try:
            seed_rows[how] = multiseed.measure(how, seeds, device,
                                               max(0.2, a.seconds * 0.35 / len(hows)),
                                               batch=batch, width=width)
        except Exception as e:
            seed_rows[how] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
            traceback.print_exc()
        print(how, json.dumps(seed_rows[how]), flush=True)
        save_partial(a, {"trainer": trainer_rows, "multiseed": seed_rows})
    good = {k: v for k, v in seed_rows.items() if "seed_steps_per_s" in v and v["finite"]}
    multi = max(good, key=lambda k: good[k]["seed_steps_per_s"]) if good else None
    return {"trainer": trainer_rows, "trainer_choice": choice, "config": "toy-grid-pacgan, GAN",
            "multiseed": seed_rows, "multiseed_choice": multi,
            "multiseed_setup": f"{seeds} seeds of a plain {width}-wide 3-layer MLP GAN, "
                               f"batch {batch}"}


def find_data(name: str) -> str:
    """The folder holding `name`'s IDX files; Skip (never a download) when it is missing."""
    from gankit.data.mnist import locate
    from gankit.errors import DataError

    try:
        return str(Path(locate(name, download=False)[("train", "images")]).parent)
    except DataError as e:
        raise Skip(f"{name} is not on this machine ({e})") from None


def train_for(preset: str, over: dict, seconds: float, run_dir: Path,
              grid_to: Path | None = None) -> dict:
    """Train a preset until its steps or `seconds` of wall clock, evaluate; the metrics."""
    import torch

    from gankit import run
    from gankit.config import load_preset

    cfg = load_preset(preset).with_overrides(over)
    trainer = run.start(cfg, run_dir, force=True)
    started = time.perf_counter()

    def budget(tr) -> None:
        if time.perf_counter() - started >= seconds:
            tr.request_stop("budget")

    run.train(trainer, budget)
    wall = time.perf_counter() - started
    result = run.evaluate(trainer)
    from gankit.tasks.images import ImageTask

    if grid_to is not None and isinstance(trainer.task, ImageTask):
        from gankit.viz.grids import save_grid

        save_grid(grid_to, trainer.task.fixed_grid(trainer), scale=1)
    peak = torch.cuda.max_memory_allocated() / 2**20 if trainer.device.type == "cuda" else None
    return {"preset": preset, "overrides": {k: str(v) for k, v in over.items()},
            "steps": trainer.step, "target_steps": cfg.train.steps,
            "train_seconds": round(wall, 1), "steps_per_s": trainer.step / max(wall, 1e-9),
            "fast_path": trainer.fast.describe(), "peak_cuda_mib": peak,
            **{k: v for k, v in result.items() if k != "step"}}


def part_fashion(a: argparse.Namespace) -> dict:
    from gankit.config import load_preset
    from gankit.tasks import build_task

    over: dict[str, Any] = {"train.device": a.device, "train.steps": 1_000_000,
                            "train.ckpt_every": 1_000_000, "train.frame_every": 1_000_000}
    classifier_s = None
    if a.tiny:  # toy nets, no classifier metrics (training it takes minutes on a CPU)
        try:
            preset, note = "fashion-dcgan", f"Fashion-MNIST from {find_data('fashion-mnist')}"
        except Skip:
            preset, note = "digits-tiny", "scikit-learn's 8×8 digits (no Fashion-MNIST here)"
        minutes = min(a.seconds / 60 / 3, 0.05)
        over |= {"eval.metrics": [], "eval.n_samples": 200, "model.g_width": 8,
                 "model.d_width": 8, "prior.dim": 16, **tiny_over(a)}
    else:
        data = find_data("fashion-mnist")
        preset, minutes, note = "fashion-dcgan", 2.0, f"Fashion-MNIST from {data}"
        over["eval.n_samples"] = 10_000
        started = time.perf_counter()  # the domain classifier: cached, or trained now (CPU)
        build_task(load_preset(preset)).classifier()
        classifier_s = round(time.perf_counter() - started, 1)
        print(f"domain classifier ready in {classifier_s} s", flush=True)
    grid = Path(a.out) / "fashion-grid.png"
    row = train_for(preset, over, minutes * 60, Path(a.work) / "fashion", grid)
    row["classifier_seconds"] = classifier_s
    ratio = row["fd_classifier"] / row["fd_classifier_noisy"] if "fd_classifier_noisy" in row \
        else None
    return {"minutes": minutes, "data": note, "grid": grid.name, **row,
            "fd_over_noisy": ratio, "goal": "fd_classifier ≤ 0.3 × the noisy-real reference",
            "goal_met": None if ratio is None else ratio <= 0.3}


def keras_preset() -> str:
    """The preset of the Keras MNIST GAN of the implementation notes."""
    return "keras-mnist"


def part_keras_mnist(a: argparse.Namespace) -> dict:
    data = find_data("mnist")
    over: dict[str, Any] = {"train.device": a.device, "data.download": False}
    reserve = 10 if a.tiny else 45  # evaluation: 10,000 samples through the classifier
    if a.tiny:
        over |= {"train.steps": 20, "train.pretrain_d_samples": 64, "eval.metrics": [],
                 "eval.n_samples": 200, "model.g_width": 16, "model.d_width": 16,
                 **tiny_over(a)}
    row = train_for(keras_preset(), over, max(1.0, a.seconds - reserve),
                    Path(a.work) / "keras-mnist")
    return {"data": data, **row, "finished": row["steps"] >= row["target_steps"]}


def part_pacgan(a: argparse.Namespace) -> dict:
    import torch

    methods = {"GAN": 1, "PacGAN4": 4}
    reserve = 3 if a.tiny else 8  # per method: evaluation on 2,500 samples
    each = max(1.0, a.seconds / len(methods) - reserve)
    # the trainer mode (eager, compiled, CUDA graphs) measured by small_mlp that does the most
    # steps in this time, its warm-up (compilation) included; the device default without it
    modes_file = Path(a.work) / "trainer_modes.json"
    modes = json.loads(modes_file.read_text()) if modes_file.exists() else {}
    best = max(modes, key=lambda k: modes[k]["steps_per_s"] * max(0.0, each - modes[k][
        "warmup_s"]), default=None)
    choice = modes[best]["overrides"] if best else {}
    rows = {}
    for name, pack in methods.items():
        torch._dynamo.reset()
        over = {"train.device": a.device, "train.pack": pack, "train.batch_size": 100 * pack,
                "train.ckpt_every": 1_000_000, "train.frame_every": 1_000_000, **choice,
                **tiny_over(a)}
        if a.tiny:
            over |= {"model.g_width": 32, "model.d_width": 32, "train.steps": 200,
                     "eval.n_samples": 500}
        row = train_for("toy-grid-pacgan", over, each, Path(a.work) / f"pacgan-{name}")
        row["fraction_of_paper_steps"] = row["steps"] / PAPER_PACGAN_STEPS
        rows[name] = row
        print(name, json.dumps(row), flush=True)
        save_partial(a, {"methods": rows})
    p4 = rows["PacGAN4"]
    met = p4["modes"] >= 24.5 and p4["reverse_kl"] <= 0.05
    return {"methods": rows, "trainer_mode": best or "the device's default fast path",
            "goal": PACGAN_GOAL,
            "goal_met": met if p4["steps"] >= PAPER_PACGAN_STEPS else None}


def part_stacked(a: argparse.Namespace) -> dict:
    data = find_data("mnist")
    over: dict[str, Any] = {"train.device": a.device, "data.download": False,
                            "train.ckpt_every": 1_000_000, "train.frame_every": 1_000_000}
    if a.tiny:
        over |= {"train.steps": 20, "eval.metrics": [], "eval.n_samples": 200,
                 "model.g_width": 8, "model.d_width": 8, "data.n_train": 1000,
                 **tiny_over(a)}
    row = train_for("stacked-mnist-pacgan", over, max(1.0, a.seconds - (5 if a.tiny else 30)),
                    Path(a.work) / "stacked")
    return {"data": data, **row, "finished": row["steps"] >= row["target_steps"]}


RUNNERS = {"tests": part_tests, "speed": part_speed, "small_mlp": part_small_mlp,
           "fashion": part_fashion, "keras_mnist": part_keras_mnist, "pacgan": part_pacgan,
           "stacked": part_stacked}


def child(a: argparse.Namespace) -> None:
    """Run one part in this process and write its result (status, reason, numbers)."""
    import torch

    if a.device == "cpu":
        torch.set_num_threads(1)
    result_file = Path(a.work) / f"{a.part}.json"
    started = time.perf_counter()
    try:
        result = {"status": "ok", **RUNNERS[a.part](a)}
        if result["status"] == "ok" and result.pop("out_of_time", False):
            result |= {"status": "timeout", "reason": "the share ran out before the part's end"}
    except Skip as e:
        result = {"status": "skipped", "reason": str(e)}
    except BaseException as e:
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        result = {"status": "failed", "reason": f"{type(e).__name__}: {str(e)[:500]}",
                  "traceback": tb[-4000:]}
    result["seconds"] = round(time.perf_counter() - started, 1)
    result_file.write_text(json.dumps(result, default=str))


# ------------------------------------------------------------------------------------------------
# the parent: budget, children, log, JSON
# ------------------------------------------------------------------------------------------------
def facts(device: str) -> dict:
    """Machine, GPU, versions, data found, command, date, commit: the provenance of the run."""
    import torch

    from gankit.bench.tables import machine

    meta: dict[str, Any] = {
        "command": "python " + shlex.join([f"benchmarks/{Path(sys.argv[0]).name}",
                                           *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "python": platform.python_version(), "torch": torch.__version__,
        "cuda": torch.version.cuda, "device": device, "commit": commit()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        meta |= {"gpu": torch.cuda.get_device_name(0),
                 "gpu_memory_gib": round(props.total_memory / 2**30, 1),
                 "multiprocessors": props.multi_processor_count}
        if shutil.which("nvidia-smi"):
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,"
                                  "noheader"], capture_output=True, text=True)
            meta["driver"] = smi.stdout.strip() or None
    data = {}
    for name in ("fashion-mnist", "mnist"):
        try:
            data[name] = find_data(name)
        except Skip:
            data[name] = None
    meta["data"] = data
    return meta


def commit() -> str:
    """The git commit (and whether the tree differed), or the one gpu_bundle.sh recorded."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        recorded = BUNDLE / "COMMIT"
        return recorded.read_text().strip() if recorded.exists() else "unknown"


def shares(left: float, todo: list[Part], tiny: bool) -> float:
    """This part's seconds: its nominal share of what is left (at least its minimum)."""
    nominal = [p.tiny if tiny else p.full for p in todo]
    share = left * nominal[0] / sum(nominal)
    if tiny:
        return min(share, nominal[0])
    return max(share, min(todo[0].minimum, left))


def run_parts(a: argparse.Namespace) -> dict:
    out, work = Path(a.out), Path(a.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    log_path = out / LOG_NAME
    budget = a.budget_minutes * 60
    deadline = time.monotonic() + budget
    grace = a.grace if a.grace is not None else 30 if a.tiny else 45  # imports, overruns
    env = {**os.environ, **NO_DOWNLOAD, "PYTHONUNBUFFERED": "1"}
    if "GANKIT_CACHE_DIR" not in env:  # a copy: the bundle's trained classifiers stay as they are
        if (BUNDLE / "cache").is_dir():
            shutil.copytree(BUNDLE / "cache", work / "cache", dirs_exist_ok=True)
        env["GANKIT_CACHE_DIR"] = str(work / "cache")
    if (BUNDLE / "data").is_dir():
        env.setdefault("GANKIT_DATA_DIR", str(BUNDLE / "data"))
    os.environ.update({k: env[k] for k in ("GANKIT_CACHE_DIR", "GANKIT_MNIST_MIRRORS",
                                           *(["GANKIT_DATA_DIR"] if "GANKIT_DATA_DIR" in env
                                             else []))})
    results: dict[str, Any] = {"meta": {**facts(a.device), "budget_minutes": a.budget_minutes,
                                        "tiny": a.tiny}, "parts": {}}
    todo = [BY_NAME[n] for n in a.parts]
    with open(log_path, "w") as log:
        log.write(json.dumps(results["meta"], indent=1) + "\n")
        while todo:
            part = todo[0]
            left = deadline - time.monotonic()
            found = results["meta"]["data"]
            missing = part.data and not found.get(part.data)
            seconds = 0.0 if missing else shares(
                left, [p for p in todo if not p.data or found.get(p.data)], a.tiny)
            if missing:
                res = {"status": "skipped", "reason": f"no {part.data} data on this machine "
                       "(bring it with benchmarks/gpu_bundle.sh; nothing is downloaded here)"}
            elif left < (part.tiny / 2 if a.tiny else part.minimum):
                res = {"status": "skipped", "reason": f"budget: {left:.0f} s left, the part "
                       f"needs at least {part.minimum if not a.tiny else part.tiny / 2:.0f} s"}
            else:
                res = run_child(a, part, seconds, seconds + grace, env, log)
            results["parts"][part.name] = res
            line = f"{part.name}: {res['status']}" + (f" ({res['reason']})"
                                                      if res.get("reason") else "")
            ran = f" in {res.get('seconds', 0):.0f} s (share {seconds:.0f} s)" \
                if res["status"] != "skipped" or "seconds" in res else ""
            print(f"[{time.strftime('%H:%M:%S')}] {line}{ran}", flush=True)
            log.write(f"== {line}\n")
            log.flush()
            todo = todo[1:]
            results["meta"]["wall_seconds"] = round(budget - (deadline - time.monotonic()), 1)
            (out / RESULT_NAME).write_text(json.dumps(results, indent=1, default=str) + "\n")
    return results  # written after every part: a run killed from outside keeps what it did


def run_child(a: argparse.Namespace, part: Part, seconds: float, timeout: float, env: dict,
              log) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part.name, "--seconds",
           f"{seconds:.1f}", "--deadline", f"{time.time() + timeout:.0f}", "--device", a.device,
           "--out", str(a.out), "--work", str(a.work)]
    if a.tiny:
        cmd.append("--tiny")
    log.write(f"\n== {part.name}: {part.what}; share {seconds:.0f} s\n$ {shlex.join(cmd)}\n")
    log.flush()
    result_file = Path(a.work) / f"{part.name}.json"
    partial = Path(a.work) / f"{part.name}.partial.json"
    result_file.unlink(missing_ok=True)
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the part and whatever it started (pytest, torchrun)
        proc.wait()
        done = json.loads(partial.read_text()) if partial.exists() else {}
        return {**done, "status": "timeout",
                "seconds": round(time.perf_counter() - started, 1),
                "reason": f"killed after {timeout:.0f} s (share {seconds:.0f} s + grace)"
                          + ("; what it had measured is kept" if done else "")}
    if result_file.exists():
        res = json.loads(result_file.read_text())
        if rc != 0 and res["status"] == "ok":
            res |= {"status": "failed", "reason": f"exit code {rc}"}
        return res
    return {"status": "failed", "seconds": round(time.perf_counter() - started, 1),
            "reason": f"the part's process ended with exit code {rc} and no result "
                      "(see the log for its traceback)"}


# ------------------------------------------------------------------------------------------------
# the report: BENCHMARKS.md (section gpu-check) and docs/speed.md
# ------------------------------------------------------------------------------------------------
def f(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.{digits}g}"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def status_line(name: str, res: dict) -> str:
    return f"| {name} | {res['status']} | {res.get('seconds', 0):.0f} | " \
           f"{(res.get('reason') or '').replace('|', '/')[:200]} |"


def render(results: dict, grid: str | None = None) -> tuple[str, str]:
    """(the BENCHMARKS.md section body, the docs/speed.md block) from a run's JSON; `grid`: the
    Fashion-MNIST sample grid's path in the repository, if recorded."""
    m, parts = results["meta"], results["parts"]
    lines = [
        "## GPU check (benchmarks/gpu_check.py)", "",
        f"Command: `{m['command']}`  ",
        f"Machine: {m['machine']}; GPU {m.get('gpu', 'none')} ({m.get('gpu_memory_gib', '?')} "
        f"GiB, driver {m.get('driver', '?')}); torch {m['torch']}, CUDA {m['cuda']}; "
        f"{m['date']}  ", f"Commit: {m['commit']}; budget {m['budget_minutes']:g} min, "
        f"wall {m.get('wall_seconds', 0):.0f} s", "",
        "| part | status | seconds | reason |", "|---|---|---|---|"]
    lines += [status_line(n, r) for n, r in parts.items()]
    t = parts.get("tests", {})
    if t.get("tests"):
        lines += ["", f"CUDA tests: {t.get('passed', 0)} passed, {t.get('failed', 0)} failed, "
                  f"{t.get('skipped', 0)} skipped."]
        lines += [f"- `{k}`: {v}" for k, v in t["tests"].items() if not v.startswith("passed")]
    s, speed_table = parts.get("speed", {}), []
    if s.get("models"):
        lines += ["", "### Speed: classic eager loop vs gankit fast path, side by side", "",
                  f"Peak dense bf16: {f(s.get('peak_bf16_tflops'))} TFLOP/s "
                  f"({s.get('peak_source', '')}); a {s.get('matmul_size')}³ bf16 matrix product "
                  f"ran at {f(s.get('matmul_bf16_tflops'))} TFLOP/s here.", "",
                  "| model | batch | classic, samples/s | gankit, samples/s | ratio | GFLOP/image "
                  "| % of peak bf16 | best batch: samples/s, % of peak | largest batch | "
                  "fast path |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in s["models"]:
            if "skipped" in r:
                lines.append(f"| {r['model']} | not measured: {r['skipped']} |" + " |" * 8)
                continue
            sweep = r.get("batch_search", {})
            best = (f"{r['best_batch']}: {f(r['best_samples_per_s'])}, "
                    f"{pct(r.get('best_peak_fraction'))}") if r.get("best_batch") else "—"
            lines.append(
                f"| {r['model']} | {r['batch']} | {f(r['classic_samples_per_s'])} | "
                f"{f(r['fast_samples_per_s'])} | {r['ratio']:.2f}× | {r['gflop_per_image']:.3f}"
                f" | {pct(r.get('peak_fraction'))} | {best} | {sweep.get('note', '—')} | "
                f"{r['fast_path']} |")
        speed_table = lines[-len(s["models"]) - 2:]
    mlp = parts.get("small_mlp", {})
    if mlp.get("trainer"):
        config = mlp.get("config", "toy-grid-pacgan, GAN")
        lines += ["", f"### Small MLPs ({config}; one seed, gankit's trainer)", "",
                  "| variant | steps/s | warm-up s |", "|---|---|---|"]
        for k, v in mlp["trainer"].items():
            lines.append(f"| {k} | {f(v.get('steps_per_s'))} | {f(v.get('warmup_s'))} |"
                         if "error" not in v else f"| {k} | failed: {v['error'][:120]} | |")
        lines += ["", f"Fastest once warm: {mlp.get('trainer_choice', '—')}; the PacGAN part "
                  "takes the mode that does the most steps in its time, warm-up included.", "",
                  f"Several seeds in one process ({mlp.get('multiseed_setup', '')}):", "",
                  "| how | seed-steps/s | warm-up s |", "|---|---|---|"]
        for k, v in mlp.get("multiseed", {}).items():
            lines.append(f"| {k} | {f(v.get('seed_steps_per_s'))} | {f(v.get('warmup_s'))} |"
                         if "error" not in v else f"| {k} | failed: {v['error'][:120]} | |")
        lines += ["", f"Faster: {mlp.get('multiseed_choice', '—')}."]
    fa = parts.get("fashion", {})
    if fa.get("status") == "ok":
        lines += ["", f"### Fashion-MNIST DCGAN recipe, {fa['minutes']:g} minutes on the GPU", "",
                  f"{fa['data']}; {fa['steps']:,} G steps in {fa['train_seconds']:.0f} s "
                  f"({fa['fast_path']}); evaluation on {fa['n_samples']:,} samples as in the "
                  "`images` section.", "",
                  "| fd_classifier | floor | noisy ref | blurred ref | ÷ noisy ref | KID | IS | "
                  "classes | goal (≤ 0.3× noisy) |", "|---|---|---|---|---|---|---|---|---|",
                  f"| {f(fa.get('fd_classifier'))} | {f(fa.get('fd_classifier_floor'))} | "
                  f"{f(fa.get('fd_classifier_noisy'))} | {f(fa.get('fd_classifier_blurred'))} | "
                  f"{f(fa.get('fd_over_noisy'))} | {f(fa.get('kid_classifier'))} | "
                  f"{f(fa.get('is_classifier'))} | {f(fa.get('classes_present'))} | "
                  f"{'met' if fa.get('goal_met') else 'not met'} |"]
        if grid:
            lines += ["", f"![fixed-noise samples after {fa['minutes']:g} minutes]({grid})"]
    for key, title, metrics in (
            ("keras_mnist", "Keras MNIST GAN of the implementation notes",
             ("fd_classifier", "fd_classifier_noisy", "classes_present", "is_classifier")),
            ("stacked", "Stacked MNIST", ("stacked_modes", "stacked_kl", "stacked_modes_real"))):
        r = parts.get(key, {})
        if r.get("status") == "ok":
            lines += ["", f"### {title}", "", f"{r['steps']:,} of {r['target_steps']:,} steps "
                      f"in {r['train_seconds']:.0f} s ({r['fast_path']}); " + ", ".join(
                          f"{k} {f(r.get(k))}" for k in metrics if k in r) + "."]
    pg = parts.get("pacgan", {})
    if pg.get("methods"):
        lines += ["", "### PacGAN 2-D grid (toy-grid-pacgan)", "",
                  f"Trainer mode: {pg.get('trainer_mode')}.", "",
                  "| method | steps (of 400,000) | steps/s | modes | high-quality | reverse KL | "
                  "fast path |", "|---|---|---|---|---|---|---|"]
        for k, r in pg["methods"].items():
            lines.append(f"| {k} | {r['steps']:,} | {f(r['steps_per_s'])} | {f(r.get('modes'))}"
                         f" | {f(r.get('hq_fraction'))} | {f(r.get('reverse_kl'))} | "
                         f"{r['fast_path']} |")
        goal = pg.get("goal_met")
        lines += ["", f"Goal ({PACGAN_GOAL}): " + ("not judged: the run did not reach 400,000 "
                                                   "steps" if goal is None else
                                                   "met" if goal else "not met") + "."]
    body = "\n".join(lines) + "\n"
    speed_md = "\n".join(["<!-- gpu-check -->", "### Measured on a GPU", "",
                          f"From BENCHMARKS.md, section `gpu-check` (`{m['command']}`, "
                          f"{m.get('gpu', 'no GPU')}, torch {m['torch']}, CUDA {m['cuda']}, "
                          f"{m['date']}):", "",
                          *(speed_table or ["The speed part did not run: see the section."]),
                          "<!-- /gpu-check -->"])
    return body, speed_md


def write_docs(results: dict, folder: Path | None = None) -> list[Path]:
    """BENCHMARKS.md's `gpu-check` section and docs/speed.md's block; the Fashion-MNIST grid
    beside the JSON (in `folder`) is copied to docs/images/."""
    from report import write_section

    if results["meta"].get("tiny") or results["meta"].get("device") != "cuda":
        fail("these results come from a --tiny or CPU rehearsal; only a full GPU run is "
             "recorded in BENCHMARKS.md")
    written, grid = [], None
    png = Path(folder) / "fashion-grid.png" if folder else None
    if png is not None and png.is_file() and results["parts"].get("fashion", {}).get("steps"):
        target = ROOT / "docs" / "images" / "gpu-check-fashion.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)
        grid = target.relative_to(ROOT).as_posix()
        written.append(target)
    body, block = render(results, grid)
    written.append(write_section("gpu-check", body))
    text = SPEED_MD.read_text()
    pattern = re.compile(r"<!-- gpu-check -->.*?<!-- /gpu-check -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.replace("\n## Faults", "\n" + block + "\n\n## Faults", 1)
    SPEED_MD.write_text(text)
    return [*written, SPEED_MD]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="cuda on the GPU machine; cpu for the rehearsal")
    ap.add_argument("--budget-minutes", type=float, default=8.0, help="total for all parts")
    ap.add_argument("--tiny", action="store_true", help="toy sizes: a rehearsal or a smoke run")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu-check",
                    help="where the JSON, the log and the pictures go")
    ap.add_argument("--work", type=Path, default=None,
                    help="run directories and caches (default: a temporary folder)")
    ap.add_argument("--grace", type=float, default=None,
                    help="seconds a part may overrun its share before it is killed "
                         "(default 45; 30 with --tiny)")
    ap.add_argument("--parts", nargs="+", default=[p.name for p in PARTS],
                    choices=[p.name for p in PARTS], help="a subset, in the usual order")
    ap.add_argument("--write", action="store_true",
                    help="afterwards, write the numbers into BENCHMARKS.md and docs/speed.md")
    ap.add_argument("--record", type=Path, metavar="JSON",
                    help="no run: write the numbers of a saved gpu-check.json into the docs")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    ap.add_argument("--deadline", type=float, default=float("inf"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.part:
        child(a)
        return
    if a.record:
        if not a.record.is_file():
            fail(f"no results file at {a.record}")
        print("\n".join(map(str, write_docs(json.loads(a.record.read_text()),
                                             a.record.parent))))
        return
    if a.budget_minutes <= 0:
        fail("--budget-minutes must be positive")
    if a.write and (a.tiny or a.device != "cuda"):
        fail("--write records a full GPU run; leave it out with --tiny or --device cpu")
    import torch

    if a.device == "cuda" and not torch.cuda.is_available():
        fail("no CUDA device here; use --device cpu --tiny for the rehearsal")
    a.parts = [p.name for p in PARTS if p.name in a.parts]
    temp = None
    if a.work is None:
        temp = tempfile.mkdtemp(prefix="gankit-gpu-check-")
        a.work = Path(temp)
    try:
        results = run_parts(a)
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    bad = [n for n, r in results["parts"].items() if r["status"] in ("failed", "timeout")]
    print(f"wrote {Path(a.out) / RESULT_NAME} and {Path(a.out) / LOG_NAME}"
          + (f"; failed: {', '.join(bad)}" if bad else ""))
    if a.write:
        print("\n".join(map(str, write_docs(results, Path(a.out)))))


if __name__ == "__main__":
    main()
