"""Image benchmark: Fashion-MNIST with the Keras MNIST GAN recipe (cells named `keras`; cells
recorded under the recipe's former name are still re-used) and the DCGAN recipe, each generator
loss, each trained for a fixed wall-clock budget; writes the `images` section of BENCHMARKS.md and a
final fixed-noise grid of every cell to docs/images/.

    python -m benchmarks.images --minutes 30 --jobs 2   # the issue's protocol, two cells at once
    python -m benchmarks.images --minutes 4 --pretrain-samples 2000   # a reduced run
    # one row of the images-tuning table:
    python -m benchmarks.images --minutes 8 --recipes dcgan --losses nonsaturating --tuning "fp32"

Per cell: fd_classifier beside the reference ladder (real-vs-real floor, noisy σ = 0.1, blurred),
KID, classifier Inception Score, classes present and class KL, generator steps done and wall time,
all in the features of gankit's shipped Fashion-MNIST classifier (the same numbers on every
machine); its test accuracy is printed with the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from benchmarks.report import command_line, git_commit, provenance, write_section
from gankit.bench.cells import decide
from gankit.bench.engine import run_parallel, train_cell
from gankit.bench.tables import machine as bench_machine

ROOT = Path(__file__).resolve().parent.parent
KERAS = "keras"  # the Keras recipe's cell and file name
OLD_KERAS = "seed" + "003"  # its former name: cells recorded under it are re-used
RECIPES = {KERAS: "keras-fashion", "dcgan": "fashion-dcgan"}
LOSSES = ("minimax", "nonsaturating", "ml")
DOCS = ROOT / "docs" / "images"
RESULTS = Path(__file__).resolve().parent / "results"
TUNING_ROWS = RESULTS / "images-tuning.json"  # one row per tuning run, with its command
TUNING_TEXT = RESULTS / "images-tuning.md"  # the section's prose around the table


def cell_name(recipe: str, loss: str, seed: int) -> str:
    return f"{recipe}-{loss}" + (f"-seed{seed}" if seed else "")


def one_cell(recipe: str, loss: str, seed: int, minutes: float, threads: int,
             pretrain: int | None, out: Path, n_eval: int, extra: dict | None = None) -> dict:
    from gankit import run
    from gankit.config import load_preset
    from gankit.viz.grids import save_grid

    over = {"train.loss": loss, "train.seed": seed, "train.threads": threads,
            "train.steps": 1_000_000, "train.ckpt_every": 1_000_000, "eval.n_samples": n_eval}
    if recipe == KERAS and pretrain is not None:
        over["train.pretrain_d_samples"] = pretrain
    over.update(extra or {})
    cfg = load_preset(RECIPES[recipe]).with_overrides(over)
    name = cell_name(recipe, loss, seed)
    record, grid_png = out / f"{name}.json", out / f"fashion-{name}.png"
    if recipe == KERAS and not record.exists():  # a cell recorded under the former name
        old = cell_name(OLD_KERAS, loss, seed)
        if (out / f"{old}.json").exists():
            record, grid_png = out / f"{old}.json", out / f"fashion-{old}.png"
    if record.exists() and grid_png.exists():  # a finished cell of the same protocol is re-used
        done = json.loads(record.read_text())
        kept = {"minutes": done["minutes"], "metric_network": done.get("metric_network")}
        asked = {"minutes": minutes, "metric_network": metric_network()}
        if decide(done["config"], cfg.to_toml(), kept, asked).action == "reuse":
            if grid_png.name != f"fashion-{name}.png":  # the caller copies the new name
                (out / f"fashion-{name}.png").write_bytes(grid_png.read_bytes())
            return {"seed": seed, **done["row"], "recipe": recipe, "reused": True}
    record, grid_png = out / f"{name}.json", out / f"fashion-{name}.png"  # a new cell
    trainer, wall, _ = train_cell(cfg, out / name, seconds=minutes * 60, threads=threads)
    result = run.evaluate(trainer)
    run.render(trainer)
    grid = trainer.task.fixed_grid(trainer)
    save_grid(grid_png, grid, scale=1)
    row = {"recipe": recipe, "loss": loss, "seed": seed, "steps": trainer.step,
           "train_seconds": wall,
           **{k: v for k, v in result.items() if k != "step"}}
    record.write_text(json.dumps({"config": cfg.to_toml(), "minutes": minutes, "row": row,
                                  "metric_network": metric_network()}))
    return row


def metric_network() -> str | None:
    """SHA-256 of the shipped Fashion-MNIST classifier: a kept cell measured with another network
    (an older, machine-trained one) is trained and measured again, never mixed in."""
    from gankit.metrics.classifier import manifest

    return manifest().get("fashion-mnist", {}).get("sha256")


def warm_classifier() -> None:
    """Load the Fashion-MNIST domain classifier once, before the cells that need it (trained here
    only for a data file that differs from the one the shipped network was trained on)."""
    from gankit.config import load_preset
    from gankit.tasks import build_task

    build_task(load_preset(RECIPES["dcgan"])).classifier()


def fmt(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:.0f}"


def doc_name(section: str, name: str) -> str:
    return name if section == "images" else f"{section}-{name}"


def table(rows: list[dict], minutes: float, threads: int, pretrain: int | None,
          section: str = "images") -> str:
    acc = rows[0]["classifier_accuracy"]
    ref = rows[0]
    lines = [
        f"Fashion-MNIST, {minutes:g} minutes of training (wall clock, D pretraining included) per "
        f"cell on {threads} thread{'s' if threads > 1 else ''}, then evaluation on "
        f"{ref['n_samples']} generated vs {ref['n_samples']} "
        "held-out test images in the features of gankit's domain classifier "
        f"(test accuracy {100 * acc:.1f} %).",
        "",
        f"Reference ladder (same features, same sample size): real train vs real test (floor) "
        f"**{fmt(ref['fd_classifier_floor'])}**, noisy real σ = 0.1 "
        f"**{fmt(ref['fd_classifier_noisy'])}**, blurred real σ = 1 px "
        f"**{fmt(ref['fd_classifier_blurred'])}**.",
        "",
        "| recipe | G loss | seed | G steps | train s | fd_classifier | ÷ noisy ref | KID | IS | "
        "classes | class KL |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['recipe']} | {r['loss']} | {r['seed']} | {r['steps']} | "
            f"{r['train_seconds']:.0f} | "
            f"{fmt(r['fd_classifier'])} | {r['fd_classifier'] / r['fd_classifier_noisy']:.2f} | "
            f"{r['kid_classifier']:.3f} | {r['is_classifier']:.2f} | "
            f"{r['classes_present']:.0f} | {fmt(r['class_kl'])} |")
    lines += ["", "Final fixed-noise grids (64 samples each):", ""]
    for r in rows:
        seed = r["seed"]
        name = doc_name(section, f"fashion-{cell_name(r['recipe'], r['loss'], seed)}.png")
        lines.append(f"- {r['recipe']}, {r['loss']}{f', seed {seed}' if seed else ''}: "
                     f"![{name}](docs/images/{name})")
    if pretrain is not None:
        lines += ["", f"{KERAS} cells pretrained D on {pretrain} real + {pretrain} generated "
                  "images (the recipe's 10,000 + 10,000 would not fit this budget)."]
    return "\n".join(lines)


def tuning_table(rows: list[dict]) -> str:
    lines = ["| candidate | command | commit | date | G steps | fd_classifier | ÷ noisy ref | "
             "KID | classes | class KL |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['candidate']} | `{r['command']}` | {r['commit']} | {r['date']} | {r['steps']} | "
            f"{fmt(r['fd_classifier'])} | {r['fd_classifier'] / r['fd_classifier_noisy']:.2f} | "
            f"{r['kid_classifier']:.3f} | {r['classes_present']:.0f} | {fmt(r['class_kl'])} |")
    return "\n".join(lines)


def record_tuning(candidate: str, new: list[dict]) -> Path:
    """Keep this run's rows (in place of an earlier run of the same candidate) and rewrite the
    `images-tuning` section from all kept rows."""
    rows = json.loads(TUNING_ROWS.read_text()) if TUNING_ROWS.exists() else []
    stamp = {"candidate": candidate, "command": command_line(), "commit": git_commit(),
             "date": datetime.date.today().isoformat()}
    new = [{**stamp, **{k: v for k, v in r.items() if k != "reused"}} for r in new]
    at = next((i for i, r in enumerate(rows) if r["candidate"] == candidate), len(rows))
    rows = [*rows[:at], *new, *(r for r in rows[at:] if r["candidate"] != candidate)]
    TUNING_ROWS.write_text(json.dumps(rows, indent=2) + "\n")
    return write_tuning_section()


def write_tuning_section() -> Path:
    """The `images-tuning` section from the kept rows and the kept prose (trains nothing)."""
    rows = json.loads(TUNING_ROWS.read_text())
    intro, read = TUNING_TEXT.read_text().split("<!-- table -->")
    body = ("## Images: what moved the DCGAN recipe within a CPU budget\n\n" + intro.strip()
            + f"\n\nMachine: {bench_machine()}\n\n" + tuning_table(rows) + "\n\n"
            + read.strip() + "\n")
    return write_section("images-tuning", body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="training budget per cell")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per cell")
    ap.add_argument("--jobs", type=int, default=1,
                    help="cells trained at once, each in its own process (jobs × threads ≤ cores)")
    ap.add_argument("--pretrain-samples", type=int, default=None,
                    help="Keras recipe: D pretraining images of each kind (default: the preset's)")
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--losses", nargs="+", default=list(LOSSES), choices=list(LOSSES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0],
                    help="training seeds (train.seed); each is a cell of its own")
    ap.add_argument("--n-eval", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-images")
    ap.add_argument("--note", default="", help="a sentence added to the section")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave the files")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config overrides for every cell, e.g. train.ema=0.999")
    ap.add_argument("--section", default="images",
                    help="BENCHMARKS.md section to write (another name keeps the main table)")
    ap.add_argument("--title", default=None, help="the section's heading")
    ap.add_argument("--tuning", metavar="CANDIDATE", default=None,
                    help="add the rows to the images-tuning table under this name instead of "
                         "writing a section of their own")
    ap.add_argument("--rewrite-tuning", action="store_true",
                    help="rewrite the images-tuning section from its kept rows and text, "
                         "training nothing")
    args = ap.parse_args()
    if args.rewrite_tuning:
        print(f"wrote {write_tuning_section()}")
        return
    if args.tuning and args.no_write:
        ap.error("--tuning records a row in BENCHMARKS.md; leave out --no-write")

    from gankit.config import parse_overrides

    extra = parse_overrides(args.set)
    cells = [(recipe, loss, seed) for recipe in args.recipes for loss in args.losses
             for seed in args.seeds]
    warm_classifier()
    rows: list[dict] = []
    RESULTS.mkdir(exist_ok=True)
    for recipe, loss, seed in cells:
        print(f"== {recipe} / {loss} / seed {seed}: {args.minutes:g} min", flush=True)
    calls = [(recipe, loss, seed, args.minutes, args.threads, args.pretrain_samples, args.out,
              args.n_eval, extra) for recipe, loss, seed in cells]
    # in table order; a cell's row is printed as soon as it and those before it are done
    for _, row in run_parallel(one_cell, calls, args.jobs):
        print(json.dumps(row), flush=True)
        rows.append(row)
        if not (args.no_write or args.tuning):
            DOCS.mkdir(parents=True, exist_ok=True)
            name = f"fashion-{cell_name(row['recipe'], row['loss'], row['seed'])}.png"
            (DOCS / doc_name(args.section, name)).write_bytes((args.out / name).read_bytes())
            (RESULTS / f"{args.section}.json").write_text(json.dumps(rows, indent=2) + "\n")
    if args.tuning:
        print(f"wrote {record_tuning(args.tuning, rows)}")
        return
    title = args.title or ("Images: Fashion-MNIST, the Keras MNIST GAN vs DCGAN, each loss"
                           if args.section == "images" else f"Images ({args.section})")
    body = f"## {title}\n\n" + provenance()
    body += f"Threads per cell: {args.threads}; cells at once: {args.jobs}.\n"
    reused = sum(r.get("reused", False) for r in rows)
    if reused:
        body += (f"{reused} of {len(rows)} cells re-used from an earlier run of this protocol "
                 f"(same configuration and budget, kept in {args.out.name}/).\n")
    if extra:
        body += "Overrides on top of the presets: " + ", ".join(
            f"`{k}={v}`" for k, v in extra.items()) + ".\n"
    if args.note:
        body += f"\n{args.note}\n"
    body += "\n" + table(rows, args.minutes, args.threads, args.pretrain_samples,
                         args.section) + "\n"
    if args.no_write:
        print(body)
    else:
        print(f"wrote {write_section(args.section, body)}")


if __name__ == "__main__":
    main()
