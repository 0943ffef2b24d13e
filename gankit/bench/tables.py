"""Benchmark outputs: mean ± std over seeds, with the published numbers beside them.

Writes OUT/table.md (Markdown, one table per data set), OUT/results.csv (one line per cell),
OUT/results.json (cells, summary, published rows, provenance) and the panel figures.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

from gankit.bench.figures import panel
from gankit.bench.runner import Plan, make_plan
from gankit.bench.suites import get_suite
from gankit.metrics.registry import value_info, value_names


def column(value: str) -> tuple[str, float, int]:
    """Column title, scale and digits of the mean of a metric value, as its metric declared."""
    v = value_info(value)
    return v.column, v.scale, v.digits


def stats(values: list[float]) -> dict[str, Any]:
    """Mean and sample std of the finite values, and how many were infinite (rKL, no HQ)."""
    finite = [float(v) for v in values if math.isfinite(v)]
    return {"mean": statistics.fmean(finite) if finite else math.inf,
            "std": statistics.stdev(finite) if len(finite) > 1 else 0.0,
            "n": len(values), "n_infinite": len(values) - len(finite)}


def mean_std(s: dict[str, Any], scale: float = 1.0, digits: int = 3, style: str = "f") -> str:
    """'23.4 ± 1.1'; one seed: the value alone; '(2 × ∞)' notes infinite values left out.

    style "f": `digits` decimals for both; "g": `digits` significant digits for the mean and two
    for the std, always shown (the toy and demo-tuning sections of BENCHMARKS.md)."""
    if s["n"] == s["n_infinite"]:
        return "∞"
    if style == "g":
        text = f"{s['mean'] * scale:.{digits}g} ± {s['std'] * scale:.2g}"
    else:
        text = f"{s['mean'] * scale:.{digits}f}"
        if s["n"] - s["n_infinite"] > 1:
            text += f" ± {s['std'] * scale:.{digits}f}"
    if s["n_infinite"]:
        text += f" ({s['n_infinite']} × ∞)"
    return text


def summarize(plan: Plan, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (data, method): seeds, steps, and stats of every metric and the time."""
    out = []
    for data in plan.datasets:
        for method in plan.methods:
            rows = [r for r in results if r["data"] == data and r["method"] == method.name]
            if not rows:
                continue
            out.append({
                "data": data, "method": method.name, "seeds": len(rows),
                "steps": rows[0]["steps"], "published_row": method.published,
                "metrics": {m: stats([r["metrics"][m] for r in rows])
                            for m in value_names(plan.suite.metrics)},
                "train_seconds": stats([r["train_seconds"] for r in rows]),
            })
    return out


def steps_label(steps: int, paper_steps: int | None) -> str:
    if paper_steps is not None and steps < paper_steps:
        return f"{steps:,} (paper {paper_steps:,})"
    return f"{steps:,}"


def markdown(plan: Plan, summary: list[dict[str, Any]]) -> str:
    """One table per data set: our mean ± std, then the published value of the same method."""
    metrics = value_names(plan.suite.metrics)  # a metric may return several values
    published_cols = [m for m in metrics
                      if any(m in row.get(d, {}) for row in plan.suite.published.values()
                             for d in plan.datasets)]
    head = (["method", "steps", "seeds"] + [column(m)[0] for m in metrics]
            + ["s / run"] + [f"paper {column(m)[0]}" for m in published_cols])
    blocks = []
    for data in plan.datasets:
        lines = [f"**{data}**", "", "| " + " | ".join(head) + " |",
                 "|" + "---|" * len(head)]
        for s in (s for s in summary if s["data"] == data):
            cells = [s["method"], steps_label(s["steps"], plan.protocol.paper_steps),
                     str(s["seeds"])]
            for m in metrics:
                _, scale, digits = column(m)
                cells.append(mean_std(s["metrics"][m], scale, digits))
            cells.append(mean_std(s["train_seconds"], 1.0, 0))
            paper = plan.suite.published.get(s["published_row"] or "", {}).get(data, {})
            for m in published_cols:
                value = paper.get(m)
                _, scale, digits = column(m)
                cells.append("—" if value is None else f"*{value * scale:.{digits}f}*")
            lines.append("| " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def machine() -> str:
    """CPU model, cores, torch version, for the provenance line."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def provenance(plan: Plan, jobs: int, wall_seconds: float, reused: int = 0) -> dict[str, Any]:
    """Where a table comes from; `reused`: cells taken from an earlier invocation (their train
    time is in their own rows, not in this invocation's wall time)."""
    return {
        "command": "gankit " + shlex.join(sys.argv[1:]) if sys.argv[0].endswith("gankit")
        else shlex.join(sys.argv),  # quoted: method names hold spaces and commas
        "machine": machine(), "date": datetime.date.today().isoformat(),
        "suite": plan.suite.name, "protocol": plan.protocol.name,
        "protocol_note": plan.protocol.note, "paper_steps": plan.protocol.paper_steps,
        "quick": plan.quick, "jobs": jobs, "wall_seconds": round(wall_seconds, 1),
        "reused_cells": reused,
    }


def reused_note(info: dict[str, Any]) -> str:
    n = info.get("reused_cells", 0)
    return f" ({n} cells re-used from an earlier invocation)" if n else ""


def write_outputs(plan: Plan, results: list[dict[str, Any]], out: Path,
                  info: dict[str, Any]) -> dict[str, Path]:
    """table.md, results.csv, results.json and the panel figures under `out`."""
    out = Path(out)
    summary = summarize(plan, results)
    table = markdown(plan, summary)
    header = (f"Suite `{plan.suite.name}`, protocol `{plan.protocol.name}`"
              f"{' (--quick)' if plan.quick else ''}: {plan.protocol.note}.  \n"
              f"Command: `{info['command']}`  \nMachine: {info['machine']}  \n"
              f"Date: {info['date']}; {info['jobs']} processes, "
              f"{info['wall_seconds'] / 60:.1f} min wall time{reused_note(info)}.  \n"
              "Mean ± std over seeds; *paper* columns: the published value of the paper.\n\n")
    paths = {"table": out / "table.md", "csv": out / "results.csv",
             "json": out / "results.json"}
    paths["table"].write_text(header + table)
    metrics = value_names(plan.suite.metrics)
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["data", "method", "seed", "steps", *metrics, "train_seconds",
                         "steps_per_second"])
        for r in results:
            writer.writerow([r["data"], r["method"], r["seed"], r["steps"],
                             *[r["metrics"][m] for m in metrics], r["train_seconds"],
                             r["steps_per_second"]])
    cells = [{k: v for k, v in r.items() if k != "config"} for r in results]
    paths["json"].write_text(json.dumps(strict_json(
        {"provenance": info, "summary": summary, "cells": cells,
         "published": plan.suite.published}), indent=1) + "\n")
    if plan.suite.figure_data:
        for data in plan.datasets:
            path = panel(plan, results, out / "cells", out / f"panel_{data}.png", data)
            if path is not None:
                paths[f"panel_{data}"] = path
    return paths


def table_from_results(results: dict[str, Any]) -> str:
    """The Markdown tables of a results.json (what write_outputs put in table.md), rebuilt from
    its numbers: scripts read results, not Markdown."""
    info, summary = results["provenance"], loose_json(results["summary"])
    plan = make_plan(get_suite(info["suite"]), protocol=info["protocol"],
                     only_methods=list(dict.fromkeys(s["method"] for s in summary)),
                     only_data=list(dict.fromkeys(s["data"] for s in summary)))
    return markdown(plan, summary)


def loose_json(obj: Any) -> Any:
    """The inverse of strict_json: "inf" back to a float."""
    if isinstance(obj, dict):
        return {k: loose_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [loose_json(v) for v in obj]
    if obj in ("inf", "-inf", "nan"):
        return float(obj)
    return obj


def strict_json(obj: Any) -> Any:
    """Strict JSON: an infinite value (reverse KL with no HQ sample) becomes the text "inf"."""
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj
