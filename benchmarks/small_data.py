"""Small-data benchmark: a few hundred or thousand images, the case of a user's own folder.

N images drawn once from the training split of Fashion-MNIST (or MNIST) (`data.n_train = N`:
the same N images for every recipe and seed), each recipe trained for the same CPU time on one
thread (process CPU seconds, so that other work on the machine does not shorten a cell), then
measured on held-out test images:

    python -m benchmarks.small_data --minutes 10 --sizes 500 2000 --seeds 0 1 2 --jobs 2
    nice -n 5 python -m benchmarks.small_data --minutes 2.5 --sizes 500 --seeds 0 1 --jobs 2 \\
        --n-eval 2000                    # a reduced run
    python -m benchmarks.small_data --smoke --out /tmp/s   # seconds: every recipe, a few steps

The protocol is 24 cells of 10 CPU-minutes: more than a sitting on 2 cores. Every finished cell's
record (its config, how it was measured, its row and the machine and date it ran on) is kept in
git under benchmarks/results/<section>-cells/, and a later sitting re-uses it, so the full
command can be run again and again, `--seeds` or `--sizes` a subset at a time, until every cell
is there. Keep each seed's recipes to one sitting: the budget is CPU time, and machines differ.

Per cell: fd_classifier ÷ the noisy-real reference (as the images benchmark reports it), KID,
classes covered, and memorisation (nn_ratio: generated images' median pixel distance to their
nearest training image ÷ that of held-out real images; near_copies), over seeds as mean ± std.
The recipes are one table (`RECIPES`): a preset and the overrides on top of it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from benchmarks.report import provenance, write_section
from gankit.bench.cells import decide, keep_record, kept_record
from gankit.bench.engine import run_parallel

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "images"
RESULTS = Path(__file__).resolve().parent / "results"
SECTION = "small-data"
DIFFAUGMENT = "translation,cutout,color"

#: recipe -> (preset, overrides on top of it). The presets are Fashion-MNIST's; --data mnist
#: swaps the data set under the same recipe.
RECIPES: dict[str, tuple[str, dict]] = {
    "dcgan": ("fashion-dcgan", {}),
    "dcgan-diffaugment": ("fashion-dcgan", {"train.augment": DIFFAUGMENT}),
    "dcgan-sn": ("fashion-dcgan", {"model.spectral_norm": "d"}),
    "r3gan": ("fashion-r3gan", {}),
    "dcgan-ada": ("fashion-dcgan", {"train.augment": DIFFAUGMENT, "train.ada_target": 0.6}),
    "dcgan-sn-diffaugment": ("fashion-dcgan", {"model.spectral_norm": "d",
                                               "train.augment": DIFFAUGMENT}),
    # SN-GAN's pairing (Miyato et al. 2018): spectral norm on D with the hinge loss, which the
    # conditional benchmark found far better than spectral norm alone
    "dcgan-sn-hinge": ("fashion-dcgan", {"model.spectral_norm": "d", "train.loss": "hinge"}),
    "dcgan-sn-hinge-diffaugment": ("fashion-dcgan", {"model.spectral_norm": "d",
                                                     "train.loss": "hinge",
                                                     "train.augment": DIFFAUGMENT}),
}
DEFAULT_RECIPES = ("dcgan", "dcgan-diffaugment", "dcgan-sn", "r3gan")
METRICS = ("fd_classifier", "fd_classifier_noisy", "kid_classifier", "classes_present",
           "memorisation", "classifier_accuracy")
#: --smoke: a few steps of small batches, a few evaluation samples (the script's own test)
SMOKE = {"train.steps": 3, "train.batch_size": 16, "train.log_every": 1}
PAIRS = 16  # generated images shown above their nearest training images


def cell_name(data: str, size: int, recipe: str, seed: int) -> str:
    return f"{data}-{size}-{recipe}-seed{seed}"


def cell_config(recipe: str, data: str, size: int, seed: int, threads: int, n_eval: int,
                smoke: bool):
    from gankit.config import load_preset

    preset, extra = RECIPES[recipe]
    over = {"data.name": data, "data.n_train": size, "train.seed": seed,
            "train.threads": threads, "train.steps": 1_000_000, "train.ckpt_every": 1_000_000,
            "train.frame_every": 1_000_000, "eval.n_samples": n_eval,
            "eval.metrics": list(METRICS), **extra, **(SMOKE if smoke else {})}
    return load_preset(preset).with_overrides(over)


def metric_network(data: str) -> str | None:
    """SHA-256 of the shipped classifier that measures this data set (a kept cell measured with
    another one is measured again)."""
    from gankit.metrics.classifier import manifest

    return manifest().get(data, {}).get("sha256")


def one_cell(recipe: str, data: str, size: int, seed: int, minutes: float, threads: int,
             n_eval: int, out: Path, smoke: bool = False, kept: Path | None = None) -> dict:
    """Train and measure one cell (or re-use a stored one of the same protocol, from `out` or
    from the cells kept in git, `kept`); its row."""
    from gankit import run
    from gankit.viz.grids import save_grid

    cfg = cell_config(recipe, data, size, seed, threads, n_eval, smoke)
    name = cell_name(data, size, recipe, seed)
    grid_png = out / f"{name}.png"
    setup = {"cpu_minutes": None if smoke else minutes, "metric_network": metric_network(data)}
    stored = [kept_record(out, name) if grid_png.exists() else None, kept_record(kept, name)]
    for done in stored:
        if done and decide(done["config"], cfg.to_toml(), done.get("setup"),
                           setup).action == "reuse":
            return {**done["row"], "reused": True}
    trainer, wall, cpu = train_for(cfg, out / name, None if smoke else minutes * 60, threads)
    result = run.evaluate(trainer)
    save_grid(grid_png, trainer.task.fixed_grid(trainer), scale=1)
    save_grid(out / f"{name}-nearest.png", nearest_pairs(trainer), nrow=PAIRS, scale=2)
    from gankit.bench.tables import machine

    row = {"recipe": recipe, "data": data, "size": size, "seed": seed, "steps": trainer.step,
           "train_seconds": wall, "train_cpu_seconds": cpu,
           "machine": machine(), "date": time.strftime("%Y-%m-%d"),
           **{k: v for k, v in result.items() if k != "step"}}
    done = {"config": cfg.to_toml(), "setup": setup, "row": row}
    keep_record(out, name, done)
    keep_record(None if smoke else kept, name, done)
    return row


def cpu_budget(seconds: float):
    """A callback that stops training once this process has used `seconds` of CPU time: on a
    machine shared with other work every cell gets the same computation, whatever the load
    (each cell is its own process on `threads` torch threads)."""
    started = time.process_time()

    def stop_when_spent(trainer) -> None:
        if time.process_time() - started >= seconds:
            trainer.request_stop("budget")

    return stop_when_spent


def train_for(cfg, run_dir: Path, cpu_seconds: float | None, threads: int):
    """Train `cfg` (to its steps, or for `cpu_seconds` of CPU time); the trainer, its wall-clock
    and CPU seconds."""
    import torch

    from gankit import run

    torch.set_num_threads(threads)
    trainer = run.start(cfg, run_dir, force=True)
    wall, cpu = time.perf_counter(), time.process_time()
    run.train_run(trainer, [] if cpu_seconds is None else [cpu_budget(cpu_seconds)])
    return trainer, time.perf_counter() - wall, time.process_time() - cpu


def nearest_pairs(trainer):
    """uint8 images: PAIRS generated samples (row 1) above their nearest training images (row 2),
    by pixel distance, as the memorisation metric measures it."""
    import torch

    from gankit.data.images import to_uint8
    from gankit.metrics.memorisation import nearest

    task = trainer.task
    fake = task.unit(trainer.sample(PAIRS))
    train = task.unit(task.train_data())
    _, index = nearest(fake, train)
    return to_uint8(torch.cat([fake, train[index]])).numpy()


def warm_classifiers(data: str) -> None:
    """Load the data set's domain classifier once, before parallel cells need it."""
    from gankit.tasks import build_task

    build_task(cell_config("dcgan", data, 500, 0, 1, 16, True)).classifier()


# -- the report -------------------------------------------------------------------------------
def mean_std(values: list[float], digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def fd_ratio(row: dict) -> float:
    return row["fd_classifier"] / row["fd_classifier_noisy"]


def summary(rows: list[dict], recipes: list[str]) -> list[str]:
    """One line per (data, size, recipe): means ± std over seeds."""
    lines = ["| data | images | recipe | seeds | G steps | wall s | fd ÷ noisy ref | KID | "
             "classes | NN ratio | near copies |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["data"], r["size"], r["recipe"]), []).append(r)
    order = sorted(groups, key=lambda k: (k[0], k[1], recipes.index(k[2])))
    for data, size, recipe in order:
        g = groups[(data, size, recipe)]
        lines.append(
            f"| {data} | {size:,} | {recipe} | {len(g)} | "
            f"{mean_std([r['steps'] for r in g], 0)} | "
            f"{mean_std([r['train_seconds'] for r in g], 0)} | "
            f"{mean_std([fd_ratio(r) for r in g])} | "
            f"{mean_std([r['kid_classifier'] for r in g], 3)} | "
            f"{mean_std([r['classes_present'] for r in g], 1)} | "
            f"{mean_std([r['nn_ratio'] for r in g])} | "
            f"{mean_std([r['near_copies'] for r in g])} |")
    return lines


#: "without memorising": generated images no nearer the training set than 0.9× held-out ones,
#: and at most twice the near-copies that held-out real images have by construction (5 %)
NOT_MEMORISING = {"nn_ratio": 0.9, "near_copies": 0.10}


def verdict(rows: list[dict]) -> str:
    """The goal, for each data set and size: the best recipe's fd at most half of plain DCGAN's
    at equal time, without memorising."""
    lines = []
    for data, size in sorted({(r["data"], r["size"]) for r in rows}):
        by: dict[str, list[dict]] = {}
        for r in rows:
            if r["data"] == data and r["size"] == size:
                by.setdefault(r["recipe"], []).append(r)
        if "dcgan" not in by or len(by) < 2:
            continue
        mean = {k: statistics.mean(fd_ratio(r) for r in v) for k, v in by.items()}
        best = min((k for k in mean if k != "dcgan"), key=mean.get)
        nn = statistics.mean(r["nn_ratio"] for r in by[best])
        copies = statistics.mean(r["near_copies"] for r in by[best])
        clean = nn >= NOT_MEMORISING["nn_ratio"] and copies <= NOT_MEMORISING["near_copies"]
        met = mean[best] <= 0.5 * mean["dcgan"] and clean
        lines.append(
            f"- {data}, {size} images: best recipe **{best}**, fd ÷ noisy ref "
            f"{mean[best]:.2f} against plain DCGAN's {mean['dcgan']:.2f} "
            f"(×{mean[best] / mean['dcgan']:.2f}); NN ratio {nn:.2f}, near copies "
            f"{copies:.2f}: the goal (≤ ×0.5, NN ratio ≥ {NOT_MEMORISING['nn_ratio']}, near "
            f"copies ≤ {NOT_MEMORISING['near_copies']}) is **{'met' if met else 'not met'}**.")
    return "\n".join(lines)


def section(rows: list[dict], args: argparse.Namespace) -> str:
    ref = rows[0]
    budget = "a few steps (smoke test)" if args.smoke else f"{args.minutes:g} CPU-minutes"
    body = [f"## Small data: {', '.join(str(s) for s in args.sizes)} images, {budget} per cell",
            "", provenance().rstrip(),
            f"Threads per cell: {args.threads}; cells at once: {args.jobs}; seeds "
            f"{', '.join(map(str, args.seeds))}.", ""]
    if args.note:
        body += [args.note, ""]
    body += [
        f"Each cell trains on the first N images of a fixed shuffle of the training split "
        f"(`data.n_train = N`, the same images for every recipe and seed) for "
        f"{args.minutes:g} minutes of CPU time on one thread (the process's CPU time, so a cell "
        "gets the same computation however busy the machine is), then "
        f"{ref['n_samples']:,} "
        "generated images are compared with as many held-out test images in the features of "
        f"gankit's shipped classifier (test accuracy {100 * ref['classifier_accuracy']:.1f} %): "
        "fd ÷ noisy ref is fd_classifier over the Fréchet distance of noisy real images "
        "(σ = 0.1) at the same sample size. NN ratio: the generated images' median pixel "
        "distance to their nearest training image ÷ that of held-out real images (below 1: "
        "nearer the training set than unseen images, i.e. copying); near copies: the share of "
        "generated images nearer a training image than 95 % of the held-out ones (0.05 for a "
        "generator as novel as the real data).", "",
        *summary(rows, args.recipes), "", verdict(rows), "",
        "Recipes: " + "; ".join(f"**{k}** = `{RECIPES[k][0]}`"
                                + "".join(f" `{o}={v}`" for o, v in RECIPES[k][1].items())
                                for k in args.recipes) + ".", "",
        "Seed-0 samples (fixed noise, 64 each) and, below them, 16 samples over their nearest "
        "training images:", ""]
    for r in rows:
        if r["seed"] == min(args.seeds):
            name = cell_name(r["data"], r["size"], r["recipe"], r["seed"])
            body.append(f"- {r['recipe']}, {r['size']} images: ![{name}](docs/images/"
                        f"{args.section}-{name}.png) ![nearest](docs/images/{args.section}-"
                        f"{name}-nearest.png)")
    return "\n".join(body) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="training budget per cell, in CPU minutes of its process")
    ap.add_argument("--sizes", nargs="+", type=int, default=[500, 2000],
                    help="training images (data.n_train)")
    ap.add_argument("--data", nargs="+", default=["fashion-mnist"],
                    choices=["fashion-mnist", "mnist"])
    ap.add_argument("--recipes", nargs="+", default=list(DEFAULT_RECIPES), choices=list(RECIPES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1, help="torch threads per cell")
    ap.add_argument("--jobs", type=int, default=1, help="cells trained at once")
    ap.add_argument("--n-eval", type=int, default=10_000, help="generated and held-out images")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-small-data")
    ap.add_argument("--note", default="", help="a sentence added to the section")
    ap.add_argument("--section", default=SECTION,
                    help="BENCHMARKS.md section (and name of its results file and pictures), "
                         "so that another protocol does not replace this one")
    ap.add_argument("--no-write", action="store_true", help="print the section, leave the files")
    ap.add_argument("--smoke", action="store_true",
                    help="a few steps per cell and 64 evaluation images; writes nothing")
    args = ap.parse_args(argv)
    from gankit.config import preset_names

    missing = sorted({RECIPES[r][0] for r in args.recipes} - set(preset_names()))
    if missing:
        ap.error(f"preset {', '.join(missing)} is not in this gankit; leave its recipes out")
    if args.smoke:
        args.no_write, args.n_eval = True, min(args.n_eval, 64)
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for data in args.data:
        warm_classifiers(data)
    cells = [(recipe, data, size, seed) for data in args.data for size in args.sizes
             for recipe in args.recipes for seed in args.seeds]
    kept = None if args.smoke else RESULTS / f"{args.section}-cells"
    calls = [(*cell, args.minutes, args.threads, args.n_eval, args.out, args.smoke, kept)
             for cell in cells]
    rows = []
    for _, row in run_parallel(one_cell, calls, args.jobs):
        print(json.dumps(row), flush=True)
        rows.append(row)
        if not args.no_write:
            keep_outputs(rows, args)
    body = section(rows, args)
    if args.no_write:
        print(body)
    else:
        print(f"wrote {write_section(args.section, body)}")
    return body


def keep_outputs(rows: list[dict], args: argparse.Namespace) -> None:
    """The rows so far into benchmarks/results/, the seed-0 pictures into docs/images/."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.section}.json").write_text(json.dumps(rows, indent=2) + "\n")
    r = rows[-1]
    if r["seed"] == min(args.seeds) and not r.get("reused"):  # a re-used cell's are there
        DOCS.mkdir(parents=True, exist_ok=True)
        name = cell_name(r["data"], r["size"], r["recipe"], r["seed"])
        for suffix in (".png", "-nearest.png"):
            (DOCS / f"{args.section}-{name}{suffix}").write_bytes(
                (args.out / f"{name}{suffix}").read_bytes())


if __name__ == "__main__":
    main()
