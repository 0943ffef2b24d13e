"""Part `tests`: tests/test_cuda.py (and the sync-free step of tests/test_fastpath.py) on the
device, stopped at the part's deadline with what finished reported."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import ROOT


def part_tests(a: argparse.Namespace) -> dict:
    junit = Path(a.work) / "tests.xml"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-v",
           "-rs",
           f"--junitxml={junit}", "tests/test_cuda.py",
           "tests/test_fastpath.py::test_the_cuda_step_makes_no_host_synchronisation"]
    deselected = []
    env = {**os.environ, "GANKIT_TEST_DEVICE": a.device, "PYTHONUNBUFFERED": "1"}
    if a.tiny:  # plumbing only: no compilation, no process start-ups (each costs seconds)
        cmd += ["-k", "not torchrun and not compiled"]
        env["GANKIT_TEST_COMPILE"] = "0"
        deselected.append("--tiny: the two torchrun tests and the compiled sync-free step; "
                          "torch.compile off")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:  # stop before the parent's kill, so that the tests done so far are reported
        output, _ = proc.communicate(timeout=max(5.0, a.deadline - time.time() - 5))
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        timed_out = True
    print(output, flush=True)
    outcomes = junit_outcomes(junit) if junit.exists() and not timed_out else {}
    if not outcomes:  # killed: the verbose lines say what finished
        for name, word in re.findall(r"^tests/\S+?::(\S+) (PASSED|FAILED|SKIPPED|ERROR)",
                                     output, re.M):
            outcomes[name] = {"PASSED": "passed", "SKIPPED": "skipped"}.get(word, "failed")
    counts = {k: sum(v.startswith(k) for v in outcomes.values())
              for k in ("passed", "failed", "skipped")}
    result = {"tests": outcomes, **counts, "deselected": deselected,
              "pytest_rc": None if timed_out else proc.returncode}
    if timed_out:
        result |= {"status": "timeout", "reason": f"pytest stopped at the part's deadline after "
                   f"{len(outcomes)} tests ({counts['failed']} failed)"}
    elif proc.returncode != 0 or counts["failed"] or not outcomes:
        result |= {"status": "failed",
                   "reason": f"pytest exit {proc.returncode}, {counts['failed']} failed"}
    return result


def junit_outcomes(junit: Path) -> dict[str, str]:
    import xml.etree.ElementTree as ET

    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "?")
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if bad is not None:
            outcomes[name] = "failed: " + (bad.get("message") or "")[:300]
        elif skipped is not None:
            outcomes[name] = "skipped: " + (skipped.get("message") or "")[:200]
        else:
            outcomes[name] = "passed"
    return outcomes

