"""The conditional benchmark's cells: a finished cell is kept (in git, for later sittings) and
re-used only when it is the same cell."""

from __future__ import annotations

import json

import pytest

from benchmarks import conditional
from gankit.bench.cells import kept_record
from gankit.data.mnist import DEBIAN_FASHION


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(),
                    reason="package dataset-fashion-mnist not installed (.ci/run installs it)")
def test_a_finished_cell_is_kept_and_reused_only_for_the_same_cell(tmp_path):
    kept = tmp_path / "kept"
    extra = {"data.n_train": 640, "train.batch_size": 16, "eval.metrics": ["class_accuracy"]}
    row = conditional.one_cell("fashion", "projection", 0, 0.01, 1, tmp_path / "a", 200, extra,
                               kept)
    record = json.loads((kept / "fashion-projection-seed0.json").read_text())
    assert record["row"]["steps"] == row["steps"] > 0 and record["seconds"] >= 0.6
    assert row["machine"] and row["date"] and len(row["class_fd"]) == 10
    assert (tmp_path / "a" / "conditional-fashion-projection-seed0.png").is_file()
    again = conditional.one_cell("fashion", "projection", 0, 0.01, 1, tmp_path / "b", 200,
                                 extra, kept)
    assert again["reused"] and again["steps"] == row["steps"]
    cfg = conditional.cell_config("fashion", "projection", 0, 1, 200, extra)
    stored = kept_record(kept, "fashion-projection-seed0")
    assert conditional.finished_row(stored, cfg, 0.5) is None  # a longer budget
    other = conditional.cell_config("fashion", "projection", 0, 1, 200,
                                    {**extra, "train.lr_g": 3e-4})
    assert conditional.finished_row(stored, other, 0.01) is None
