"""The `gankit` command: the happy path end to end, and every user error as one clear line."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from gankit.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def finished_run(tmp_path, tiny_overrides):
    out = tmp_path / "run"
    result = invoke("train", "toy-ring", "--out", out, "--seed", 3, *tiny_overrides)
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_the_whole_run_directory(finished_run):
    names = {p.name for p in finished_run.iterdir()}
    assert {"config.toml", "checkpoint.pt", "metrics.jsonl", "metrics.json", "samples.png",
            "losses.png", "training.gif", "frames"} <= names
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert {"modes", "hq_fraction", "reverse_kl", "w1"} <= set(metrics)
    assert metrics["step"] == 60 and 0 <= metrics["modes"] <= 8
    log = [json.loads(x) for x in (finished_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [20, 40, 60]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"} <= set(log[0])
    assert all(np.isfinite(r["d_loss"]) for r in log)
    assert "seed = 3" in (finished_run / "config.toml").read_text()
    assert len(list((finished_run / "frames").glob("*.npz"))) == 3  # steps 0, 30, 60


def test_eval_is_deterministic_and_sample_writes_files(finished_run, tmp_path):
    before = json.loads((finished_run / "metrics.json").read_text())
    result = invoke("eval", finished_run)
    assert result.exit_code == 0, result.output
    assert "hq_fraction" in result.output
    after = json.loads((finished_run / "metrics.json").read_text())
    assert {k: v for k, v in before.items() if k != "eval_seconds"} == \
        {k: v for k, v in after.items() if k != "eval_seconds"}
    for suffix in (".npy", ".csv", ".png"):
        target = tmp_path / f"s{suffix}"
        result = invoke("sample", finished_run, "-n", 50, "--out", target)
        assert result.exit_code == 0, result.output
        assert target.stat().st_size > 0
    assert np.load(tmp_path / "s.npy").shape == (50, 2)


def test_resume_finished_run_then_longer(finished_run):
    result = invoke("resume", finished_run)
    assert result.exit_code == 0 and "already finished" in result.output
    result = invoke("resume", finished_run, "--steps", 80)
    assert result.exit_code == 0, result.output
    assert json.loads((finished_run / "metrics.json").read_text())["step"] == 80
    assert "steps = 80" in (finished_run / "config.toml").read_text()


def test_presets_lists_descriptions():
    result = invoke("presets")
    assert result.exit_code == 0 and "toy-grid" in result.output and "25-mode" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["train", "toy-gird"], "unknown preset 'toy-gird'"),
    (["train", "toy-grid", "train.lr_gg=1"], "did you mean 'train.lr_g'"),
    (["train", "toy-grid", "train.k=0"], "must be ≥ 1"),
    (["train", "toy-grid", "--steps", "-3"], "train.steps = -3"),
    (["resume", "does/not/exist"], "no run directory"),
    (["eval", "does/not/exist"], "no run directory"),
])
def test_user_errors_are_one_line_and_exit_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_refuses_to_overwrite_a_run(finished_run, tiny_overrides):
    result = invoke("train", "toy-ring", "--out", finished_run, *tiny_overrides)
    assert result.exit_code == 2 and "already exists" in result.output
    assert "--force" in result.output


def test_corrupt_or_foreign_checkpoint(finished_run, tmp_path):
    ckpt = finished_run / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    result = invoke("eval", finished_run)
    assert result.exit_code == 2 and "corrupt, truncated" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("resume", empty)
    assert result.exit_code == 2 and "has no checkpoint.pt" in result.output


def test_checkpoint_from_another_model(finished_run):
    """A checkpoint whose weights do not fit the model its config describes."""
    from gankit.train.checkpoint import load_checkpoint, save_checkpoint

    ckpt = finished_run / "checkpoint.pt"
    state = load_checkpoint(ckpt)
    state["config"] = state["config"].replace("g_width = 32", "g_width = 16")
    save_checkpoint(ckpt, {k: v for k, v in state.items() if k not in ("format", "version")})
    (finished_run / "config.toml").write_text(state["config"])  # the copy agrees with it
    result = invoke("eval", finished_run)
    assert result.exit_code == 2 and "different architecture" in result.output


def test_bad_sample_requests(finished_run, tmp_path):
    result = invoke("sample", finished_run, "-n", 10, "--out", tmp_path / "x.txt")
    assert result.exit_code == 2 and "use .npy, .csv or .png" in result.output
    result = invoke("sample", finished_run, "-n", 0, "--out", tmp_path / "x.npy")
    assert result.exit_code == 2 and "-n must be ≥ 1" in result.output


def test_help_everywhere():
    for cmd in ([], ["train"], ["resume"], ["eval"], ["sample"], ["presets"]):
        result = invoke(*cmd, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


def test_sigterm_saves_and_resume_continues(tmp_path, tiny_overrides):
    """A real process gets SIGTERM mid-training: clean exit, checkpoint saved, resumable."""
    out = tmp_path / "run"
    args = [o for o in tiny_overrides if not o.startswith("train.steps")]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gankit", "train", "toy-grid", "--out", str(out),
         "train.steps=100000", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while not (out / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "stopped by SIGTERM" in stderr and "gankit resume" in stderr
    assert "Traceback" not in stderr + stdout
    from gankit import run

    trainer = run.open_trainer(out)
    assert 0 < trainer.step < 100000
