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
from collections.abc import Callable, Iterable
from pathlib import Path

from gankit.bench.tables import machine as bench_machine

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
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


def script() -> str:
    """How the running script is started: `python -m benchmarks.NAME`."""
    return f"python -m benchmarks.{Path(sys.argv[0]).stem}"


def command_line() -> str:
    """The command that is running, for a section's provenance line; the values of prose options
    (which appear in the section anyway) are shortened to "..."."""
    args, hide = [], False
    for arg in sys.argv[1:]:
        args.append("..." if hide else arg)
        hide = arg in PROSE_OPTIONS
    return " ".join([script(), *([shlex.join(args)] if args else [])])


def embed_figure(figure: Path, name: str, caption: str) -> list[str]:
    """Copy a bench folder's figure into docs/ as `name` and return the section lines that show
    it (bench folders are not part of the repository; docs/ is)."""
    docs = BENCHMARKS.parent / "docs"
    docs.mkdir(exist_ok=True)
    (docs / name).write_bytes(figure.read_bytes())
    return [f"![{caption}](docs/{name})", ""]


def bench_provenance(info: dict, scope: str, remark: str) -> list[str]:
    """The lines under a bench run's heading, from its results.json provenance: `scope` follows
    "min wall time", `remark` (in parentheses) says what the machine was."""
    from gankit.bench.tables import reused_note

    return [f"Command: `{info['command']}`  ", f"Machine: {info['machine']}  ",
            f"Date: {info['date']}; {info['jobs']} processes, "
            f"{info['wall_seconds'] / 60:.0f} min wall time{scope}{reused_note(info)} "
            f"({remark}).  ", f"Protocol: {info['protocol_note']}.  "]


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """A Markdown table's lines: the header, its rule, a line per row."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def write_bench_section(name: str, intro: list[str], note: str, folders: list[Path],
                        block: Callable[[Path], str]) -> Path:
    """Section `name` from output folders of `gankit bench`: the intro lines, the note, then
    `block(folder)` for each folder."""
    body = [*intro, *([note, ""] if note else []), *map(block, folders)]
    path = write_section(name, "\n".join(body))
    print(f"wrote the {name} section of {path}")
    return path


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
