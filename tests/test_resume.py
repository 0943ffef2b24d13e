"""Resuming gives exactly the weights and log of an uninterrupted run (CPU, same seed)."""

import json

import pytest
import torch

from gankit import run
from gankit.config import load_preset


def run_cfg(tiny_overrides, extra=()):
    return load_preset("toy-grid").with_overrides([*tiny_overrides, *extra])


def assert_same_state(a, b):
    for name in ("G", "D"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key} differs"
    assert a.opt_g.state_dict()["state"][0]["exp_avg"].equal(
        b.opt_g.state_dict()["state"][0]["exp_avg"])


@pytest.mark.parametrize("extra", [
    (),
    ("model.g_batchnorm=true", "model.d_arch=maxout", "train.ema=0.9", "train.k=2",
     "train.lr_milestones=[35]", "prior.name=uniform"),
])
def test_resume_after_a_finished_run_equals_one_long_run(tmp_path, tiny_overrides, extra):
    cfg = run_cfg(tiny_overrides, extra)
    full = run.start(cfg, tmp_path / "full")
    assert run.train_run(full)

    half = run.start(cfg.with_overrides({"train.steps": 30}), tmp_path / "half")
    run.train_run(half)
    resumed = run.open_trainer(tmp_path / "half", steps=60)
    assert resumed.step == 30
    run.train_run(resumed)

    assert_same_state(full, resumed)
    assert (tmp_path / "full/metrics.jsonl").read_text() == \
        (tmp_path / "half/metrics.jsonl").read_text()
    assert run.evaluate(full) | {"eval_seconds": 0} == run.evaluate(resumed) | {"eval_seconds": 0}


def test_resume_after_an_interruption_between_checkpoints(tmp_path, tiny_overrides):
    """Stopped at step 47 (after the step-40 checkpoint, no save at the stop): the log lines past
    the checkpoint are dropped and re-written, and the result is the uninterrupted one."""
    cfg = run_cfg(tiny_overrides, ["train.log_every=5"])
    full = run.start(cfg, tmp_path / "full")
    run.train_run(full)

    crashed = run.start(cfg, tmp_path / "crashed")

    def crash_at_47(trainer):
        if trainer.step == 47:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError):
        crashed.fit(60, crash_at_47)
    log = [json.loads(x) for x in (tmp_path / "crashed/metrics.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 45  # written after the last checkpoint at 40
    resumed = run.open_trainer(tmp_path / "crashed")
    assert resumed.step == 40
    run.train_run(resumed)
    assert_same_state(full, resumed)
    assert (tmp_path / "full/metrics.jsonl").read_text() == \
        (tmp_path / "crashed/metrics.jsonl").read_text()


def test_a_signal_stops_at_a_step_boundary_and_saves(tmp_path, tiny_overrides):
    import os
    import signal

    cfg = run_cfg(tiny_overrides)
    trainer = run.start(cfg, tmp_path / "r")

    def interrupt_at_25(t):
        if t.step == 25:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the tests run in a background job
    assert trainer.fit(60, interrupt_at_25) is False
    assert trainer.stop_signal == "SIGINT" and trainer.step == 25
    again = run.open_trainer(tmp_path / "r")
    assert again.step == 25
    assert signal.getsignal(signal.SIGINT) is before  # fit put the caller's handler back
