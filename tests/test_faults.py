"""Reliability under faults: SIGKILL at random moments, and losses that become NaN/Inf.

Kills: a CLI run that checkpoints every step (so most of its time is spent inside checkpoint
writes) is killed with SIGKILL at random moments, resumed, killed again, ... and finally resumed
to the end. Every kill must leave a loadable checkpoint; every resume must start from the step of
the checkpoint on disk; and because resuming is exact on CPU, the run that was killed again and
again must end with the very weights and log of a run that never was.
"""

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from gankit import run
from gankit.cli import app
from gankit.config import load_preset
from gankit.train.checkpoint import FILENAME, load_checkpoint
from gankit.train.guard import NonFiniteError

TINY = ["model.g_width=16", "model.d_width=16", "data.n_train=1000", "train.batch_size=32",
        "train.log_every=5", "train.frame_every=100000", "train.threads=1",
        "eval.n_samples=200", "eval.metrics=[]"]


def spawn(args, log):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "gankit", *map(str, args)], stdout=log,
                            stderr=subprocess.STDOUT, env=env)


def checkpoint_step(path):
    try:
        return int(load_checkpoint(path)["step"])
    except Exception:  # not there yet
        return None


def wait_for_progress(path, proc, beyond, timeout=60.0):
    """Until the run has saved a checkpoint past step `beyond` (it is training)."""
    deadline = time.monotonic() + timeout
    while (step := checkpoint_step(path)) is None or (beyond is not None and step <= beyond):
        assert proc.poll() is None, "the run ended before it saved a checkpoint"
        assert time.monotonic() < deadline, f"no progress after {timeout} s"
        time.sleep(0.02)


# A gankit process that hangs inside its n-th checkpoint write, at a chosen point, after touching
# a marker file: the test kills it there. HANG = "save:n" (half of torch.save's bytes written) or
# "replace:n" (temporary file complete and fsynced, not yet renamed over checkpoint.pt).
HANGING = """
import io, os, sys, time, pathlib, torch
where, n = os.environ["HANG"].split(":"); n = int(n); count = [0]
def hang():
    pathlib.Path(os.environ["MARKER"]).touch()
    time.sleep(600)
real_save, real_replace = torch.save, os.replace
def save(obj, f, *a, **k):
    count[0] += 1
    if where == "save" and count[0] == n:
        buf = io.BytesIO(); real_save(obj, buf, *a, **k); data = buf.getvalue()
        f.write(data[: len(data) // 2]); f.flush(); hang()
    return real_save(obj, f, *a, **k)
def replace(src, dst):
    if where == "replace" and str(dst).endswith("checkpoint.pt") and count[0] == n:
        hang()
    return real_replace(src, dst)
torch.save, os.replace = save, replace
from gankit.cli import main
sys.argv = ["gankit", *sys.argv[1:]]
main()
"""


def kill_inside_checkpoint_write(args, hang, tmp_path):
    marker = tmp_path / "marker"
    marker.unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HANG": hang, "MARKER": str(marker)}
    with open(tmp_path / "out.txt", "w") as f:
        proc = subprocess.Popen([sys.executable, "-c", HANGING, *map(str, args)], stdout=f,
                                stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, (tmp_path / "out.txt").read_text()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_sigkill_inside_checkpoint_writes_keeps_the_previous_checkpoint(tmp_path):
    """Deterministic kills at the two dangerous points of a checkpoint write; the run resumes
    from the previous checkpoint and ends exactly as a run that was never killed."""
    run_dir, steps = tmp_path / "killed", 20
    ckpt = run_dir / FILENAME
    kill_inside_checkpoint_write(["train", "toy-grid", *TINY, "train.ckpt_every=1", "--steps",
                                  steps, "--out", run_dir], "save:7", tmp_path)
    assert checkpoint_step(ckpt) == 6  # the 7th write (step 7) was torn: step 6 stays
    assert len(list(run_dir.glob(".checkpoint.pt.*.tmp"))) == 1  # the torn temporary file
    kill_inside_checkpoint_write(["resume", run_dir], "replace:3", tmp_path)
    assert checkpoint_step(ckpt) == 8  # steps 7, 8 saved; step 9's file never renamed
    assert len(list(run_dir.glob(".checkpoint.pt.*.tmp"))) == 1  # the old one was removed
    done = subprocess.run([sys.executable, "-m", "gankit", "resume", str(run_dir)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "(step 8 of 20)" in done.stdout
    reference = run.start(load_preset("toy-grid").with_overrides(
        [*TINY, "train.ckpt_every=1", f"train.steps={steps}"]), tmp_path / "clean")
    run.train_run(reference)
    final = load_checkpoint(ckpt)
    for name in ("G", "D"):
        for key, value in getattr(reference, name).state_dict().items():
            assert torch.equal(final[name][key], value), f"{name}.{key} differs"
    assert (run_dir / "metrics.jsonl").read_text() == \
        (tmp_path / "clean/metrics.jsonl").read_text()
    assert not list(run_dir.glob(".*.tmp"))


@pytest.mark.slow
def test_sigkill_at_random_moments_always_resumes_from_the_last_complete_checkpoint(tmp_path):
    """Five kills: some while the process starts or resumes (imports, reading the checkpoint,
    trimming the log), most while it trains and writes a checkpoint at every step."""
    rng, kills, steps = random.Random(0), 5, 300
    run_dir, out = tmp_path / "killed", tmp_path / "out.txt"
    ckpt = run_dir / FILENAME
    args = ["train", "toy-grid", *TINY, "train.ckpt_every=1", "--steps", steps, "--out", run_dir]
    on_disk = None  # step of the checkpoint the last kill left
    for i in range(kills + 1):
        with open(out, "w") as f:
            proc = spawn(args, f)
            trained = True
            if i == kills:
                assert proc.wait(timeout=300) == 0, out.read_text()[-2000:]
            elif on_disk is not None and rng.random() < 0.3:  # while starting up / resuming
                time.sleep(rng.uniform(0.0, 2.0))
                trained = False
            else:  # while training: most of that time is spent writing checkpoints
                wait_for_progress(ckpt, proc, on_disk)
                time.sleep(rng.uniform(0.0, 0.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        if on_disk is not None and trained:  # it resumed exactly where the last kill left it
            assert f"(step {on_disk} of {steps})" in out.read_text(), out.read_text()[-1000:]
        if i < kills:
            step = checkpoint_step(ckpt)  # complete and loadable after every kill
            assert step is not None and step < steps, "the kill came too late: raise `steps`"
            assert on_disk is None or step >= on_disk
            on_disk = step
            args = ["resume", run_dir]

    # the run that was killed again and again equals a run that never was
    reference = run.start(load_preset("toy-grid").with_overrides(
        [*TINY, "train.ckpt_every=1", f"train.steps={steps}"]), tmp_path / "clean")
    run.train_run(reference)
    final = load_checkpoint(ckpt)
    assert final["step"] == steps
    for name in ("G", "D"):
        for key, value in getattr(reference, name).state_dict().items():
            assert torch.equal(final[name][key], value), f"{name}.{key} differs"
    assert (run_dir / "metrics.jsonl").read_text() == \
        (tmp_path / "clean/metrics.jsonl").read_text()
    assert not list(run_dir.glob(".*.tmp"))  # temporary files of killed writes were removed


# -- NaN / Inf --------------------------------------------------------------------------------
def tiny_cfg(*extra):
    return load_preset("toy-grid").with_overrides(
        [*TINY, "train.ckpt_every=10", "train.steps=30", *extra])


def poison_g_loss(trainer, steps):
    """The generator loss becomes NaN at the given (1-based) steps."""
    original = trainer.objective

    def g_loss(real_logits, logits):
        loss = original.g_loss(real_logits, logits)
        return loss * float("nan") if trainer.step + 1 in steps else loss

    trainer.objective = dataclasses.replace(original, g_loss=g_loss)


def test_a_nan_loss_stops_the_run_naming_the_step_and_the_last_good_checkpoint(tmp_path):
    trainer = run.start(tiny_cfg(), tmp_path / "r")
    poison_g_loss(trainer, {13})
    with pytest.raises(NonFiniteError) as info:
        run.train_run(trainer)
    message = str(info.value)
    assert "generator loss became NaN or infinite at step 13" in message
    assert f"Last good checkpoint: {tmp_path / 'r' / FILENAME} (step 10)" in message
    assert "\n" not in message
    state = load_checkpoint(tmp_path / "r" / FILENAME)
    assert state["step"] == 10  # nothing after the NaN was saved ...
    assert all(torch.isfinite(v).all() for v in state["G"].values())
    log = [json.loads(x) for x in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [5, 10]  # ... nor logged


def test_a_huge_learning_rate_stops_at_the_first_boundary(tmp_path):
    trainer = run.start(tiny_cfg("train.lr_d=1e30", "train.lr_g=1e30"), tmp_path / "r")
    with pytest.raises(NonFiniteError, match=r"at step \d+ .*No checkpoint had been written"):
        run.train_run(trainer)
    assert trainer.step == 5  # the first log boundary
    assert not (tmp_path / "r" / FILENAME).exists()


def test_skip_leaves_out_the_bad_updates_and_counts_them(tmp_path):
    trainer = run.start(tiny_cfg("train.on_nonfinite=skip"), tmp_path / "r")
    assert trainer.fast.fused_adam  # the device-side skip
    poison_g_loss(trainer, {13, 14})
    assert run.train_run(trainer)
    p = next(trainer.G.parameters())
    assert int(trainer.opt_g.state[p]["step"]) == 28  # two G updates skipped
    assert int(trainer.opt_d.state[next(trainer.D.parameters())]["step"]) == 30
    log = [json.loads(x) for x in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert [r["nonfinite_steps"] for r in log] == [0, 0, 2, 0, 0, 0]
    assert all(all(map(lambda v: v == v, r.values())) for r in log)  # no NaN in the averages


def test_skip_with_the_host_read_fallback_matches_the_fused_skip(tmp_path):
    """Non-fused Adam skips through one host read; the result is the same as fused Adam's."""
    results = []
    for fused in ("true", "false"):
        trainer = run.start(tiny_cfg("train.on_nonfinite=skip", f"train.fused_adam={fused}"),
                            tmp_path / fused)
        poison_g_loss(trainer, {3})
        run.train_run(trainer)
        results.append(trainer.G.state_dict())
    for key in results[0]:
        torch.testing.assert_close(results[0][key], results[1][key], atol=1e-5, rtol=1e-4)


def test_skip_stops_when_every_step_of_an_interval_is_bad(tmp_path):
    trainer = run.start(tiny_cfg("train.on_nonfinite=skip", "train.lr_d=1e30",
                                 "train.lr_g=1e30"), tmp_path / "r")
    with pytest.raises(NonFiniteError, match="nothing is being learned"):
        run.train_run(trainer)


def test_the_cli_reports_a_nan_as_one_line_and_exit_code_2(tmp_path):
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["train", "toy-grid", *TINY, "train.lr_d=1e30",
                                      "train.lr_g=1e30", "--steps", "20",
                                      "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "NaN or infinite" in lines[0]
    assert "Traceback" not in result.output
