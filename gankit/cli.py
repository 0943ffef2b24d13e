"""The `gankit` command. Sub-commands are thin: the work is in gankit.run."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from gankit.errors import GankitError
from gankit.train.distributed import require_single

app = typer.Typer(
    help="gankit: train, evaluate and sample generative adversarial networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Under torchrun only rank 0 speaks (the others would print the same lines).
_QUIET = os.environ.get("RANK", "0") != "0"
out = Console(soft_wrap=True, quiet=_QUIET)
err = Console(stderr=True, soft_wrap=True, quiet=_QUIET)

EXIT_USER_ERROR = 2
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


def user_errors(fn):
    """Turn a GankitError into one red line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GankitError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_USER_ERROR) from None

    return wrapper


def _progress_hook(progress: Progress, task_id) -> callable:
    def on_step(trainer) -> None:
        rec = getattr(trainer, "last_record", None)
        stats = f"D {rec['d_loss']:.3f}  G {rec['g_loss']:.3f}" if rec else ""
        progress.update(task_id, completed=trainer.step, stats=stats)

    return on_step


def _run_training(trainer) -> None:
    from gankit import run

    total = trainer.cfg.train.steps
    columns = (TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
               TextColumn("steps"), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn(), TextColumn("{task.fields[stats]}"))
    ranks = f" × {trainer.dist.world_size} processes" if trainer.dist.enabled else ""
    out.print(f"[bold]{trainer.cfg.description or 'run'}[/] → {trainer.run_dir} "
              f"on {trainer.device}{ranks}, {trainer.fast.describe()} "
              f"(step {trainer.step} of {total})", highlight=False)
    with Progress(*columns, console=out, transient=False) as progress:
        task_id = progress.add_task("train", total=total, completed=trainer.step, stats="")
        finished = run.train(trainer, _progress_hook(progress, task_id))
    if not finished:
        err.print(f"stopped by {trainer.stop_signal} at step {trainer.step}; checkpoint saved. "
                  f"Continue with: gankit resume {trainer.run_dir}", highlight=False)
        raise typer.Exit(EXIT_SIGNAL.get(trainer.stop_signal, 1))
    _evaluate_and_render(trainer)


def _evaluate_and_render(trainer) -> None:
    from gankit import run

    if not trainer.dist.is_main:  # under torchrun rank 0 evaluates; the others are done
        return
    with out.status("evaluating"):
        result = run.evaluate(trainer)
    print_metrics(result, f"{trainer.run_dir} at step {trainer.step}")
    with out.status("drawing pictures"):
        pictures = run.render(trainer)
    out.print(f"metrics: {trainer.run_dir / 'metrics.json'}", highlight=False)
    for p in pictures:
        out.print(f"picture: {p}", highlight=False)


def print_metrics(result: dict, title: str) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key in ("step", "eval_seconds"):
            continue
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        table.add_row(key, text)
    out.print(table)


@app.command()
@user_errors
def train(
    preset: Annotated[
        str, typer.Argument(help="Preset name (see `gankit presets`) or a .toml file.")
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Config overrides, e.g. train.lr_g=2e-4 model.d_width=128."),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Run directory.")] = None,
    steps: Annotated[int | None, typer.Option(help="Generator steps (train.steps).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (train.seed).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing run directory.")] = False,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Folder of the data set: IDX files, or your images (data.data_dir).")
    ] = None,
    inception_weights: Annotated[Path | None, typer.Option(
        "--inception-weights", help="Local TorchScript Inception weights: adds fid_inception.")
    ] = None,
) -> None:
    """Train a GAN from a preset, then evaluate it and draw its pictures."""
    from gankit import run
    from gankit.config import load_preset, parse_overrides

    pairs = parse_overrides(list(overrides or []))
    if steps is not None:
        pairs["train.steps"] = steps
    if seed is not None:
        pairs["train.seed"] = seed
    if data_dir is not None:
        pairs["data.data_dir"] = str(data_dir)
    cfg = load_preset(preset).with_overrides(pairs)
    if inception_weights is not None:
        from gankit.metrics.inception import with_inception

        cfg = with_inception(cfg, inception_weights)
    name = Path(preset).stem
    target = out_dir or Path("runs") / f"{name}-seed{cfg.train.seed}"
    _run_training(run.start(cfg, target, force))


@app.command()
@user_errors
def resume(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `gankit train`.")],
    steps: Annotated[
        int | None, typer.Option(help="New total of generator steps (default: the run's own).")
    ] = None,
) -> None:
    """Continue a run from its last complete checkpoint."""
    from gankit import run

    trainer = run.open_run(run_dir, steps)
    if trainer.step >= trainer.cfg.train.steps:
        out.print(f"{run_dir} already finished its {trainer.cfg.train.steps} steps; "
                  "pass --steps N with a larger N to train longer", highlight=False)
        _evaluate_and_render(trainer)
        return
    _run_training(trainer)


@app.command("eval")
@user_errors
def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `gankit train`.")],
    inception_weights: Annotated[Path | None, typer.Option(
        "--inception-weights", help="Local TorchScript Inception weights: adds fid_inception.")
    ] = None,
) -> None:
    """Evaluate a run's latest checkpoint: writes metrics.json and prints the table."""
    from gankit import run

    require_single("gankit eval")
    trainer = run.open_run(run_dir)
    if inception_weights is not None:
        from gankit.metrics.inception import with_inception

        trainer.cfg = with_inception(trainer.cfg, inception_weights)
    result = run.evaluate(trainer)
    print_metrics(result, f"{run_dir} at step {trainer.step}")
    out.print(f"metrics: {Path(run_dir) / 'metrics.json'}", highlight=False)


@app.command()
@user_errors
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `gankit train`.")],
    n: Annotated[int, typer.Option("-n", help="Number of samples.")] = 1000,
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Output file.")] = Path(
        "samples.npy"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the latent draws.")] = 0,
) -> None:
    """Draw samples from a run's generator into a file (format from the suffix)."""
    from gankit import run

    require_single("gankit sample")
    path = run.sample_to_file(run_dir, n, out_file, seed)
    out.print(f"wrote {n} samples to {path}", highlight=False)


@app.command()
@user_errors
def presets() -> None:
    """List the presets shipped with gankit."""
    from gankit.config import preset_descriptions

    table = Table(title="presets", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("description")
    for name, text in preset_descriptions().items():
        table.add_row(name, text)
    out.print(table)


@app.command()
@user_errors
def theory(
    out_dir: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for theory.json and one figure per check.")
    ] = Path("runs/theory"),
    quick: Annotated[bool, typer.Option(
        help="Reduced sizes and looser tolerances: seconds instead of a minute.")] = False,
    check: Annotated[list[str] | None, typer.Option(
        "--check", help="Run only this check (repeatable): optimal_d, value, saturation, "
        "disjoint, max_likelihood, minimax.")] = None,
) -> None:
    """Watch the seeds' propositions hold: optimal D, Theorem 1, saturation, disjoint supports,
    maximum likelihood, minimax vs maximin. Exit code 1 if a check fails."""
    from gankit.theory.runner import CHECKS, run_all, select

    keys = select(check)
    with out.status(f"checking {CHECKS[keys[0]].KEY}") as status:
        remaining = iter(keys[1:])

        def done(result) -> None:
            mark = "[green]pass[/]" if result.passed else "[bold red]FAIL[/]"
            out.print(f"{mark} {result.key} ({result.seconds:.1f} s)", highlight=False)
            following = next(remaining, None)
            if following is not None:
                status.update(f"checking {following}")

        report = run_all(out_dir, quick, check, on_result=done)
    table = Table(title=f"theory checks{' (quick)' if quick else ''}, {report['seconds']:.0f} s",
                  title_justify="left")
    for column in ("check", "result", "criteria", "s", "measured"):
        table.add_column(column, justify="right" if column in ("criteria", "s") else "left")
    for r in report["checks"].values():
        held = sum(c["passed"] for c in r["criteria"])
        table.add_row(r["key"], "[green]pass[/]" if r["passed"] else "[red]FAIL[/]",
                      f"{held}/{len(r['criteria'])}", f"{r['seconds']:.1f}", r["headline"])
    out.print(table)
    for r in report["checks"].values():
        for c in r["criteria"]:
            if not c["passed"]:
                err.print(f"[red]failed[/] {r['key']}: {c['name']} = {c['value']:.4g}, "
                          f"needs {c['op']} {c['bound']:.4g} ({c['why']})", highlight=False)
    out.print(f"numbers: {Path(out_dir) / 'theory.json'}; figures: {out_dir}/<check>.png",
              highlight=False)
    if not report["passed"]:
        raise typer.Exit(1)


@app.command()
@user_errors
def bench(
    suite: Annotated[
        str, typer.Argument(help="Benchmark suite: toy (ring, grid), stacked (1,000 modes), "
                              "unrolled (Metz et al.'s ring) or pacgan-grid (over steps).")
    ],
    seeds: Annotated[int | None, typer.Option(help="Seeds per cell (default 5).")] = None,
    steps: Annotated[
        int | None, typer.Option(help="Generator steps per run (default: the presets').")
    ] = None,
    jobs: Annotated[int, typer.Option(help="Runs in parallel, one process each.")] = 1,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default runs/bench/...).")
    ] = None,
    protocol: Annotated[
        str | None, typer.Option(help="toy: demo (default) or pacgan (the paper's nets); "
                                    "stacked: digits (default), fashion or mnist; "
                                    "unrolled: paper; pacgan-grid: pacgan.")
    ] = None,
    quick: Annotated[bool, typer.Option(help="A reduced suite: minutes on 2 CPU cores.")] = False,
    method: Annotated[
        list[str] | None, typer.Option(help="Only this method (repeatable), e.g. PacGAN4.")
    ] = None,
    data: Annotated[list[str] | None, typer.Option(help="Only this data set (repeatable).")] = None,
    finished_only: Annotated[bool, typer.Option(
        help="unrolled, pacgan-grid: train nothing, tabulate the finished cells.")] = False,
) -> None:
    """Run every (method × data × seed) of a suite, resumably; write table.md, results.csv,
    results.json and panel figures, with the published numbers beside ours."""
    import time

    from gankit.bench.curves import CURVES
    from gankit.bench.runner import make_plan, run_plan
    from gankit.bench.suites import get_suite
    from gankit.bench.tables import provenance, write_outputs

    plan = make_plan(get_suite(suite), seeds, steps, protocol, quick, method, data)
    if plan.suite.name in CURVES:  # unrolled, pacgan-grid: evaluated along training
        from functools import partial

        from gankit.bench.curves import run_curves

        run_plan = partial(run_curves, finished_only=finished_only)
    elif finished_only:
        raise GankitError("--finished-only is for the suites over training: "
                          f"{', '.join(CURVES)}")
    target = out_dir or Path("runs/bench") / (
        f"{plan.suite.name}-{plan.protocol.name}" + ("-quick" if quick else ""))
    total = len(plan.datasets) * len(plan.methods) * plan.seeds
    count = iter(range(1, total + 1))
    reused_cells = []

    def report(key: str, result: dict, reused: bool) -> None:
        if reused:
            reused_cells.append(key)
        m = result["metrics"]
        shown = "  ".join(f"{k} {v:.3g}" for k, v in m.items())
        how = "re-used" if reused else f"{result['train_seconds']:.0f} s"
        out.print(f"[{next(count)}/{total}] {key}: {shown} ({how})", highlight=False)

    out.print(f"[bold]bench {plan.suite.name}[/] protocol {plan.protocol.name}: {total} runs, "
              f"{jobs} in parallel → {target}", highlight=False)
    started = time.perf_counter()
    results = run_plan(plan, target, jobs, report)
    if plan.suite.name in CURVES:
        from gankit.bench.curve_report import write_outputs
    paths = write_outputs(plan, results, target,
                          provenance(plan, jobs, time.perf_counter() - started,
                                     len(reused_cells)))
    out.print(paths["table"].read_text(), highlight=False)
    for path in paths.values():
        out.print(f"wrote {path}", highlight=False)


def main() -> None:
    from gankit.train.distributed import shutdown

    try:
        app()
    except KeyboardInterrupt:  # outside training (which handles it): no traceback
        err.print("interrupted")
        sys.exit(130)
    finally:
        shutdown()  # torchrun: leave the process group (no-op otherwise)


if __name__ == "__main__":
    main()
