"""What `gankit bench` does with a plan: run its cells (along training for the curve suites),
then write the table, the machine-readable results and the figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gankit.bench import curve_report, curves, tables
from gankit.bench.runner import Plan, run_plan
from gankit.bench.suites import CURVES
from gankit.errors import GankitError

Report = Callable[[str, dict[str, Any], bool], None]


def default_out(plan: Plan) -> Path:
    """runs/bench/<suite>-<protocol>[-quick]: one folder per way of running a suite."""
    return Path("runs/bench") / (f"{plan.suite.name}-{plan.protocol.name}"
                                 + ("-quick" if plan.quick else ""))


def run_suite(plan: Plan, out: Path, jobs: int = 1, report: Report | None = None,
              finished_only: bool = False) -> dict[str, Path]:
    """Every cell of the plan (finished ones re-used by the cell rule), then the outputs under
    `out`; `report(key, result, reused)` as each cell becomes available. `finished_only` (curve
    suites): train nothing, tabulate the finished cells."""
    along_training = plan.suite.name in CURVES
    if finished_only and not along_training:
        raise GankitError(f"--finished-only is for the suites over training: {', '.join(CURVES)}")
    reused: list[str] = []

    def each(key: str, result: dict[str, Any], was_reused: bool) -> None:
        if was_reused:
            reused.append(key)
        if report is not None:
            report(key, result, was_reused)

    started = time.perf_counter()
    if along_training:
        results = curves.run_curves(plan, out, jobs, each, finished_only=finished_only)
    else:
        results = run_plan(plan, out, jobs, each)
    info = tables.provenance(plan, jobs, time.perf_counter() - started, len(reused))
    writer = curve_report.write_outputs if along_training else tables.write_outputs
    return writer(plan, results, out, info)
