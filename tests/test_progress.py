"""The progress display where output is not a terminal: plain lines, not a silent bar."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from gankit import progress


def fake_trainer(step: int) -> SimpleNamespace:
    return SimpleNamespace(cfg=SimpleNamespace(train=SimpleNamespace(steps=100)), step=step,
                           last_record={"d_loss": 0.5, "g_loss": 1.25})


def test_a_log_gets_a_line_per_interval_and_at_the_end(monkeypatch):
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    trainer = fake_trainer(0)
    with progress.training_bar(trainer, console) as on_step:
        trainer.step = 10
        on_step(trainer)  # within the first interval: nothing yet
        assert out.getvalue() == ""
        monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
        trainer.step = 50
        on_step(trainer)
        monkeypatch.setattr(progress, "LOG_EVERY_S", 1e9)
        trainer.step = 100
        on_step(trainer)  # the last step always prints
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("training: step 50 of 100") and "D 0.500  G 1.250" in lines[0]
    assert lines[1].startswith("training: step 100 of 100") and "eta 0:00:00" in lines[1]
