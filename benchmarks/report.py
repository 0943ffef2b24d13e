"""Shared by the benchmark scripts: machine facts and section-wise updates of BENCHMARKS.md.

Each script owns one section, delimited by HTML comments, and rewrites only that section, so the
scripts can run independently and in any order.
"""

from __future__ import annotations

import datetime
import re
import shlex
import subprocess
import sys
from pathlib import Path

from gankit.bench.tables import machine as bench_machine

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = (
    "# gankit benchmarks\n\n"
    "Every number below was written by the script named in its section.\n"
)


def machine() -> str:
    """One line: CPU/GPU, core count, versions, date."""
    return f"{bench_machine()}; {datetime.date.today().isoformat()}"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


#: options whose values are prose printed in the section itself: shown as "..." in its command
PROSE_OPTIONS = ("--note", "--headline", "--title")


def command_line() -> str:
    """The command that is running, for a section's provenance line; the values of prose options
    (which appear in the section anyway) are shortened to "..."."""
    args, hide = [], False
    for arg in sys.argv[1:]:
        args.append("..." if hide else arg)
        hide = arg in PROSE_OPTIONS
    return "python " + shlex.join([Path(sys.argv[0]).as_posix(), *args])


def embed_figure(figure: Path, name: str, caption: str) -> list[str]:
    """Copy a bench folder's figure into docs/ as `name` and return the section lines that show
    it (bench folders are not part of the repository; docs/ is)."""
    docs = BENCHMARKS.parent / "docs"
    docs.mkdir(exist_ok=True)
    (docs / name).write_bytes(figure.read_bytes())
    return [f"![{caption}](docs/{name})", ""]


def write_section(name: str, body: str) -> Path:
    """Replace (or append) the section `name` of BENCHMARKS.md with `body`."""
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else (
        text.rstrip() + "\n\n" + block + "\n")
    BENCHMARKS.write_text(text)
    return BENCHMARKS


def provenance() -> str:
    """The lines every section starts with: command, machine, commit."""
    return (f"Command: `{command_line()}`  \nMachine: {machine()}  \n"
            f"Commit: {git_commit()}\n")
