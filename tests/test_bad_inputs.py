"""Nothing lost, ever: bad inputs and faults, each one readable line and exit code 2,
never a traceback; --force deletes only what gankit wrote; one writer per run folder; readers
never rewrite a run; a torn log, a full disk or an untrusted run folder do no harm."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from image_helpers import write_mnist_like
from typer.testing import CliRunner

from gankit.cli import app
from gankit.config import Config
from gankit.train.checkpoint import FILENAME, load_checkpoint, save_checkpoint

runner = CliRunner()
TINY = ["train.steps=40", "train.log_every=20", "train.ckpt_every=20", "train.frame_every=20",
        "model.g_width=16", "model.d_width=16", "data.n_train=500", "train.batch_size=50",
        "eval.n_samples=200", "train.threads=1"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def first_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    return lines[0] if lines else ""


def error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(scope="module")
def made_run(tmp_path_factory):
    """One finished toy-grid run; tests work on copies of it."""
    out = tmp_path_factory.mktemp("made") / "run"
    result = invoke("train", "toy-grid", "--out", out, *TINY)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def run_copy(made_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(made_run, copy)
    return copy


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


# -- the table: setup -> argv, expected exit code, expected text of the first line ------------
def user_folder(tmp):
    (tmp / "notes").mkdir()
    (tmp / "notes/todo.txt").write_text("mine")
    return ["train", "toy-grid", "--out", tmp / "notes", "--force", *TINY]


def lone_config(tmp):
    (tmp / "mine").mkdir()
    (tmp / "mine/config.toml").write_text("mine")
    return ["train", "toy-grid", "--out", tmp / "mine", "--force", *TINY]


def a_file(tmp):
    (tmp / "file.txt").write_text("mine")
    return ["train", "toy-grid", "--out", tmp / "file.txt", "--force", *TINY]


def run_with_user_file(tmp):
    (tmp / "run/thesis.tex").write_text("mine")
    return ["train", "toy-grid", "--out", tmp / "run", "--force", *TINY]


def symlink_to_run(tmp):
    (tmp / "link").symlink_to(tmp / "run")
    return ["train", "toy-grid", "--out", tmp / "link", "--force", *TINY]


def typo_in_data_dir(tmp):
    return ["train", "folder-dcgan", "--out", tmp / "run", "--force", "--data-dir", tmp / "typo"]


def cwd_is_the_run(tmp):
    os.chdir(tmp / "run")
    return ["train", "toy-grid", "--out", ".", "--force", *TINY]


def parent_of_cwd(tmp):
    (tmp / "run/frames/deeper").mkdir()  # (not a frame: also refused for that)
    os.chdir(tmp / "run/frames/deeper")
    return ["train", "toy-grid", "--out", tmp / "run", "--force", *TINY]


def bracket_data_dir(tmp):
    return ["train", "folder-dcgan", "--out", tmp / "new", "--data-dir", tmp / "photos [old]"]


def non_utf8_toml(tmp):
    (tmp / "bad.toml").write_bytes(b'description = "caf\xe9"\n')
    return ["train", tmp / "bad.toml", "--out", tmp / "new"]


def out_under_a_file(tmp):
    (tmp / "file").write_text("x")
    return ["train", "toy-grid", "--out", tmp / "file/sub", *TINY]


def idx_files(n_train, n_test):
    def setup(tmp):
        data = write_mnist_like(tmp / "idx", n_train=n_train, n_test=n_test)
        return ["train", "mnist-dcgan", "--data-dir", data, "--out", tmp / "new",
                "train.steps=1", "eval.metrics=[]"]
    return setup


def few_images(tmp):
    from PIL import Image

    (tmp / "pics").mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (i * 60, 0, 0)).save(tmp / f"pics/{i}.png")
    return ["train", "folder-dcgan", "--data-dir", tmp / "pics", "--out", tmp / "new"]


def torn_frame(tmp):
    frames = sorted((tmp / "run/frames").glob("step_*.npz"))
    frames[-1].write_bytes(frames[-1].read_bytes()[:100])
    return ["resume", tmp / "run", "--steps", 60]


def log_is_a_folder(tmp):
    (tmp / "run/metrics.jsonl").unlink()
    (tmp / "run/metrics.jsonl").mkdir()
    return ["resume", tmp / "run", "--steps", 60]


def checkpoint_edit(edit):
    def setup(tmp):
        path = tmp / "run" / FILENAME
        state = load_checkpoint(path)
        edit(state)
        save_checkpoint(path, {k: v for k, v in state.items() if k not in ("format", "version")})
        return ["resume", tmp / "run", "--steps", 60]
    return setup


def sample_to(target, n=10, extra=()):
    def setup(tmp):
        (tmp / "folder").mkdir(exist_ok=True)
        (tmp / "file").write_text("x")
        return ["sample", tmp / "run", "-n", n, "--out", str(target).format(tmp=tmp), *extra]
    return setup


def train(*overrides):
    return lambda tmp: ["train", "toy-grid", "--out", tmp / "new", *TINY, *overrides]


def user_file_kept(name):
    return lambda tmp: (tmp / name).read_text() == "mine"


def run_kept(tmp):
    return (tmp / "run" / FILENAME).is_file() and (tmp / "run/metrics.json").is_file()


def nothing_created(tmp):
    return not (tmp / "new").exists()


CASES = [
    # -- --force: only gankit's own run folders, only after validation --
    ("force-user-folder", user_folder, 2, "--force refuses to replace",
     user_file_kept("notes/todo.txt")),
    ("force-file", a_file, 2, "is not a folder", user_file_kept("file.txt")),
    ("force-lone-config", lone_config, 2, "not a run folder gankit wrote",
     user_file_kept("mine/config.toml")),
    ("force-run-with-user-file", run_with_user_file, 2, "thesis.tex",
     user_file_kept("run/thesis.tex")),
    ("force-symlink", symlink_to_run, 2, "symbolic link", run_kept),
    ("force-typo-data-dir", typo_in_data_dir, 2, "typo does not exist", run_kept),
    ("force-cwd", cwd_is_the_run, 2, "working directory", run_kept),
    ("force-parent-of-cwd", parent_of_cwd, 2, "working directory", run_kept),
    # -- user text echoed literally --
    ("markup-override", train("[/x]=1"), 2, "unknown config key '[/x]'", None),
    ("markup-path", bracket_data_dir, 2, "photos [old]", None),
    # -- sizes that do not fit --
    ("batch-larger-than-data", train("train.batch_size=1000000"), 2, "fewer than one batch",
     nothing_created),
    ("idx-0-images", idx_files(0, 10), 2, "holds no images", nothing_created),
    ("idx-3-images", idx_files(3, 10), 2, "fewer than one batch", nothing_created),
    ("idx-empty-test-split", idx_files(200, 0), 2, "test split", nothing_created),
    ("folder-of-3-images", few_images, 2, "fewer than one batch", nothing_created),
    ("sample-n-too-large", sample_to("{tmp}/s.npy", n=10**13), 2, "memory", None),
    # -- numbers beyond the machine --
    ("seed-beyond-64-bits", train(f"train.seed={2**70}"), 2, "train.seed", nothing_created),
    ("threads-beyond-os", train(f"train.threads={2**40}"), 2, "train.threads", nothing_created),
    ("infinite-weight", train("data.name='mixture'", "data.means=[[0.0, 0.0], [1.0, 1.0]]",
                              "data.weights=[inf, 1.0]"), 2, "not finite", nothing_created),
    ("nan-mean", train("data.name='mixture'", "data.means=[[nan, 0.0]]"), 2, "not finite",
     nothing_created),
    ("mean-near-float-limit", train("data.name='mixture'", "data.means=[[1e300, 0.0]]"), 2,
     "data.means", nothing_created),
    ("sample-seed-beyond-64-bits", sample_to("{tmp}/s.npy", extra=("--seed", 2**70)), 2,
     "--seed", None),
    # -- paths --
    ("out-under-a-file", out_under_a_file, 2, "cannot create the run folder", None),
    ("sample-out-is-a-folder", sample_to("{tmp}/folder"), 2, "is a folder", None),
    ("sample-out-under-a-file", sample_to("{tmp}/file/s.npy"), 2, "cannot create", None),
    ("sample-suffix-before-drawing", sample_to("{tmp}/s.txt", n=10**13), 2, "use .npy", None),
    ("non-utf8-toml", non_utf8_toml, 2, "not UTF-8", None),
    ("log-is-a-folder", log_is_a_folder, 2, "metrics.jsonl", None),
    ("torn-frame-on-resume", torn_frame, 0, "", None),
    # -- devices --
    ("device-garbage", train("train.device='cuda:x'"), 2, "train.device", nothing_created),
    ("device-unknown", train("train.device='tpu'"), 2, "train.device", nothing_created),
    # -- hand-made checkpoints --
    ("checkpoint-missing-key", checkpoint_edit(lambda s: s.pop("opt_g")), 2, "no 'opt_g'", None),
    ("checkpoint-wrong-type", checkpoint_edit(lambda s: s.update(step="ten")), 2, "'step' is a str",
     None),
    ("checkpoint-bad-optimizer", checkpoint_edit(lambda s: s.update(opt_g={"state": 3})), 2,
     "does not fit its config", None),
]


@pytest.mark.parametrize(("name", "setup", "code", "text", "check"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(name, setup, code, text, check, run_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANKIT_DATA_DIR", str(tmp_path / "no-data"))
    argv = setup(tmp_path)
    result = invoke(*argv)
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, result.output
    if code == 2:
        assert first_line(result).startswith("error: "), result.output
        assert text in first_line(result), result.output
        assert len([ln for ln in result.output.splitlines() if ln.strip()]) == 1, result.output
    if check is not None:
        assert check(tmp_path), result.output


# -- --force on a run folder gankit wrote still works -----------------------------------------
def test_force_replaces_a_run_gankit_wrote(run_copy):
    (run_copy / "frames/.step_9.npz.tmp").write_bytes(b"torn")
    result = invoke("train", "toy-grid", "--out", run_copy, "--force", *TINY,
                    "train.steps=20", "train.seed=5")
    assert result.exit_code == 0, result.output
    assert "seed = 5" in (run_copy / "config.toml").read_text()
    assert load_checkpoint(run_copy / FILENAME)["step"] == 20
    assert (run_copy / ".gankit-run").is_file()


# -- a failed train leaves a folder the retry may reuse ---------------------------------------
def test_a_failed_train_can_be_retried_without_force(tmp_path):
    out = tmp_path / "r"
    failed = invoke("train", "toy-grid", "--out", out, *TINY, "train.lr_d=1e30",
                    "train.lr_g=1e30")
    assert failed.exit_code == 2 and "NaN or infinite" in failed.output
    assert not (out / FILENAME).exists()
    retry = invoke("train", "toy-grid", "--out", out, *TINY)
    assert retry.exit_code == 0, retry.output
    assert "re-using" in retry.output


# -- one writer per run folder; readers never rewrite the log ---------------------------------
def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "busy"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", "toy-grid", "--out",
                             str(out), *TINY, "train.steps=1000000", "train.ckpt_every=5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 90
        while not (out / FILENAME).exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        for argv in (["resume", out], ["train", "toy-grid", "--out", out, "--force", *TINY]):
            result = invoke(*argv)
            assert result.exit_code == 2, result.output
            assert f"is in use by pid {proc.pid}" in result.output
            assert "gankit train" in result.output
        time.sleep(0.3)  # more log lines past the last checkpoint
        log_before = (out / "metrics.jsonl").read_bytes()
        result = invoke("sample", out, "-n", 20, "--out", tmp_path / "s.npy")
        assert result.exit_code == 0, result.output
        assert (out / "metrics.jsonl").read_bytes().startswith(log_before)  # not truncated
        assert proc.poll() is None  # the writer never noticed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert invoke("resume", out, "--steps", 1).exit_code == 2  # lock free again: only "fewer"


def test_eval_and_sample_change_nothing_but_metrics_json(run_copy, tmp_path):
    log = run_copy / "metrics.jsonl"
    with open(log, "a") as f:  # a line past the checkpoint, as while the run trains
        f.write(json.dumps({"step": 50, "d_loss": 1.0, "g_loss": 1.0, "d_real": 0.5,
                            "d_fake": 0.5}) + "\n")
    before = snapshot(run_copy)
    assert invoke("eval", run_copy).exit_code == 0
    assert invoke("sample", run_copy, "-n", 20, "--out", tmp_path / "s.png").exit_code == 0
    after = snapshot(run_copy)
    assert set(after) == set(before)
    assert {k for k in after if after[k] != before[k]} <= {"metrics.json"}


def test_eval_of_a_folder_it_cannot_write_prints_the_metrics(run_copy):
    (run_copy / "metrics.json").unlink()
    (run_copy / "metrics.json").mkdir()  # as on a read-only mount: the write fails
    result = invoke("eval", run_copy)
    assert result.exit_code == 0, result.output
    assert "hq_fraction" in result.output and "could not write" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_run_folder_can_be_evaluated_and_sampled(run_copy, tmp_path):
    for p in [run_copy, *run_copy.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        result = invoke("eval", run_copy)
        assert result.exit_code == 0 and "could not write" in result.output, result.output
        result = invoke("sample", run_copy, "-n", 5, "--out", tmp_path / "s.npy")
        assert result.exit_code == 0, result.output
        result = invoke("resume", run_copy, "--steps", 60)
        assert result.exit_code == 2 and "read-only" in result.output
    finally:
        for p in [run_copy, *run_copy.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)


# -- a torn last line of the log ----------------------------------------------------------------
def test_a_torn_log_line_is_skipped_by_readers_and_dropped_on_resume(run_copy, tmp_path):
    log = run_copy / "metrics.jsonl"
    good = log.read_text()
    log.write_text(good + '{"step": 60, "d_lo')  # a full disk cut the write short
    assert invoke("eval", run_copy).exit_code == 0
    assert invoke("sample", run_copy, "-n", 5, "--out", tmp_path / "s.npy").exit_code == 0
    result = invoke("resume", run_copy, "--steps", 60)
    assert result.exit_code == 0, result.output
    steps = [json.loads(x)["step"] for x in log.read_text().splitlines()]
    assert steps == [20, 40, 60]


# -- a full disk --------------------------------------------------------------------------------
def test_a_full_disk_during_a_checkpoint_names_it_and_the_last_good_one(tmp_path, monkeypatch):
    real_save, calls = torch.save, []

    def save(obj, f, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "r"
    result = invoke("train", "toy-grid", "--out", out, *TINY)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = error_line(result)
    assert f"could not write {out / FILENAME}" in line and "No space left" in line
    assert f"Last good checkpoint: {out / FILENAME} (step 20)" in line
    assert load_checkpoint(out / FILENAME)["step"] == 20
    assert not list(out.glob(".*.tmp"))


def test_a_full_disk_during_a_log_write_names_the_log(tmp_path, monkeypatch):
    import builtins

    import gankit.train.loop as loop

    def open_(path, mode="r", *a, **k):
        if str(path).endswith("metrics.jsonl") and "a" in mode:
            raise OSError(errno.ENOSPC, "No space left on device")
        return builtins.open(path, mode, *a, **k)

    monkeypatch.setattr(loop, "open", open_, raising=False)
    out = tmp_path / "r"
    result = invoke("train", "toy-grid", "--out", out, *TINY)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"could not write {out / 'metrics.jsonl'}" in error_line(result)
    assert "No checkpoint had been written yet" in error_line(result)


# -- a run folder never makes gankit run code ---------------------------------------------------
def test_eval_does_not_load_weights_named_by_the_run_folder(tmp_path, monkeypatch):
    run_copy = tmp_path / "digits"  # an image run: the Inception FID needs images
    made = invoke("train", "digits-tiny", "--out", run_copy, "train.steps=4", "train.log_every=2",
                  "train.ckpt_every=2", "train.frame_every=2", "eval.n_samples=50",
                  "eval.metrics=[]")
    assert made.exit_code == 0, made.output
    weights = tmp_path / "evil.pt"
    weights.write_bytes(b"pretend TorchScript")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    path = run_copy / FILENAME
    state = load_checkpoint(path)
    text = Config.from_toml(state["config"]).with_overrides({
        "eval.inception_weights": str(weights), "eval.inception_sha256": digest,
        "eval.metrics": ["fid_inception", "w1"]}).to_toml()
    state["config"] = text
    save_checkpoint(path, {k: v for k, v in state.items() if k not in ("format", "version")})
    (run_copy / "config.toml").write_text(text)
    loaded = []
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: loaded.append(a) or 1 / 0)
    result = invoke("eval", run_copy)
    assert result.exit_code == 0, result.output
    assert loaded == [] and "fid_inception left out" in result.output
    assert "w1" in result.output
    result = invoke("eval", run_copy, "--trust-code")  # the user vouches for the folder
    assert loaded and result.exit_code == 2 and "not a TorchScript module" in result.output


# -- which config is the truth ------------------------------------------------------------------
def test_a_checkpoint_of_another_run_is_refused_and_metrics_kept(run_copy, tmp_path):
    other = tmp_path / "ring"
    assert invoke("train", "toy-ring", "--out", other, *TINY).exit_code == 0
    metrics = (other / "metrics.json").read_bytes()
    shutil.copy(run_copy / FILENAME, other / FILENAME)  # a grid checkpoint in a ring run
    for argv in (["eval", other], ["resume", other, "--steps", 60],
                 ["sample", other, "-n", 5, "--out", tmp_path / "s.npy"]):
        result = invoke(*argv)
        assert result.exit_code == 2, result.output
        assert "was not trained with the config.toml" in first_line(result)
        assert "data.name 'grid'" in first_line(result)
    assert (other / "metrics.json").read_bytes() == metrics


def test_edits_of_config_toml_are_reported_and_steps_adopted(run_copy):
    text = (run_copy / "config.toml").read_text()
    (run_copy / "config.toml").write_text(
        text.replace("n_samples = 200", "n_samples = 100").replace("steps = 40", "steps = 60"))
    result = invoke("resume", run_copy)
    assert result.exit_code == 0, result.output
    assert "note: config.toml differs" in result.output and "eval.n_samples" in result.output
    assert load_checkpoint(run_copy / FILENAME)["step"] == 60
    assert json.loads((run_copy / "metrics.json").read_text())["n_samples"] == 200


# -- Ctrl-C outside training says what it stopped ----------------------------------------------
def test_sigint_during_evaluation_says_what_it_stopped(run_copy, monkeypatch):
    from gankit import run

    def interrupted(trainer):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "evaluate", interrupted)
    result = invoke("eval", run_copy)
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert f"interrupted while evaluating {run_copy} at step 40: metrics.json was not written" \
        in result.output


def test_unexpected_errors_are_one_line_with_a_debug_hint(run_copy, monkeypatch):
    from gankit import run

    monkeypatch.setattr(run, "evaluate", lambda trainer: np.array([])[1])
    result = invoke("eval", run_copy)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "unexpected IndexError" in first_line(result) and "GANKIT_DEBUG=1" in result.output
