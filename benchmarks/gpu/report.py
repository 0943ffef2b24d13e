"""The GPU check's report: one Markdown section per part, from a run's JSON, written into
BENCHMARKS.md (section `gpu-check`) by benchmarks/report.py like every other section, with the
speed table also in docs/speed.md."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from benchmarks.gpu.common import fail
from benchmarks.gpu.recipes import PACGAN_GOAL
from benchmarks.report import ROOT, table, write_section

SPEED_MD = ROOT / "docs" / "speed.md"
Lines = list[str]


def f(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.{digits}g}"


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def head(results: dict, grid: str | None) -> Lines:
    """Command, machine, and every part's status."""
    m = results["meta"]
    return ["## GPU check (benchmarks/gpu_check.py)", "",
            f"Command: `{m['command']}`  ",
            f"Machine: {m['machine']}; GPU {m.get('gpu', 'none')} ({m.get('gpu_memory_gib', '?')} "
            f"GiB, driver {m.get('driver', '?')}); torch {m['torch']}, CUDA {m['cuda']}; "
            f"{m['date']}  ", f"Commit: {m['commit']}; budget {m['budget_minutes']:g} min, "
            f"wall {m.get('wall_seconds', 0):.0f} s", "",
            *table(["part", "status", "seconds", "reason"],
                   [[n, r["status"], f"{r.get('seconds', 0):.0f}",
                     (r.get("reason") or "").replace("|", "/")[:200]]
                    for n, r in results["parts"].items()])]


def tests(results: dict, grid: str | None) -> Lines:
    t = results["parts"].get("tests", {})
    if not t.get("tests"):
        return []
    return ["", f"CUDA tests: {t.get('passed', 0)} passed, {t.get('failed', 0)} failed, "
            f"{t.get('skipped', 0)} skipped.",
            *(f"- `{k}`: {v}" for k, v in t["tests"].items() if not v.startswith("passed"))]


def speed_table(s: dict) -> Lines:
    """Classic loop against gankit, one row per model (also docs/speed.md's block)."""
    rows = []
    for r in s["models"]:
        if "skipped" in r:
            rows.append([r["model"], f"not measured: {r['skipped']}", *[""] * 8])
            continue
        best = (f"{r['best_batch']}: {f(r['best_samples_per_s'])}, "
                f"{pct(r.get('best_peak_fraction'))}") if r.get("best_batch") else "—"
        rows.append([r["model"], str(r["batch"]), f(r["classic_samples_per_s"]),
                     f(r["fast_samples_per_s"]), f"{r['ratio']:.2f}×",
                     f"{r['gflop_per_image']:.3f}", pct(r.get("peak_fraction")), best,
                     r.get("batch_search", {}).get("note", "—"), r["fast_path"]])
    return table(["model", "batch", "classic, samples/s", "gankit, samples/s", "ratio",
                  "GFLOP/image", "% of peak bf16", "best batch: samples/s, % of peak",
                  "largest batch", "fast path"], rows)


def speed(results: dict, grid: str | None) -> Lines:
    s = results["parts"].get("speed", {})
    if not s.get("models"):
        return []
    return ["", "### Speed: classic eager loop vs gankit fast path, side by side", "",
            f"Peak dense bf16: {f(s.get('peak_bf16_tflops'))} TFLOP/s "
            f"({s.get('peak_source', '')}); a {s.get('matmul_size')}³ bf16 matrix product "
            f"ran at {f(s.get('matmul_bf16_tflops'))} TFLOP/s here.", "", *speed_table(s)]


def _timing(rows: dict, rate: str) -> list[list[str]]:
    return [[k, f(v.get(rate)), f(v.get("warmup_s"))] if "error" not in v
            else [k, f"failed: {v['error'][:120]}", ""] for k, v in rows.items()]


def small_mlp(results: dict, grid: str | None) -> Lines:
    mlp = results["parts"].get("small_mlp", {})
    if not mlp.get("trainer"):
        return []
    config = mlp.get("config", "toy-grid-pacgan, GAN")
    return ["", f"### Small MLPs ({config}; one seed, gankit's trainer)", "",
            *table(["variant", "steps/s", "warm-up s"], _timing(mlp["trainer"], "steps_per_s")),
            "", f"Fastest once warm: {mlp.get('trainer_choice', '—')}; the PacGAN part "
            "takes the mode that does the most steps in its time, warm-up included.", "",
            f"Several seeds in one process ({mlp.get('multiseed_setup', '')}):", "",
            *table(["how", "seed-steps/s", "warm-up s"],
                   _timing(mlp.get("multiseed", {}), "seed_steps_per_s")),
            "", f"Faster: {mlp.get('multiseed_choice', '—')}."]


def fashion(results: dict, grid: str | None) -> Lines:
    fa = results["parts"].get("fashion", {})
    if fa.get("status") != "ok":
        return []
    keys = ("fd_classifier", "fd_classifier_floor", "fd_classifier_noisy",
            "fd_classifier_blurred", "fd_over_noisy", "kid_classifier", "is_classifier",
            "classes_present")
    return ["", f"### Fashion-MNIST DCGAN recipe, {fa['minutes']:g} minutes on the GPU", "",
            f"{fa['data']}; {fa['steps']:,} G steps in {fa['train_seconds']:.0f} s "
            f"({fa['fast_path']}); evaluation on {fa['n_samples']:,} samples as in the "
            "`images` section.", "",
            *table(["fd_classifier", "floor", "noisy ref", "blurred ref", "÷ noisy ref", "KID",
                    "IS", "classes", "goal (≤ 0.3× noisy)"],
                   [[*(f(fa.get(k)) for k in keys), "met" if fa.get("goal_met") else "not met"]]),
            *(["", f"![fixed-noise samples after {fa['minutes']:g} minutes]({grid})"]
              if grid else [])]


def long_runs(results: dict, grid: str | None) -> Lines:
    lines = []
    for key, title, metrics in (
            ("keras_mnist", "Keras MNIST GAN of the implementation notes",
             ("fd_classifier", "fd_classifier_noisy", "classes_present", "is_classifier")),
            ("stacked", "Stacked MNIST", ("stacked_modes", "stacked_kl", "stacked_modes_real"))):
        r = results["parts"].get(key, {})
        if r.get("status") == "ok":
            lines += ["", f"### {title}", "", f"{r['steps']:,} of {r['target_steps']:,} steps "
                      f"in {r['train_seconds']:.0f} s ({r['fast_path']}); " + ", ".join(
                          f"{k} {f(r.get(k))}" for k in metrics if k in r) + "."]
    return lines


def pacgan(results: dict, grid: str | None) -> Lines:
    pg = results["parts"].get("pacgan", {})
    if not pg.get("methods"):
        return []
    goal = pg.get("goal_met")
    verdict = ("not judged: the run did not reach 400,000 steps" if goal is None else
               "met" if goal else "not met")
    return ["", "### PacGAN 2-D grid (toy-grid-pacgan)", "",
            f"Trainer mode: {pg.get('trainer_mode')}.", "",
            *table(["method", "steps (of 400,000)", "steps/s", "modes", "high-quality",
                    "reverse KL", "fast path"],
                   [[k, f"{r['steps']:,}", f(r["steps_per_s"]), f(r.get("modes")),
                     f(r.get("hq_fraction")), f(r.get("reverse_kl")), r["fast_path"]]
                    for k, r in pg["methods"].items()]),
            "", f"Goal ({PACGAN_GOAL}): {verdict}."]


#: the section's parts, in order; each reads the run's JSON and may show nothing
SECTIONS: tuple[Callable[[dict, str | None], Lines], ...] = (
    head, tests, speed, small_mlp, fashion, long_runs, pacgan)


def render(results: dict, grid: str | None = None) -> tuple[str, str]:
    """(the BENCHMARKS.md section body, the docs/speed.md block) from a run's JSON; `grid`: the
    Fashion-MNIST sample grid's path in the repository, if recorded."""
    m = results["meta"]
    body = "\n".join(line for section in SECTIONS for line in section(results, grid)) + "\n"
    s = results["parts"].get("speed", {})
    rows = speed_table(s) if s.get("models") else []
    speed_md = "\n".join(["<!-- gpu-check -->", "### Measured on a GPU", "",
                          f"From BENCHMARKS.md, section `gpu-check` (`{m['command']}`, "
                          f"{m.get('gpu', 'no GPU')}, torch {m['torch']}, CUDA {m['cuda']}, "
                          f"{m['date']}):", "",
                          *(rows or ["The speed part did not run: see the section."]),
                          "<!-- /gpu-check -->"])
    return body, speed_md


def write_docs(results: dict, folder: Path | None = None) -> list[Path]:
    """BENCHMARKS.md's `gpu-check` section and docs/speed.md's block; the Fashion-MNIST grid
    beside the JSON (in `folder`) is copied to docs/images/."""
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
