"""Quality of the CPU fast path: the Fashion-MNIST DCGAN at equal generator steps, fp32 eager
against gankit's CPU defaults (left automatic: bf16 autocast and channels-last on a CPU with
bf16 hardware) and, opt-in, those plus torch.compile (set explicitly, so that short runs compile
too), a few seeds each; fd_classifier (and its noisy-real reference) on 10,000 samples with
gankit's shipped Fashion-MNIST classifier. Writes BENCHMARKS.md section `speed-quality`.

Equal steps, not equal time, so that only the arithmetic differs: at equal time the faster
settings would also have trained longer. 3,000 steps is the length of a 10-minute fp32 run on one
thread of this 2-core machine (about 4.9 steps/s, section `speed`).

    python -m benchmarks.speed_quality --steps 3000 --seeds 0 1 --settings "fp32 eager" \
        "CPU defaults"
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmarks.report import provenance, table, write_section
from gankit.bench.engine import run_parallel

#: name -> config overrides; "CPU defaults" leaves the fast path automatic
SETTINGS = {
    "fp32 eager": {"train.amp": False, "train.channels_last": False, "train.compile": False},
    "CPU defaults": {},
    "bf16 + channels-last + compile": {"train.amp": True, "train.channels_last": True,
                                       "train.compile": True},
}


def one_run(name: str, seed: int, steps: int, out: Path, data_dir: str | None) -> dict:
    import torch

    from gankit import run
    from gankit.config import load_preset

    torch.set_num_threads(1)
    over = {"train.seed": seed, "train.steps": steps, "train.threads": 1,
            "train.ckpt_every": steps, "train.frame_every": steps,
            "eval.metrics": ["fd_classifier", "fd_classifier_noisy"], **SETTINGS[name]}
    if data_dir:
        over["data.data_dir"] = data_dir
    cfg = load_preset("fashion-dcgan").with_overrides(over)
    trainer = run.start(cfg, out / f"{name.replace(' ', '-')}-seed{seed}", force=True)
    started = time.perf_counter()
    run.train_run(trainer)
    seconds = time.perf_counter() - started
    result = run.evaluate(trainer)
    return {"setting": name, "seed": seed, "steps": trainer.step, "seconds": seconds,
            "switches": trainer.fast.describe(), "fd": result["fd_classifier"],
            "noisy": result["fd_classifier_noisy"]}


def verdict(rows: list[dict], settings: list[str]) -> list[str]:
    """Each setting against fp32 eager: the difference of mean fd beside the seed-to-seed spread
    (the pooled standard deviation of both settings' runs); within noise when it is at most
    twice that spread."""
    base = [r["fd"] for r in rows if r["setting"] == "fp32 eager"]
    out = []
    for name in settings:
        fds = [r["fd"] for r in rows if r["setting"] == name]
        if name == "fp32 eager" or len(fds) < 2 or len(base) < 2:
            continue
        pooled = ((statistics.variance(fds) + statistics.variance(base)) / 2) ** 0.5
        diff = statistics.mean(fds) - statistics.mean(base)
        word = "within" if abs(diff) <= 2 * pooled else "**outside**"
        out.append(f"- {name} − fp32 eager: {diff:+.2f} in fd_classifier, against a seed-to-seed "
                   f"spread of {pooled:.2f} (pooled std): {word} noise (twice the spread).")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each")
    parser.add_argument("--out", type=Path, default=Path("runs/speed-quality"))
    parser.add_argument("--data-dir", default=None, help="Fashion-MNIST's IDX files")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    calls = [(name, seed, args.steps, args.out, args.data_dir)  # seed by seed: a cut-short run
             for seed in args.seeds for name in args.settings]  # still has pairs
    rows = [row for _, row in run_parallel(one_run, calls, jobs=args.jobs)]
    for r in rows:
        print(r, flush=True)
    lines = table(["setting", "switches", "seed", "G steps", "train s", "fd_classifier",
                   "÷ noisy ref"],
                  ([r["setting"], r["switches"], str(r["seed"]), str(r["steps"]),
                    f"{r['seconds']:.0f}", f"{r['fd']:.2f}", f"{r['fd'] / r['noisy']:.2f}"]
                   for r in rows))
    summary = []
    for name in args.settings:
        fds = [r["fd"] for r in rows if r["setting"] == name]
        spread = f" ± {statistics.stdev(fds):.2f} (std over seeds)" if len(fds) > 1 else ""
        summary.append(f"- {name}: fd_classifier {statistics.mean(fds):.2f}{spread}, "
                       f"{statistics.mean(r['seconds'] for r in rows if r['setting'] == name):.0f}"
                       " s of training on average")
    summary += verdict(rows, args.settings)
    body = "\n".join([
        "## Speed: does the CPU fast path keep the quality?", "", provenance(),
        f"Fashion-MNIST DCGAN preset, {args.steps} generator steps per run, {args.jobs} runs at "
        "once on one thread each, then fd_classifier on 10,000 samples (gankit's shipped "
        "classifier) and its noisy-real reference (σ = 0.1). Equal steps: only the arithmetic "
        "differs. The training seconds were taken on a shared machine under a varying load "
        "(other jobs ran beside these): they are no speed measurement (section `speed` is).",
        "", *lines, "", *summary])
    print(body)
    if not args.no_write:
        print(f"wrote {write_section('speed-quality', body)}")


if __name__ == "__main__":
    main()
