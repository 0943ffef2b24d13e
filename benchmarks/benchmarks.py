"""Says how to run a benchmark script that was run as a file (`python benchmarks/speed.py`).

The scripts are modules of the `benchmarks` package: they import one another
(`from benchmarks.report import ...`) and run from the repository root as `python -m
benchmarks.NAME`. Run as a file, Python puts this folder itself first on the import path, so
their `benchmarks` import finds this module instead of the package; it prints the command to use
in one line (with the script's arguments) and exits with status 2, instead of a traceback.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command(argv: list[str], cwd: Path) -> str:
    """The `python -m benchmarks.NAME ...` line for a script run as `python benchmarks/NAME.py`."""
    script = Path(argv[0]) if argv else Path("NAME.py")
    name = script.stem if script.suffix == ".py" else "NAME"
    line = shlex.join(["python", "-m", f"benchmarks.{name}", *argv[1:]])
    here = cwd.resolve() == ROOT
    return line if here else f"cd {shlex.quote(str(ROOT))} && {line}"


sys.stderr.write("a benchmark script runs as a module, from the repository root: "
                 f"{command(sys.argv, Path.cwd())}\n")
raise SystemExit(2)
