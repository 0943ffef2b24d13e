"""The scripts that measure gankit and write BENCHMARKS.md, one section each.

Run them from the repository root as modules, e.g. `python -m benchmarks.toy --seeds 5`, so that
they import one another (`benchmarks.report`, `benchmarks.speed`) and gankit as installed. Run
as a file (`python benchmarks/toy.py`), a script stops with that command in one line
(benchmarks/benchmarks.py).
"""
