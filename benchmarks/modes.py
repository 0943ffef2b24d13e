"""Mode-collapse tables: writes the `modes` section of BENCHMARKS.md from finished `gankit bench`
runs (their results.json), and copies their panel figures into docs/.

    gankit bench toy --protocol cpu --seeds 5 --steps 1000 --jobs 2 --out runs/bench/toy-cpu
    python -m benchmarks.modes runs/bench/toy-cpu [more bench folders ...] [--note TEXT]

The bench folders keep their cells, so re-running `gankit bench` with more seeds or steps and
then this script updates the section without redoing finished runs.
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
from gankit.bench.tables import table_from_results


def block(folder: Path) -> str:
    """One bench run as Markdown: provenance, steps vs the paper, the table, the figures."""
    results = json.loads((folder / "results.json").read_text())
    info = results["provenance"]
    table = table_from_results(results)
    steps = {f"{s['steps']:,}" for s in results["summary"]}
    lines = [f"### Suite `{info['suite']}`, protocol `{info['protocol']}`", "",
             *bench_provenance(info, "", "a machine shared with other jobs: times are not "
                               "speeds")]
    if info.get("paper_steps"):
        lines.append(f"Steps: {', '.join(sorted(steps))} per run — fewer than the paper's "
                     f"{info['paper_steps']:,}.  ")
    else:
        lines.append(f"Steps: {', '.join(sorted(steps))} per run (this protocol is not the "
                     "paper's; the *paper* columns are the published protocol's results).  ")
    lines += ["", table.rstrip(), ""]
    for figure in sorted(folder.glob("panel_*.png")):
        name = f"modes-{info['suite']}-{info['protocol']}-{figure.stem.removeprefix('panel_')}.png"
        lines += embed_figure(figure, name, figure.stem)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="output folders of `gankit bench`")
    ap.add_argument("--note", default="", help="a paragraph added below the heading")
    args = ap.parse_args()
    intro = ["## Mode collapse: GAN, unrolled GAN, PacGAN, WGAN, WGAN-GP", "",
             f"Written by `{script()} {' '.join(str(f) for f in args.folders)}` at commit "
             f"{git_commit()} from the output folders of the `gankit bench` commands below. Mean "
             "± std over seeds; columns in *italics* are the published numbers of the same method "
             "(PacGAN, Lin et al. 2018, and the VEEGAN and Unrolled-GAN rows it quotes) under "
             "the paper's protocol. See docs/mode_collapse.md for what the numbers show.", ""]
    write_bench_section("modes", intro, args.note, args.folders, block)

if __name__ == "__main__":
    main()
