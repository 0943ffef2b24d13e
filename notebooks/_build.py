"""Build the notebooks (notebooks/NN_*.ipynb) from their Python sources (notebooks/src/NN_*.py).

    python notebooks/_build.py          # write every .ipynb from its source
    python notebooks/_build.py --check  # exit 1 if a committed .ipynb differs from its source

A source is plain Python in the "percent" layout: `# %%` starts a code cell, `# %% [markdown]`
a text cell whose lines are comments (`# ` is dropped), and `# %% tags=["parameters"]` a code
cell with tags (the parameter cell). The notebooks are written without outputs, with fixed cell
ids, so a build is byte for byte the same every time and a diff shows only what changed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
          "language_info": {"name": "python"}}


def parse(text: str) -> list[tuple[str, list[str], str]]:
    """(kind, tags, source) of each cell of a percent-layout source."""
    cells: list[tuple[str, list[str], list[str]]] = []
    for line in text.splitlines():
        m = MARKER.match(line)
        if m:
            kind = "markdown" if m["markdown"] else "code"
            cells.append((kind, json.loads(m["tags"]) if m["tags"] else [], []))
        elif cells:
            cells[-1][2].append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"code before the first '# %%' marker: {line!r}")
    out = []
    for kind, tags, lines in cells:
        if kind == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
        source = "\n".join(lines).strip("\n")
        if source:
            out.append((kind, tags, source))
    return out


def build(source: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata=KERNEL)
    for i, (kind, tags, text) in enumerate(parse(source.read_text())):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = make(text, id=f"cell-{i:02d}")
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def targets() -> dict[Path, Path]:
    """Each source and the notebook it builds."""
    return {src: HERE / f"{src.stem}.ipynb" for src in sorted(SOURCES.glob("[0-9][0-9]_*.py"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a notebook is missing or out of date")
    args = parser.parse_args(argv)
    stale = []
    for src, dest in targets().items():
        text = render(build(src))
        if args.check:
            if not dest.exists() or dest.read_text() != text:
                stale.append(dest.name)
        elif not dest.exists() or dest.read_text() != text:
            dest.write_text(text)
            print(f"wrote {dest.relative_to(HERE.parent)}")
    if stale:
        print(f"out of date with notebooks/src/: {', '.join(stale)}; "
              "run python notebooks/_build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
