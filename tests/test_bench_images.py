"""benchmarks/images.py's tuning log: rows kept with their commands, the section rebuilt."""

from __future__ import annotations

import json
import sys

import pytest

from benchmarks import images as images_script
from benchmarks import report


@pytest.fixture()
def images(tmp_path, monkeypatch):
    module = images_script
    monkeypatch.setattr(report, "BENCHMARKS", tmp_path / "BENCHMARKS.md")
    monkeypatch.setattr(module, "TUNING_ROWS", tmp_path / "rows.json")
    monkeypatch.setattr(module, "TUNING_TEXT", tmp_path / "text.md")
    monkeypatch.setattr(sys, "argv", ["/repo/benchmarks/images.py", "--minutes", "8"])
    (tmp_path / "text.md").write_text("Intro paragraph.\n\n<!-- table -->\n\nRead: a reading.\n")
    (tmp_path / "BENCHMARKS.md").write_text(
        "# b\n\n<!-- section:images -->\nmain table\n<!-- /section:images -->\n")
    return module


def row(fd: float) -> dict:
    return {"recipe": "dcgan", "loss": "nonsaturating", "steps": 100, "fd_classifier": fd,
            "fd_classifier_noisy": 10.0, "kid_classifier": 0.5, "classes_present": 10.0,
            "class_kl": 0.01, "reused": True}


def test_tuning_rows_are_kept_replaced_by_candidate_and_rendered(images, tmp_path):
    images.record_tuning("first", [row(5.0)])
    images.record_tuning("second", [row(4.0)])
    images.record_tuning("first", [row(3.0)])  # a rerun of a candidate replaces its row
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [(r["candidate"], r["fd_classifier"]) for r in rows] == [("first", 3.0),
                                                                     ("second", 4.0)]
    assert all(r["command"] == "python -m benchmarks.images --minutes 8" for r in rows)
    assert all("reused" not in r for r in rows)
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "main table" in text  # other sections untouched
    section = text.split("<!-- section:images-tuning -->")[1]
    assert section.index("Intro paragraph.") < section.index("| first |") < section.index(
        "| second |") < section.index("Read: a reading.")
    assert "| 0.30 |" in section and "| 0.40 |" in section  # fd ÷ noisy reference



def test_rewrite_tuning_renders_the_kept_rows_and_trains_nothing(images, tmp_path, monkeypatch):
    images.record_tuning("first", [row(5.0)])
    (tmp_path / "text.md").write_text("New intro.\n\n<!-- table -->\n\nNew reading.\n")
    monkeypatch.setattr(images, "one_cell", None)  # training anything would fail
    monkeypatch.setattr(images, "warm_classifier", None)
    monkeypatch.setattr(sys, "argv", ["/repo/benchmarks/images.py", "--rewrite-tuning"])
    images.main()
    section = (tmp_path / "BENCHMARKS.md").read_text().split("<!-- section:images-tuning -->")[1]
    assert "New intro." in section and "New reading." in section and "| first |" in section
    assert "Intro paragraph." not in section
    assert json.loads((tmp_path / "rows.json").read_text())[0]["fd_classifier"] == 5.0

def test_keras_cell_recorded_under_the_former_name_is_reused(images, tmp_path):
    from gankit.config import load_preset

    over = {"train.loss": "ml", "train.seed": 0, "train.threads": 1, "train.steps": 1_000_000,
            "train.ckpt_every": 1_000_000, "eval.n_samples": 100}
    cfg = load_preset("keras-fashion").with_overrides(over)
    old = images.cell_name(images.OLD_KERAS, "ml", 0)
    (tmp_path / f"{old}.json").write_text(json.dumps({
        "config": cfg.to_toml(), "minutes": 3.0, "metric_network": images.metric_network(),
        "row": {"recipe": images.OLD_KERAS, "loss": "ml", "steps": 7}}))
    (tmp_path / f"fashion-{old}.png").write_bytes(b"png")
    row = images.one_cell("keras", "ml", 0, 3.0, 1, None, tmp_path, 100)
    assert row["reused"] and row["steps"] == 7 and row["recipe"] == "keras"
    assert (tmp_path / "fashion-keras-ml.png").read_bytes() == b"png"  # under the new name
