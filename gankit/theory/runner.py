"""Run every theory check, write theory.json and one figure per check.

`theory.json` records the numbers, each criterion with its tolerance and reason, pass/fail, and
the machine, command and date it was produced on, so the docs can quote it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.theory import (
    disjoint,
    function_space,
    max_likelihood,
    minimax,
    optimal_d,
    saturation,
    value,
)
from gankit.theory.result import CheckResult, Criterion

#: Prop. 1, Thm 1, saturation, disjoint supports, ML, minimax/maximin, Prop. 2 (function space).
CHECKS: dict[str, ModuleType] = {m.KEY: m for m in (
    optimal_d, value, saturation, disjoint, max_likelihood, minimax, function_space)}
#: The networks here are tiny: a second intra-op thread buys nothing and, on a busy 2-core
#: machine, makes every step wait for a free core (measured: 10× slower under load).
MAX_THREADS = 1


def select(names: list[str] | None) -> list[str]:
    """Check keys to run, validated; all of them when `names` is empty."""
    if not names:
        return list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise GankitError(
            f"unknown theory check '{unknown[0]}'; choose from: {', '.join(CHECKS)}")
    return [n for n in CHECKS if n in names]


def run_check(key: str, out: Path, quick: bool) -> CheckResult:
    """One check, timed; an exception becomes a failed result that carries the traceback."""
    started = time.perf_counter()
    try:
        result = CHECKS[key].run(out, quick)
    except Exception as e:  # a crash is a failed check, reported with the others
        result = CheckResult(key, (CHECKS[key].__doc__ or key).split("\n")[0], "")
        result.criteria = [Criterion("ran without an exception", 0.0, ">=", 1.0, repr(e))]
        result.numbers["error"] = traceback.format_exc()
        result.headline = f"crashed: {e!r}"
    result.seconds = time.perf_counter() - started
    return result


def run_all(out: Path, quick: bool = False, names: list[str] | None = None,
            on_result: Callable[[CheckResult], None] | None = None) -> dict[str, Any]:
    """Run the selected checks, writing `out/theory.json` and `out/<key>.png`."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GankitError(f"--out {out} is a file; give a folder for theory.json and the figures")
    out.mkdir(parents=True, exist_ok=True)
    keys = select(names)
    threads = torch.get_num_threads()
    torch.set_num_threads(min(MAX_THREADS, threads))
    started = time.perf_counter()
    results = []
    try:
        for key in keys:
            result = run_check(key, out, quick)
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        torch.set_num_threads(threads)
    report = {
        "passed": all(r.passed for r in results),
        "quick": quick,
        "seconds": round(time.perf_counter() - started, 2),
        "command": f"gankit theory --out {out}" + (" --quick" if quick else "")
                   + "".join(f" --check {k}" for k in (names or [])),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.machine(),
                    "cpus": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads": min(MAX_THREADS, threads)},
        "checks": {r.key: r.to_dict() for r in results},
    }
    (out / "theory.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report
