"""The small-data benchmark's smoke mode: every default recipe trains a few steps on a few
hundred Fashion-MNIST images and the section is written from what was measured."""

from __future__ import annotations

import json

import pytest

from benchmarks import small_data
from gankit.data.mnist import DEBIAN_FASHION


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(),
                    reason="package dataset-fashion-mnist not installed (.ci/run installs it)")
def test_smoke_mode_runs_every_recipe_and_reports_it(tmp_path, capsys):
    out = tmp_path / "cells"
    body = small_data.main(["--smoke", "--out", str(out), "--sizes", "100", "--seeds", "0",
                            "--n-eval", "32"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()
            if line.startswith("{")]
    assert [r["recipe"] for r in rows] == list(small_data.DEFAULT_RECIPES)
    for r in rows:
        assert r["steps"] == small_data.SMOKE["train.steps"] and r["size"] == 100
        assert r["n_samples"] == 32 and r["nn_ratio"] > 0 and 0 <= r["near_copies"] <= 1
        name = small_data.cell_name("fashion-mnist", 100, r["recipe"], 0)
        assert (out / f"{name}.png").is_file() and (out / f"{name}-nearest.png").is_file()
    assert "| fashion-mnist | 100 | dcgan-diffaugment | 1 |" in body
    assert "best recipe" in body
    again = small_data.main(["--smoke", "--out", str(out), "--sizes", "100", "--seeds", "0",
                             "--n-eval", "32", "--recipes", "dcgan"])
    assert "dcgan" in again
    assert json.loads(capsys.readouterr().out.splitlines()[0])["reused"]  # a stored cell


def test_a_recipe_is_a_preset_and_overrides():
    cfg = small_data.cell_config("dcgan-diffaugment", "fashion-mnist", 500, 2, 1, 100, False)
    assert cfg.data.n_train == 500 and cfg.train.seed == 2
    assert cfg.train.augment == small_data.DIFFAUGMENT and "memorisation" in cfg.eval.metrics
    assert small_data.cell_config("dcgan", "mnist", 500, 0, 1, 100, False).data.name == "mnist"


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(),
                    reason="package dataset-fashion-mnist not installed (.ci/run installs it)")
def test_a_finished_cell_is_kept_and_reused_from_the_kept_records(tmp_path):
    # a real (not smoke) cell of a tiny CPU budget: its record goes to `kept` as well, and a
    # later sitting without the run folder re-uses it from there; another budget retrains
    kept = tmp_path / "kept"
    args = ("dcgan", "fashion-mnist", 200, 0, 0.01, 1, 32)
    row = small_data.one_cell(*args, tmp_path / "a", kept=kept)
    record = json.loads((kept / "fashion-mnist-200-dcgan-seed0.json").read_text())
    assert record["row"]["steps"] == row["steps"] > 0 and record["setup"]["cpu_minutes"] == 0.01
    assert record["row"]["machine"] and record["row"]["date"]
    again = small_data.one_cell(*args, tmp_path / "b", kept=kept)
    assert again["reused"] and again["steps"] == row["steps"]
    other = small_data.one_cell("dcgan", "fashion-mnist", 200, 0, 0.011, 1, 32, tmp_path / "c",
                                kept=kept)
    assert not other.get("reused")
