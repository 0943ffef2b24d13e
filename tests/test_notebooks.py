"""The teaching notebooks (notebooks/): committed exactly as built from notebooks/src/, without
outputs, each opening with what it teaches and which lecture result it checks, using only
gankit's public API, and executed top to bottom in their quick mode (GANKIT_NOTEBOOK_QUICK=1):
any exception, including a failed check inside a notebook, fails the test.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import gankit

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
#: gankit modules a notebook may import besides the package itself (its __all__).
PUBLIC_MODULES = {"theory", "metrics"}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_the_six_lecture_notebooks_are_there():
    assert [p.stem[:2] for p in PATHS] == ["01", "02", "03", "04", "05", "06"]


def test_committed_notebooks_are_exactly_what_their_sources_build():
    spec = importlib.util.spec_from_file_location("nb_build", NOTEBOOKS / "_build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.main(["--check"]) == 0, "run: python notebooks/_build.py"
    assert sorted(build.targets().values()) == PATHS  # every notebook has a source


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path):
    nb = read(path)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_opens_with_what_it_teaches_and_the_lecture_result_it_checks(path):
    first = read(path).cells[0]
    assert first.cell_type == "markdown"
    assert "**What this notebook teaches.**" in first.source
    assert "**Which lecture result" in first.source


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_has_a_parameter_cell_with_the_quick_mode(path):
    params = [c for c in read(path).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'os.environ.get("GANKIT_NOTEBOOK_QUICK") == "1"' in params[0].source


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_uses_only_the_public_api(path):
    source = "\n".join(code(read(path)))
    modules = set(re.findall(r"^\s*(?:from|import)\s+gankit\.(\w+)", source, re.M))
    assert modules <= PUBLIC_MODULES, f"imports internals: {modules - PUBLIC_MODULES}"
    names = set(re.findall(r"\bgankit\.(\w+)", source)) - PUBLIC_MODULES
    assert names <= set(gankit.__all__), f"not exported by gankit: {names - set(gankit.__all__)}"


def execute(path: Path, tmp_path: Path, monkeypatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("GANKIT_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # two tests at a time on two cores
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' run folders
    nb = read(path)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


# All six in the default suite (CI runs every notebook): about 10 CPU-seconds each in quick mode,
# kernel start included (notebooks/README.md has the measured times).
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_in_quick_mode(path, tmp_path, monkeypatch):
    nb = execute(path, tmp_path, monkeypatch)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pictures) >= 2, "a notebook shows its results as pictures (inline matplotlib)"
    text = "".join(o.get("text", "") for o in outputs)
    assert "✓" in text and "✗" not in text  # its checks ran, and each held
