"""The run's bookkeeping lives in one record beside the training state (gankit/runrecord.py): the
Trainer carries none of it as attributes of its own, and what the run writes into the record
(notes, the session's speed, whether metrics.json was written, the evaluated samples) is what
the command line, the Python API and the pictures then read."""

from __future__ import annotations

import json

from gankit import run
from gankit.config import load_preset
from gankit.runrecord import RunRecord
from gankit.tasks import build_task
from gankit.train.loop import Trainer

TOY = ["model.g_width=16", "model.d_width=16", "data.n_train=500", "train.batch_size=32",
       "train.log_every=5", "train.ckpt_every=5", "train.frame_every=1000", "eval.n_samples=100",
       "train.steps=5", "train.threads=1", 'eval.metrics=["modes"]']
#: What the Trainer used to carry for the run (set from run.py and cli.py).
BOOKKEEPING = {"notes", "run_stats", "metrics_written", "untrusted_weights", "last_eval_samples"}


def test_the_trainer_holds_no_bookkeeping_of_its_own():
    cfg = load_preset("toy-grid").with_overrides(TOY)
    trainer = Trainer(cfg, build_task(cfg))
    assert not BOOKKEEPING & set(vars(trainer))
    assert not any(hasattr(trainer, name) for name in BOOKKEEPING)
    assert isinstance(trainer.run_record, RunRecord)
    assert "run_record" not in trainer.state()  # never in a checkpoint


def test_a_run_fills_its_record_and_reads_it_back(tmp_path, monkeypatch):
    cfg = load_preset("toy-grid").with_overrides(TOY)
    trainer = run.start(cfg, tmp_path / "r")
    assert run.train_run(trainer)
    record = trainer.run_record
    assert record.session_stats is not None
    assert set(record.session_stats) == set(run.RUN_STATS)
    assert not record.metrics_written and record.eval_samples is None
    result = run.evaluate(trainer)
    assert record.metrics_written
    assert record.eval_samples is not None and record.eval_samples.shape == (100, 2)
    written = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert written["modes"] == result["modes"]
    assert written["train_seconds"] == record.session_stats["train_seconds"]

    def no_sampling(*args, **kwargs):  # the pictures must show the evaluated samples
        raise AssertionError("render drew new samples")

    monkeypatch.setattr(trainer, "sample", no_sampling)
    assert run.render(trainer)

    reopened = run.open_trainer(tmp_path / "r", write=False)
    assert reopened.run_record is not record and reopened.run_record.session_stats is None
    monkeypatch.undo()
    run.evaluate(reopened)  # a later evaluation keeps the training session's numbers
    again = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert again["train_seconds"] == written["train_seconds"]


def test_notes_are_handed_over_once():
    record = RunRecord()
    record.note("a")
    record.note("a")  # a note already waiting is not repeated
    record.notes.append("b")
    assert record.take_notes() == ["a", "b"]
    assert record.take_notes() == [] and record.notes == []

