"""A benchmark script run as a file (`python benchmarks/speed.py`, the old way) says in one line
how to run it (`python -m benchmarks.speed`), instead of a ModuleNotFoundError traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_as_file(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_a_script_run_as_a_file_says_the_module_command():
    done = run_as_file("speed.py", "--quick", "--no-write", cwd=ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "a benchmark script runs as a module, from the repository root: python -m "
        "benchmarks.speed --quick --no-write"]


def test_from_another_folder_it_says_where_the_root_is(tmp_path):
    done = run_as_file("toy.py", "--seeds", "5", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().endswith(f"cd {ROOT} && python -m benchmarks.toy --seeds 5")

