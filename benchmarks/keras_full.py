"""The Keras MNIST GAN of "An Annotated Proof of Generative Adversarial Networks with
Implementation Notes" at its full 10,000 steps, a few seeds, each against gankit's DCGAN preset
given the CPU time the Keras run took; writes the `keras-mnist-full` section of BENCHMARKS.md.

    nice -n 19 python -m benchmarks.keras_full --seeds 0 1     # train or continue, then write
    python -m benchmarks.keras_full --seeds 0 1 --report       # only the section, from the cells
    python -m benchmarks.keras_full --seeds 0 --only dcgan --dcgan-minutes 90   # alongside

The last form trains the DCGAN cell on the other core while the Keras cell is still training,
under a budget estimated from the Keras cell's first steps; the next plain run tops it up to the
measured budget (a cell never gives back CPU time it has used, so estimate a little low).

Every cell is a run folder under --out (keras-seed0, dcgan-seed0, ...) that continues from its
checkpoint when the command is run again, so the 10,000 steps can be spread over several
sittings; a run folder trained by `gankit train keras-mnist --seed S` may be moved there as
keras-seedS and is continued. The Keras recipe is the `keras-mnist` preset as written (uniform
prior, D pretrained one epoch on 10,000 real + 10,000 generated images, Adam 2e-4 / 1e-4,
batch 32, one torch thread). Its CPU seconds per step are measured over the steps this script
trained (kept in keras-seedS.json; steps trained elsewhere are counted at that rate); the DCGAN
cell (`mnist-dcgan`, same seed) then trains for 10,000 × that many CPU seconds on one thread:
"the same wall time" on a core of its own, however busy the machine was.

Then both are evaluated on 10,000 samples against the MNIST test images with gankit's shipped
MNIST classifier (fd_classifier, its noisy-real reference, KID, classes covered, class KL), and
the Keras run's fixed-noise frames (64 samples every 250 steps) are classified to show whether
and when it collapses: the classes among those 64 samples, step by step. Pictures go to
docs/images/keras-full-*.png: the notes' loss plot and 3×8 grid at full length, the DCGAN's grid,
and the classes-covered curve of every seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from benchmarks.report import provenance, table, write_section

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "images"
RESULTS = ROOT / "benchmarks" / "results" / "keras-full.json"
KERAS_STEPS = 10_000
#: a frame with fewer classes than this among its 64 fixed-noise samples counts as collapsed
COLLAPSED_BELOW = 6


def keras_config(seed: int, steps: int, pretrain: int | None):
    from gankit.config import load_preset

    over = {"train.seed": seed, "train.threads": 1, "train.steps": steps}
    if pretrain is not None:
        over["train.pretrain_d_samples"] = pretrain
    return load_preset("keras-mnist").with_overrides(over)


def dcgan_config(seed: int, n_eval: int):
    from gankit.config import load_preset

    return load_preset("mnist-dcgan").with_overrides({
        "train.seed": seed, "train.threads": 1, "train.steps": 1_000_000,
        "train.ckpt_every": 500, "eval.n_samples": n_eval})


def read_record(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def open_or_start(cfg, run_dir: Path):
    from gankit import run

    if (run_dir / "checkpoint.pt").exists():
        return run.open_trainer(run_dir)
    return run.start(cfg, run_dir, force=True)


def train_keras(seed: int, out: Path, steps: int, pretrain: int | None) -> dict:
    """Train (or continue) the Keras cell to `steps`; its record: CPU seconds and steps of every
    sitting this script trained, saved every 50 steps so a killed sitting still counts."""
    import torch

    from gankit import run

    torch.set_num_threads(1)
    run_dir, path = out / f"keras-seed{seed}", out / f"keras-seed{seed}.json"
    record = read_record(path)
    trainer = open_or_start(keras_config(seed, steps, pretrain), run_dir)
    if trainer.step < steps:
        sittings = record.setdefault("sittings", [])
        sitting = {"from_step": trainer.step, "to_step": trainer.step, "cpu_seconds": 0.0}
        sittings.append(sitting)
        cpu0 = time.process_time()

        def note(tr) -> None:
            if tr.step % 50 == 0:
                sitting.update(to_step=tr.step, cpu_seconds=time.process_time() - cpu0)
                path.write_text(json.dumps(record, indent=1))
            if tr.step % 250 == 0:
                print(f"   keras seed {seed}: step {tr.step:,} of {steps:,}, "
                      f"{(time.process_time() - cpu0) / 60:.1f} CPU min this sitting", flush=True)

        run.train_run(trainer, note)
        sitting.update(to_step=trainer.step, cpu_seconds=time.process_time() - cpu0)
        path.write_text(json.dumps(record, indent=1))
    record["steps"] = trainer.step
    return record


def seconds_per_step(record: dict) -> float | None:
    """The Keras cell's CPU seconds per step over the sittings this script timed (the first
    sitting's D pretraining included), None before any."""
    steps = sum(s["to_step"] - s["from_step"] for s in record.get("sittings", []))
    cpu = sum(s["cpu_seconds"] for s in record.get("sittings", []))
    return cpu / steps if steps > 0 else None


def train_dcgan(seed: int, out: Path, seconds: float, n_eval: int) -> dict:
    """Train (or continue) the DCGAN cell until it has used `seconds` of CPU time in all."""
    import torch

    from gankit import run
    from gankit.bench.cells import differences

    torch.set_num_threads(1)
    run_dir, path = out / f"dcgan-seed{seed}", out / f"dcgan-seed{seed}.json"
    record = read_record(path)
    cfg = dcgan_config(seed, n_eval)
    if record.get("config") and differences(record["config"], cfg.to_toml()):
        record = {}  # another configuration: trained afresh
        shutil.rmtree(run_dir, ignore_errors=True)
    left = seconds - record.get("cpu_seconds", 0.0)
    trainer = open_or_start(cfg, run_dir)
    if left > 1:
        cpu0 = time.process_time()

        def stop_when_spent(tr) -> None:
            spent = time.process_time() - cpu0
            if spent >= left:
                tr.request_stop("budget")
            if tr.step % 500 == 0:
                print(f"   dcgan seed {seed}: step {tr.step:,}, {spent / 60:.1f} of "
                      f"{left / 60:.1f} CPU min", flush=True)

        run.train_run(trainer, stop_when_spent)
        record["cpu_seconds"] = record.get("cpu_seconds", 0.0) + time.process_time() - cpu0
    record.update(config=cfg.to_toml(), steps=trainer.step)
    path.write_text(json.dumps(record, indent=1))
    return record


def evaluate(run_dir: Path, name: str, n_eval: int, docs: Path | None) -> dict:
    """The run's metrics at n_eval samples; its pictures drawn in the run folder and copied to
    `docs` (unless None)."""
    from gankit import run

    trainer = run.open_trainer(run_dir, write=False)
    trainer.cfg = trainer.cfg.with_overrides({"eval.n_samples": n_eval})
    result = run.evaluate(trainer)
    for picture in run.render(trainer):
        if docs is not None and picture.suffix == ".png" and picture.name != "real.png":
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copy(picture, docs / f"keras-full-{name}-{picture.name.replace('_', '-')}")
    return {k: v for k, v in result.items() if isinstance(v, int | float)}


def classes_over_training(run_dir: Path) -> list[tuple[int, int]]:
    """(step, classes among the frame's 64 fixed-noise samples) for every saved frame."""
    import numpy as np
    import torch

    from gankit.config import load_preset
    from gankit.tasks import build_task
    from gankit.viz import frame_files

    task = build_task(load_preset("keras-mnist").with_overrides({"data.n_train": 64}))
    clf, out = task.classifier(), []
    for f in frame_files(run_dir / "frames"):
        with np.load(f) as z:
            grid = torch.from_numpy(z["grid"]).float() / 255
            step = int(z["step"])
        logits = clf.features_and_logits(grid)[1]
        out.append((step, len(set(logits.argmax(1).tolist()))))
    return out


def collapse_words(curve: list[tuple[int, int]]) -> str:
    """When the frames' class count first fell below COLLAPSED_BELOW after having reached it
    (an untrained G's blobs are one class: that is no collapse), and whether it came back."""
    up = next((s for s, c in curve if c >= COLLAPSED_BELOW), None)
    if up is None:
        return f"never {COLLAPSED_BELOW} classes in a frame"
    low = [s for s, c in curve if s > up and c < COLLAPSED_BELOW]
    if not low:
        return f"no collapse ({COLLAPSED_BELOW}+ classes in every frame from step {up:,})"
    back = [s for s, c in curve if s > low[0] and c >= COLLAPSED_BELOW]
    return (f"collapsed at step {low[0]:,}" + (f", recovered by step {back[0]:,}" if back
                                               else ", not recovered"))


def save_curves(curves: dict[int, list[tuple[int, int]]], path: Path) -> Path:
    import matplotlib.pyplot as plt

    import gankit.viz  # noqa: F401  (the Agg backend)

    fig, ax = plt.subplots(figsize=(6, 3))
    for seed, curve in curves.items():
        ax.plot([s for s, _ in curve], [c for _, c in curve], marker=".", label=f"seed {seed}")
    ax.axhline(COLLAPSED_BELOW, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="generator step", ylabel="classes in 64 fixed samples", ylim=(0, 10.5),
           title="Keras MNIST GAN: classes covered over training")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def train_only(args: argparse.Namespace) -> None:
    """Train one kind of cell for every seed (two processes can then share the two cores)."""
    for seed in args.seeds:
        if args.only == "keras":
            print(f"== Keras MNIST GAN, seed {seed}: to step {args.steps:,}", flush=True)
            train_keras(seed, args.out, args.steps, args.pretrain_samples)
            continue
        rate = seconds_per_step(read_record(args.out / f"keras-seed{seed}.json"))
        if args.dcgan_minutes is None and rate is None:
            raise SystemExit(f"error: keras-seed{seed} has no timed steps yet: give "
                             "--dcgan-minutes or train the Keras cell first")
        budget = args.dcgan_minutes * 60 if args.dcgan_minutes is not None else rate * args.steps
        print(f"== DCGAN, seed {seed}: {budget / 60:.1f} CPU minutes", flush=True)
        record = train_dcgan(seed, args.out, budget, args.n_eval)
        print(f"   {record['steps']:,} steps, {record['cpu_seconds'] / 60:.1f} CPU minutes",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "keras-full")
    ap.add_argument("--steps", type=int, default=KERAS_STEPS,
                    help="the Keras run's length (the notes': 10,000)")
    ap.add_argument("--pretrain-samples", type=int, default=None,
                    help="D pretraining images (default the recipe's 10,000); a smoke run only")
    ap.add_argument("--n-eval", type=int, default=10_000)
    ap.add_argument("--report", action="store_true", help="train nothing: write from the cells")
    ap.add_argument("--only", choices=["keras", "dcgan"], default=None,
                    help="train one cell of each seed and stop (no evaluation, nothing written)")
    ap.add_argument("--dcgan-minutes", type=float, default=None,
                    help="with --only dcgan: the DCGAN cell's CPU budget, instead of the Keras "
                         "cell's measured CPU seconds per step × --steps")
    ap.add_argument("--note", default="", help="a paragraph added to the section")
    ap.add_argument("--no-write", action="store_true", help="print the section only")
    args = ap.parse_args()
    if args.dcgan_minutes is not None and args.only != "dcgan":
        ap.error("--dcgan-minutes goes with --only dcgan (a plain run uses the measured budget)")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only:
        train_only(args)
        return
    rows, curves = [], {}
    for seed in args.seeds:
        keras_dir = args.out / f"keras-seed{seed}"
        if args.report:
            record = read_record(args.out / f"keras-seed{seed}.json")
        else:
            print(f"== Keras MNIST GAN, seed {seed}: to step {args.steps:,}", flush=True)
            record = train_keras(seed, args.out, args.steps, args.pretrain_samples)
        rate = seconds_per_step(record)
        if rate is None:
            raise SystemExit(f"error: {keras_dir} has no timed sitting: run without --report")
        budget = rate * args.steps
        if not args.report:
            print(f"== DCGAN, seed {seed}: {budget / 60:.1f} CPU minutes "
                  f"({rate:.3f} s per Keras step × {args.steps:,})", flush=True)
            train_dcgan(seed, args.out, budget, args.n_eval)
        dcgan = read_record(args.out / f"dcgan-seed{seed}.json")
        timed = sum(s["to_step"] - s["from_step"] for s in record["sittings"])
        curves[seed] = classes_over_training(keras_dir)
        for recipe, run_dir, steps, cpu in (
                ("keras", keras_dir, record.get("steps", args.steps), budget),
                ("dcgan", args.out / f"dcgan-seed{seed}", dcgan.get("steps"),
                 dcgan.get("cpu_seconds", 0.0))):
            print(f"== evaluating {recipe}, seed {seed}", flush=True)
            rows.append({"recipe": recipe, "seed": seed, "steps": steps, "cpu_minutes": cpu / 60,
                         "timed_steps": timed if recipe == "keras" else None,
                         "collapse": collapse_words(curves[seed]) if recipe == "keras" else "",
                         **evaluate(run_dir, f"{recipe}-seed{seed}", args.n_eval,
                                    None if args.no_write else DOCS)})
    if not args.no_write:
        DOCS.mkdir(parents=True, exist_ok=True)
        save_curves(curves, DOCS / "keras-full-classes.png")
    label = {"keras": "Keras MNIST GAN (`keras-mnist`)", "dcgan": "DCGAN (`mnist-dcgan`)"}
    lines = table(["recipe", "seed", "G steps", "CPU min", "fd_classifier", "÷ noisy ref", "KID",
                   "classes", "class KL", "over training"],
                  [[label[r["recipe"]], str(r["seed"]), f"{r['steps']:,}",
                    f"{r['cpu_minutes']:.0f}", f"{r['fd_classifier']:.3g}",
                    f"{r['fd_classifier'] / r['fd_classifier_noisy']:.2f}",
                    f"{r['kid_classifier']:.3f}", f"{r['classes_present']:.0f}",
                    f"{r['class_kl']:.3g}", r["collapse"] or "–"] for r in rows])
    keras = [r for r in rows if r["recipe"] == "keras"]
    body = "\n".join([
        "## The Keras MNIST GAN at its full 10,000 steps, against DCGAN at equal CPU time", "",
        provenance(),
        "The Keras MNIST GAN of \"An Annotated Proof of Generative Adversarial Networks with "
        "Implementation Notes\" as written (preset `keras-mnist`: uniform prior, D pretrained "
        "one epoch on 10,000 real + 10,000 generated images, Adam 2e-4 / 1e-4, batch 32), "
        f"{args.steps:,} generator steps on one torch thread, and gankit's `mnist-dcgan` given "
        "the same CPU time (the Keras run's CPU seconds per step, measured over "
        + ", ".join(f"{r['timed_steps']:,} steps of seed {r['seed']}" for r in keras)
        + f", × {args.steps:,}). Evaluation: {args.n_eval:,} samples against the MNIST test "
        "images in the features of gankit's shipped MNIST classifier. 'Over training': the "
        "classes among the Keras run's 64 fixed-noise samples in the frames saved every 250 "
        f"steps (collapsed: fewer than {COLLAPSED_BELOW}).",
        *(["", args.note] if args.note else []), "", *lines, "",
        "Classes covered over training: ![classes](docs/images/keras-full-classes.png)", "",
        *[f"- seed {r['seed']}: the notes' loss plot "
          f"![loss](docs/images/keras-full-keras-seed{r['seed']}-keras-loss.png) and 3×8 grid "
          f"![grid](docs/images/keras-full-keras-seed{r['seed']}-keras-grid.png); DCGAN "
          f"![dcgan](docs/images/keras-full-dcgan-seed{r['seed']}-grid.png)" for r in keras]])
    print(body)
    if args.no_write:
        return
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {write_section('keras-mnist-full', body)}")


if __name__ == "__main__":
    main()
