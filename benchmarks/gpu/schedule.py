"""The GPU check's scheduler: the parts one after another within one budget, each in a process
of its own (`python -m benchmarks.gpu_check --part NAME`), so that a crash, a hang or an
out-of-memory in one is reported with its traceback and the next still runs.

Not the bench engine's process pool (gankit.bench.engine.run_parallel): a part must be stopped
at its deadline, with the processes it started (pytest, torchrun), which a pool cannot do.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from benchmarks.gpu.common import Skip
from benchmarks.report import ROOT

RESULT_NAME, LOG_NAME = "gpu-check.json", "gpu-check.log"


@dataclass(frozen=True)
class Part:
    name: str
    full: float  # nominal seconds in a full run (the defaults sum to 8 minutes)
    tiny: float  # nominal seconds with --tiny
    minimum: float  # below this share (full run) the part is skipped
    what: str
    run: Callable[[argparse.Namespace], dict]  # in the part's process: its numbers
    data: str = ""  # the data set it cannot run without (checked before it starts)


def shares(left: float, todo: list[Part], tiny: bool) -> float:
    """This part's seconds: its nominal share of what is left (at least its minimum)."""
    nominal = [p.tiny if tiny else p.full for p in todo]
    share = left * nominal[0] / sum(nominal)
    if tiny:
        return min(share, nominal[0])
    return max(share, min(todo[0].minimum, left))


def skip_reason(part: Part, left: float, found: dict[str, Any], tiny: bool) -> str | None:
    """Why `part` does not start (its data missing, too little budget left), or None."""
    if part.data and not found.get(part.data):
        return (f"no {part.data} data on this machine (bring it with benchmarks/gpu_bundle.sh; "
                "nothing is downloaded here)")
    least = part.tiny / 2 if tiny else part.minimum
    if left < least:
        return f"budget: {left:.0f} s left, the part needs at least {least:.0f} s"
    return None


def run_parts(a: argparse.Namespace, todo: list[Part], meta: dict[str, Any],
              env: dict[str, str]) -> dict[str, Any]:
    """Every part of `todo` in turn, each in its share of what is left of the budget; the JSON
    (written after every part: a run killed from outside keeps what it did) and the log."""
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    Path(a.work).mkdir(parents=True, exist_ok=True)
    budget = a.budget_minutes * 60
    deadline = time.monotonic() + budget
    grace = a.grace if a.grace is not None else 30 if a.tiny else 45  # imports, overruns
    results: dict[str, Any] = {"meta": meta, "parts": {}}
    with open(out / LOG_NAME, "w") as log:
        log.write(json.dumps(meta, indent=1) + "\n")
        for i, part in enumerate(todo):
            left = deadline - time.monotonic()
            why = skip_reason(part, left, meta["data"], a.tiny)
            runnable = [p for p in todo[i:] if not p.data or meta["data"].get(p.data)]
            seconds = 0.0 if why else shares(left, runnable, a.tiny)
            res = ({"status": "skipped", "reason": why} if why else
                   run_child(a, part, seconds, seconds + grace, env, log))
            results["parts"][part.name] = res
            line = f"{part.name}: {res['status']}" + (f" ({res['reason']})"
                                                      if res.get("reason") else "")
            ran = f" in {res.get('seconds', 0):.0f} s (share {seconds:.0f} s)" \
                if res["status"] != "skipped" or "seconds" in res else ""
            print(f"[{time.strftime('%H:%M:%S')}] {line}{ran}", flush=True)
            log.write(f"== {line}\n")
            log.flush()
            meta["wall_seconds"] = round(budget - (deadline - time.monotonic()), 1)
            (out / RESULT_NAME).write_text(json.dumps(results, indent=1, default=str) + "\n")
    return results


def run_child(a: argparse.Namespace, part: Part, seconds: float, timeout: float,
              env: dict[str, str], log: TextIO) -> dict[str, Any]:
    """One part in its own process group, killed with everything it started at `timeout`."""
    cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--part", part.name, "--seconds",
           f"{seconds:.1f}", "--deadline", f"{time.time() + timeout:.0f}", "--device", a.device,
           "--out", str(a.out), "--work", str(a.work)]
    if a.tiny:
        cmd.append("--tiny")
    log.write(f"\n== {part.name}: {part.what}; share {seconds:.0f} s\n$ {shlex.join(cmd)}\n")
    log.flush()
    result_file = Path(a.work) / f"{part.name}.json"
    partial = Path(a.work) / f"{part.name}.partial.json"
    result_file.unlink(missing_ok=True)
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the part and whatever it started (pytest, torchrun)
        proc.wait()
        done = json.loads(partial.read_text()) if partial.exists() else {}
        return {**done, "status": "timeout",
                "seconds": round(time.perf_counter() - started, 1),
                "reason": f"killed after {timeout:.0f} s (share {seconds:.0f} s + grace)"
                          + ("; what it had measured is kept" if done else "")}
    if result_file.exists():
        res = json.loads(result_file.read_text())
        if rc != 0 and res["status"] == "ok":
            res |= {"status": "failed", "reason": f"exit code {rc}"}
        return res
    return {"status": "failed", "seconds": round(time.perf_counter() - started, 1),
            "reason": f"the part's process ended with exit code {rc} and no result "
                      "(see the log for its traceback)"}


def child(a: argparse.Namespace, part: Part) -> None:
    """Run one part in this process and write its result (status, reason, numbers)."""
    import torch

    if a.device == "cpu":
        torch.set_num_threads(1)
    started = time.perf_counter()
    try:
        result = {"status": "ok", **part.run(a)}
        if result["status"] == "ok" and result.pop("out_of_time", False):
            result |= {"status": "timeout", "reason": "the share ran out before the part's end"}
    except Skip as e:
        result = {"status": "skipped", "reason": str(e)}
    except BaseException as e:
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        result = {"status": "failed", "reason": f"{type(e).__name__}: {str(e)[:500]}",
                  "traceback": tb[-4000:]}
    result["seconds"] = round(time.perf_counter() - started, 1)
    (Path(a.work) / f"{a.part}.json").write_text(json.dumps(result, default=str))
