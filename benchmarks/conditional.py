"""Conditional benchmark: class-conditional DCGANs on Fashion-MNIST and MNIST, each trained for
a fixed budget of CPU time; writes the `conditional` section of BENCHMARKS.md and a class × sample
grid of every cell to docs/images/.

    python -m benchmarks.conditional --minutes 30                  # Fashion-MNIST, projection D
    python -m benchmarks.conditional --minutes fashion=30 mnist=12 --sets fashion mnist \\
        --seeds 0 1 --reference train              # both sets, 2 seeds, unconditional cells too

Per cell, in the features of gankit's shipped classifier of the data set: the share of samples
classified as the class they were asked for (class_accuracy), the Fréchet distance of each class's
samples to the held-out real images of that class (intra-FD: mean, worst and which class), the
same distance between real training and held-out images of each class (the floor an exact
generator would get at this sample size), and the overall fd_classifier, beside the unconditional
run's overall fd_classifier: the issue's goal is class_accuracy ≥ 0.9 and every class's FD within
2× the unconditional run's. The reference is the unconditional DCGAN cell of BENCHMARKS.md's
`images` section (Fashion-MNIST, 30 minutes on one thread; `--reference recorded`), or an
unconditional cell of the same preset trained here under the same budget (`--reference train`).

Cells resume: a cell stopped before its budget (or asked for a larger one) continues from its
checkpoint for the remaining minutes, so a short run now can be extended later. A finished
cell's record (config, CPU seconds, row, machine and date) is also kept in git under
benchmarks/results/<section>-cells/, and a later sitting re-uses it: a grid larger than one
sitting can be completed a seed at a time. `--section NAME` writes another section (its own
results file and pictures), so that a variant of the recipe does not replace the main grid.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.report import provenance, table, write_section

ROOT = Path(__file__).resolve().parent.parent
PRESETS = {"fashion": "fashion-cgan", "mnist": "mnist-cgan"}
MODES = ("projection", "acgan")
DOCS = ROOT / "docs" / "images"
RESULTS = Path(__file__).resolve().parent / "results"
RECORDED = RESULTS / "images.json"  # the unconditional cells of the `images` section
#: Metrics of an unconditional reference cell (the class metrics need a conditional run).
PLAIN_METRICS = ["fd_classifier", "kid_classifier", "classes_present", "class_kl", "prdc"]
#: Precision, recall, density and coverage (k = 5) in the classifier's features, every cell.
PRDC = ("precision", "recall", "density", "coverage")


def cell_name(data: str, mode: str, seed: int) -> str:
    return f"{data}-{mode}-seed{seed}"


def cell_config(data: str, mode: str, seed: int, threads: int, n_eval: int, extra: dict):
    from gankit.config import load_preset

    over = {"model.conditional": mode, "train.seed": seed, "train.threads": threads,
            "train.steps": 1_000_000, "train.ckpt_every": 500, "eval.n_samples": n_eval}
    if mode == "none":
        over["eval.metrics"] = PLAIN_METRICS
    return load_preset(PRESETS[data]).with_overrides({**over, **extra})


def cpu_budget(seconds: float):
    """A callback that stops training once this process has used `seconds` of CPU time since it
    was made: on a shared machine a budget of CPU time, unlike wall clock, does not shrink when
    other work takes the cores."""
    started = time.process_time()

    def stop_when_spent(trainer) -> None:
        if time.process_time() - started >= seconds:
            trainer.request_stop("budget")

    return stop_when_spent


def train_for(cfg, run_dir: Path, seconds: float, threads: int, resume: bool):
    """Train the cell in run_dir for `seconds` more CPU seconds (continuing its checkpoint when
    `resume`); the trainer."""
    from gankit import run

    torch.set_num_threads(threads)
    if resume and (run_dir / "checkpoint.pt").exists():
        trainer = run.open_trainer(run_dir)
    else:  # a new cell, or one of another config: trained afresh
        trainer = run.start(cfg, run_dir, force=True)
    if seconds > 0:
        run.train_run(trainer, [cpu_budget(seconds)])
    return trainer


def class_floor(task) -> list[float]:
    """Per class: FD between 1,000 real training images and the held-out ones of that class."""
    from gankit.data.images import to_range
    from gankit.metrics.classifier import frechet_distance

    clf, data, out = task.classifier(), task.data, []
    g = torch.Generator().manual_seed(0)
    for c in range(data.n_classes):
        train = data.train_x[data.train_y == c]
        train = train[torch.randperm(len(train), generator=g)[:1000]]
        test = data.test_x[data.test_y == c]
        feats = [clf.features_and_logits(task.unit(to_range(x, task.pixel_range)))[0]
                 for x in (train, test)]
        out.append(frechet_distance(*feats))
    return out


def finished_row(done: dict | None, cfg, minutes: float) -> dict | None:
    """The row of a stored cell record (in the run folder or kept in git) if it is this very
    cell trained for its whole budget: the same config, at least `minutes` of CPU time."""
    from gankit.bench.cells import differences

    if not done or differences(done["config"], cfg.to_toml()) != {} \
            or done.get("seconds", 0) < minutes * 60 - 1:
        return None
    return {**done["row"], "reused": True}


def one_cell(data: str, mode: str, seed: int, minutes: float, threads: int, out: Path,
             n_eval: int, extra: dict, kept: Path | None = None) -> dict:
    from gankit import run
    from gankit.bench.cells import differences, keep_record, kept_record
    from gankit.bench.tables import machine
    from gankit.metrics.conditional import per_class_fd
    from gankit.viz.grids import save_grid

    name = cell_name(data, mode, seed)
    done = kept_record(out, name) or {}
    cfg = cell_config(data, mode, seed, threads, n_eval, extra)
    # a run folder's record first (it can also be continued), else the one kept in git
    for stored in (done, None if done else kept_record(kept, name)):
        if (row := finished_row(stored, cfg, minutes)) is not None:
            return row
    # What is measured (eval.*) does not change what was trained: such a cell is re-evaluated.
    differ = differences(done["config"], cfg.to_toml()) if done else None
    same = differ is not None and not [k for k in differ if not k.startswith("eval.")]
    left = max(0.0, minutes * 60 - done.get("seconds", 0.0)) if same else minutes * 60
    started, wall = time.process_time(), time.perf_counter()
    trainer = train_for(cfg, out / name, left, threads, same)
    trainer.cfg = trainer.cfg.with_overrides({"eval.metrics": list(cfg.eval.metrics),
                                              "eval.n_samples": cfg.eval.n_samples})
    seconds = done.get("seconds", 0.0) * same + time.process_time() - started
    wall = done.get("wall", 0.0) * same + time.perf_counter() - wall
    result = run.evaluate(trainer)
    row = {"data": data, "mode": mode, "seed": seed, "steps": trainer.step,
           "minutes": round(seconds / 60, 1), "wall_minutes": round(wall / 60, 1),
           "machine": machine(), "date": time.strftime("%Y-%m-%d"),
           **{k: v for k, v in result.items() if k not in ("step", "eval_seconds")}}
    if mode != "none":
        from gankit.seeds import EVAL

        fake = trainer.sample(n_eval, trainer.cfg.train.seed + EVAL).float().cpu()  # evaluate's
        fds = per_class_fd(fake, trainer.task)
        row["class_fd"] = fds
        row["class_floor"] = class_floor(trainer.task)
        row["class_names"] = list(trainer.task.data.class_names)
        k = trainer.task.data.n_classes
        grid = trainer.sample(10 * k, seed=0, labels=torch.arange(k).repeat_interleave(10))
        from gankit.data.images import to_uint8

        save_grid(out / f"conditional-{name}.png", to_uint8(trainer.task.unit(grid)).numpy(),
                  nrow=10)
    done = {"config": cfg.to_toml(), "seconds": seconds, "wall": wall, "row": row}
    keep_record(out, name, done)
    keep_record(kept, name, done)
    return row


def reference_fd(data: str, rows: list[dict], seed: int) -> tuple[float | None, str]:
    """The unconditional fd_classifier to compare with, and where it comes from."""
    trained = [r for r in rows if r["data"] == data and r["mode"] == "none" and r["seed"] == seed]
    if trained:
        return trained[0]["fd_classifier"], f"unconditional cell, {trained[0]['minutes']} min"
    if data == "fashion" and RECORDED.exists():
        cell = next((r for r in json.loads(RECORDED.read_text())
                     if r["recipe"] == "dcgan" and r["loss"] == "nonsaturating"
                     and r["seed"] == 0), None)
        if cell is not None:
            return cell["fd_classifier"], (f"`images` section's DCGAN cell, "
                                           f"{cell['train_seconds'] / 60:.0f} min")
    return None, "none"


def fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}g}"


def result_table(rows: list[dict]) -> str:
    header = ["data", "D", "seed", "CPU min", "G steps", "class accuracy", "intra-FD mean",
              "intra-FD worst (class)", "intra-FD floor worst", "fd_classifier",
              "unconditional fd (source)", "worst / unconditional", "goal met"]
    lines = []
    for r in rows:
        if r["mode"] == "none":
            continue
        ref, source = reference_fd(r["data"], rows, r["seed"])
        worst = max(range(len(r["class_fd"])), key=lambda c: r["class_fd"][c])
        ratio = None if ref is None else r["class_fd"][worst] / ref
        met = "–" if ratio is None else "yes" if r["class_accuracy"] >= 0.9 and ratio <= 2 else "no"
        lines.append([r["data"], r["mode"], str(r["seed"]), fmt(r["minutes"]), str(r["steps"]),
                      fmt(r["class_accuracy"]), fmt(r["intra_fd_mean"]),
                      f"{fmt(r['class_fd'][worst])} ({r['class_names'][worst]})",
                      fmt(max(r["class_floor"])), fmt(r["fd_classifier"]),
                      f"{fmt(ref)} ({source})", fmt(ratio), met])
    return "\n".join(table(header, lines))


def fidelity_table(rows: list[dict]) -> str:
    """Every cell, conditional and unconditional, side by side: fd, KID and the four prdc values
    (fidelity: precision, density; diversity: recall, coverage)."""
    header = ["data", "D", "seed", "CPU min", "G steps", "fd_classifier", "KID", "classes",
              *PRDC]
    lines = [[r["data"], "unconditional" if r["mode"] == "none" else r["mode"], str(r["seed"]),
              fmt(r["minutes"]), str(r["steps"]), fmt(r["fd_classifier"]),
              fmt(r.get("kid_classifier"), 2), fmt(r.get("classes_present"), 2),
              *[fmt(r.get(v)) for v in PRDC]] for r in rows]
    return "\n".join(table(header, lines))


def per_class_table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        if r["mode"] == "none":
            continue
        lines += [f"\n{r['data']} / {r['mode']} / seed {r['seed']}, per class (intra-FD, real "
                  "floor):", ""]
        lines += table(["class", "intra-FD", "floor"],
                       [[n, fmt(a), fmt(b)] for n, a, b in
                        zip(r["class_names"], r["class_fd"], r["class_floor"])])
    return "\n".join(lines)


def budgets(given: list[str], sets: list[str], ap: argparse.ArgumentParser) -> dict[str, float]:
    """--minutes as {set: CPU minutes}: one number for every set, or SET=MIN pairs."""
    out: dict[str, float] = {}
    try:
        if len(given) == 1 and "=" not in given[0]:
            return {s: float(given[0]) for s in sets}
        for item in given:
            name, _, value = item.partition("=")
            if name not in PRESETS:
                ap.error(f"--minutes {item}: name a set ({', '.join(PRESETS)}) as SET=MIN")
            out[name] = float(value)
    except ValueError:
        ap.error(f"--minutes takes a number or SET=MIN pairs, got {' '.join(given)}")
    missing = [s for s in sets if s not in out]
    if missing:
        ap.error(f"--minutes names no budget for {', '.join(missing)}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", nargs="+", default=["30"], metavar="[SET=]MIN",
                    help="training budget per cell, in CPU minutes of its process: one for "
                         "every set, or per set (fashion=30 mnist=12)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per cell")
    ap.add_argument("--jobs", type=int, default=1, help="cells trained at once")
    ap.add_argument("--sets", nargs="+", default=["fashion"], choices=list(PRESETS))
    ap.add_argument("--modes", nargs="+", default=["projection"], choices=list(MODES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--reference", choices=("recorded", "train"), default="recorded",
                    help="the unconditional fd: recorded in BENCHMARKS.md, or trained here")
    ap.add_argument("--n-eval", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-conditional")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config overrides for every cell")
    ap.add_argument("--note", default="", help="a paragraph added to the section")
    ap.add_argument("--section", default="conditional",
                    help="BENCHMARKS.md section (and the name of its results file, kept cells "
                         "and pictures)")
    ap.add_argument("--no-write", action="store_true", help="print the tables, leave the files")
    args = ap.parse_args()

    from gankit.config import parse_overrides

    extra = parse_overrides(args.set)
    budget = budgets(args.minutes, args.sets, ap)
    modes = [*args.modes, *(["none"] if args.reference == "train" else [])]
    args.out.mkdir(parents=True, exist_ok=True)
    from gankit.bench.engine import run_parallel

    kept = None if args.no_write else RESULTS / f"{args.section}-cells"
    calls = [(data, mode, seed, budget[data], args.threads, args.out, args.n_eval, extra, kept)
             for data in args.sets for mode in modes for seed in args.seeds]
    print(f"{len(calls)} cells, {args.jobs} at once: "
          + ", ".join(f"{d} / {m} / seed {s}: {b:g} min" for d, m, s, b, *_ in calls), flush=True)
    rows = []
    for _, row in run_parallel(one_cell, calls, jobs=args.jobs):
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if not isinstance(v, list)}), flush=True)
    variant = "" if args.section == "conditional" else f" (`{args.section}`)"
    body = f"## Conditional GANs{variant}: class accuracy and intra-class FD\n\n" + provenance()
    body += f"Threads per cell: {args.threads}; cells at once: {args.jobs}; evaluation samples: " \
            f"{args.n_eval:,} ({args.n_eval // 10:,} per class).\n"
    if extra:
        body += "Overrides on top of the presets: " + ", ".join(
            f"`{k}={v}`" for k, v in extra.items()) + ".\n"
    if args.note:
        body += f"\n{args.note}\n"
    body += "\n" + result_table(rows) + "\n"
    body += ("\nFidelity and diversity of every cell, conditional beside unconditional "
             "(precision, recall, density and coverage with k = 5 in the classifier's features, "
             f"{args.n_eval:,} samples against as many held-out images):\n\n")
    body += fidelity_table(rows) + "\n" + per_class_table(rows) + "\n"
    pictures = [f"![{r['data']} {r['mode']} seed {r['seed']}](docs/images/{picture(r, args)})"
                for r in rows if r["mode"] != "none"]
    body += "\nClass × sample grids (one row per class, classes 0–9 from the top):\n\n" + \
        "\n".join(pictures) + "\n"
    if args.no_write:
        print(body)
        return
    RESULTS.mkdir(exist_ok=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    for r in rows:
        grid = args.out / f"conditional-{cell_name(r['data'], r['mode'], r['seed'])}.png"
        if r["mode"] != "none" and grid.exists():  # a cell re-used from git has its picture
            (DOCS / picture(r, args)).write_bytes(grid.read_bytes())
    (RESULTS / f"{args.section}.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {write_section(args.section, body)}")


def picture(row: dict, args: argparse.Namespace) -> str:
    """The file name of a cell's class × sample grid under docs/images/."""
    return f"{args.section}-{cell_name(row['data'], row['mode'], row['seed'])}.png"


if __name__ == "__main__":
    main()
