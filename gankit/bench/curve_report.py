"""Outputs of a benchmark over training time (gankit/bench/curves.py): table.md, results.json
and three figures, scatter_grid.png (methods × steps, seed 0), mode_shares.png (the share of
samples at each mode against the step, every seed: the mode-hopping chart) and curves.png
(modes, HQ fraction, reverse KL against the step)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gankit.bench.curves import mode_hops, near_counts, near_radius
from gankit.bench.runner import Plan, slug
from gankit.bench.suites import CURVE_METRICS, CURVES
from gankit.bench.tables import column, mean_std, reused_note, stats, steps_label, strict_json


def add_near_counts(results: list[dict[str, Any]], folder: Path, centres: dict[str, Any]
                    ) -> None:
    """Each evaluation's samples near each mode (from its stored samples), and the mode hops
    counted on them: a collapsed blob counts at its mode before it is sharp enough to be high
    quality."""
    import numpy as np

    for r in results:
        samples = folder / f"{r['data']}__{slug(r['method'])}__seed{r['seed']}" / "samples"
        for row in r["curve"]:
            file = samples / f"step_{row['step']:07d}.npy"
            row["near_counts"] = (near_counts(np.load(file), centres[r["data"]])
                                  if file.exists() else [0] * len(centres[r["data"]]))
        r["mode_hops"] = mode_hops(r["curve"], key="near_counts")


def summarize(plan: Plan, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for data in plan.datasets:
        for method in plan.methods:
            rows = [r for r in results if r["data"] == data and r["method"] == method.name]
            if rows:
                out.append({
                    "data": data, "method": method.name, "seeds": len(rows),
                    "steps": rows[0]["steps"], "published_row": method.published,
                    "metrics": {m: stats([float(r["metrics"][m]) for r in rows])
                                for m in CURVE_METRICS},
                    "mode_hops": stats([r["mode_hops"] for r in rows]),
                    "train_seconds": stats([r["train_seconds"] for r in rows])})
    return out


def markdown(plan: Plan, summary: list[dict[str, Any]]) -> str:
    spec = CURVES[plan.suite.name]
    published = any(plan.suite.published.values())
    head = ["method", "steps", "seeds", "modes", "HQ %", "reverse KL", "mode hops", "s / run"]
    head += ["paper modes", "paper HQ %", "paper reverse KL"] if published else ["paper"]
    lines = []
    for data in plan.datasets:
        lines += [f"**{data}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for s in (s for s in summary if s["data"] == data):
            row = [s["method"], steps_label(s["steps"], plan.protocol.paper_steps),
                   str(s["seeds"])]
            for m in CURVE_METRICS:
                _, scale, digits = column(m)
                row.append(mean_std(s["metrics"][m], scale, digits))
            row += [mean_std(s["mode_hops"], 1.0, 1), mean_std(s["train_seconds"], 1.0, 0)]
            if published:
                ref = plan.suite.published.get(s["published_row"] or "", {}).get(data, {})
                for m in CURVE_METRICS:
                    _, scale, digits = column(m)
                    row.append("—" if ref.get(m) is None else f"*{ref[m] * scale:.{digits}f}*")
            else:
                text = spec.reference.get(s["method"], "—")
                row.append(f"*{text}*" if text != "—" else text)
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def _header(plan: Plan, info: dict[str, Any], tail_from: int, tail: float,
            radius: dict[str, float]) -> str:
    """The provenance and the reading instructions above a curve suite's table."""
    return (f"Suite `{plan.suite.name}`, protocol `{plan.protocol.name}`"
            f"{' (--quick)' if plan.quick else ''}: {plan.protocol.note}.  \n"
            f"Command: `{info['command']}`  \nMachine: {info['machine']}  \n"
            f"Date: {info['date']}; {info['jobs']} processes, "
            f"{info['wall_seconds'] / 60:.1f} min wall time{reused_note(info)}.  \n"
            f"Mean ± std over seeds of each seed's mean over its evaluations at steps ≥ "
            f"{tail_from:,} (the last {tail:.0%}); reverse KL over those of them with "
            "at least one high-quality sample (the share without one is in results.json, "
            "`no_hq_share`); *paper*: the published result. "
            "Mode hops: changes, between consecutive evaluations, of the mode holding most "
            "of the samples near a mode (within "
            + ", ".join(f"{r:.2f}" for r in radius.values())
            + ", a quarter of the closest spacing of two modes), when it holds most of "
            "them.\n\n")


def write_outputs(plan: Plan, results: list[dict[str, Any]], out: Path,
                  info: dict[str, Any]) -> dict[str, Path]:
    """table.md, results.json and the three figures under `out`."""
    from gankit.config import load_preset
    from gankit.tasks import build_task
    from gankit.viz.mode_collapse import metric_curves, mode_shares, scatter_grid

    out = Path(out)
    spec = CURVES[plan.suite.name]
    tasks = {d: build_task(load_preset(plan.protocol.presets[d])) for d in plan.datasets}
    centres = {d: t.mixture.centres.numpy() for d, t in tasks.items()}
    add_near_counts(results, out / "cells", centres)
    radius = {d: near_radius(c) for d, c in centres.items()}
    summary = summarize(plan, results)
    paths = {"table": out / "table.md", "json": out / "results.json"}
    header = _header(plan, info, round((1 - spec.tail) * results[0]["steps"]), spec.tail, radius)
    paths["table"].write_text(header + markdown(plan, summary))
    cells = [{k: v for k, v in r.items() if k != "config"} for r in results]
    paths["json"].write_text(json.dumps(strict_json(
        {"provenance": info, "summary": summary, "cells": cells,
         "published": plan.suite.published}), indent=1) + "\n")
    for data in plan.datasets:
        n_modes = tasks[data].mixture.n_modes
        grid = {m.name: [(r["seed"], r["curve"]) for r in results
                         if r["data"] == data and r["method"] == m.name]
                for m in plan.methods}
        grid = {k: v for k, v in grid.items() if v}
        what = f"{plan.suite.name}, {data}, protocol {plan.protocol.name}"
        rows = [(name, out / "cells" / f"{data}__{slug(name)}__seed{seeds[0][0]}" / "samples",
                 seeds[0][1]) for name, seeds in grid.items()]
        suffix = "" if len(plan.datasets) == 1 else f"_{data}"
        paths[f"scatter_grid{suffix}"] = scatter_grid(
            rows, centres[data], out / f"scatter_grid{suffix}.png", spec.columns,
            f"{what}: {rows[0][2][-1]['n_samples']:,} samples from the same latent draws at "
            f"each step, seed {grid[rows[0][0]][0][0]}")
        paths[f"mode_shares{suffix}"] = mode_shares(
            grid, n_modes, out / f"mode_shares{suffix}.png",
            f"{what}: share of samples within {radius[data]:.2f} of each mode "
            "(one colour per mode)")
        published = {row: {m: v for m, v in ref.get(data, {}).items()}
                     for row, ref in plan.suite.published.items()}
        by_method = {m.name: published.get(m.published or "", {}) for m in plan.methods}
        paths[f"curves{suffix}"] = metric_curves(
            grid, out / f"curves{suffix}.png", n_modes,
            f"{what}: mean over seeds, range shaded"
            + ("; dashed: published at 400k steps" if any(by_method.values()) else ""),
            by_method)
    return paths
