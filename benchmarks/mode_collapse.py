"""Mode collapse over training: writes the `mode-collapse` section of BENCHMARKS.md from the
output folders of `gankit bench unrolled` / `gankit bench pacgan-grid`, and copies their figures
(scatter grid, mode-hopping chart, metric curves) into docs/.

    gankit bench unrolled --seeds 3 --jobs 2 --out runs/bench/unrolled
    gankit bench pacgan-grid --seeds 3 --steps 10000 --jobs 2 --out runs/bench/pacgan-grid
    python -m benchmarks.mode_collapse runs/bench/unrolled runs/bench/pacgan-grid \
        --headline "..." --note "..."

The headline sentences are the reader's summary of the tables below them; they are given on the
command line so that every sentence in the section can be traced to the command that wrote it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.report import (
    bench_provenance,
    embed_figure,
    git_commit,
    script,
    write_bench_section,
)

FIGURES = {"scatter_grid": "scatter grid: methods × steps, seed 0",
           "mode_shares": "mode-hopping chart: the share of samples near each mode against the "
                          "step, every seed",
           "curves": "modes, high-quality fraction and reverse KL against the step"}


def block(folder: Path, tag: str | None = None) -> str:
    """One bench run as Markdown: provenance, steps vs the paper's, the table, the figures (copied
    to docs/ as `mode-collapse-<tag>-*.png`, the tag the suite's name unless given)."""
    info = json.loads((folder / "results.json").read_text())["provenance"]
    table = (folder / "table.md").read_text().split("\n\n", 1)[1]
    note = (folder / "table.md").read_text().split("\n\n", 1)[0].splitlines()[-1]
    steps = sorted({int(line.split("|")[2].split("(")[0].replace(",", ""))
                    for line in table.splitlines()
                    if line.startswith("| ") and not line.startswith("| method")})
    paper = info.get("paper_steps")
    shown = ", ".join(f"{s:,}" for s in steps)
    if paper and steps and max(steps) >= paper:
        steps_line = (f"Steps: {shown} per run: the paper's length ({paper:,} in this suite's "
                      "steps).  ")
    elif paper:
        steps_line = f"Steps: {shown} per run, of the paper's {paper:,}.  "
    else:
        steps_line = f"Steps: {shown} per run.  "
    lines = [f"### `gankit bench {info['suite']}`, protocol `{info['protocol']}`", "",
             *bench_provenance(info, " for this invocation", "a 2-core machine shared with "
                               "other jobs: the s / run column is each cell's own training time"),
             steps_line, note, "", table.rstrip(), ""]
    for stem, caption in FIGURES.items():
        for figure in sorted(folder.glob(f"{stem}*.png")):
            name = f"mode-collapse-{tag or info['suite']}-{figure.stem.replace('_', '-')}.png"
            lines += embed_figure(figure, name, caption)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="output folders of `gankit bench`")
    ap.add_argument("--headline", action="append", default=[],
                    help="one sentence of the summary (repeatable)")
    ap.add_argument("--note", default="", help="a paragraph after the summary")
    ap.add_argument("--section", default="mode-collapse",
                    help="the BENCHMARKS.md section to write (another name keeps the first one, "
                         "and names the copied figures after itself)")
    ap.add_argument("--title", default="Mode collapse over training: the unrolled GAN's ring and "
                    "PacGAN's grid", help="the section's heading")
    args = ap.parse_args()
    tag = None if args.section == "mode-collapse" else args.section
    intro = [f"## {args.title}", "",
             f"Written by `{script()} {' '.join(str(f) for f in args.folders)} --headline ...` "
             "(the whole command, headlines included, is kept in "
             f"benchmarks/results/{args.section}-command.sh) at commit {git_commit()} from the "
             "output folders of the `gankit bench` commands below. Every cell is evaluated along "
             "training on the same latent draws; the tables average each seed's evaluations over "
             "the last 20 % of its steps, then show mean ± std over seeds. *Italics*: the paper's "
             "result. See docs/mode_collapse.md for which claim each figure tests.", "",
             *[f"- {h}" for h in args.headline], *([""] if args.headline else [])]
    write_bench_section(args.section, intro, args.note, args.folders,
                        lambda folder: block(folder, tag))

if __name__ == "__main__":
    main()
