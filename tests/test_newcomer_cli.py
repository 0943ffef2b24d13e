"""The command line reaches a newcomer's own code (plug-ins), takes eval overrides, refuses
contradictory options, stores resolved data paths, and says what a stopped run wrote, in the same
words as gankit.fit."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import gankit
from gankit.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cli_plugin"
#: The installed console script: unlike `python -m`, it does not put the current directory on
#: the module search path by itself.
GANKIT = Path(sys.executable).with_name("gankit")
TINY = ["train.log_every=5", "train.ckpt_every=10", "train.frame_every=10", "model.g_width=16",
        "model.d_width=16", "data.n_train=500", "train.batch_size=32", "eval.n_samples=100"]
EXAMPLE_TINY = ["--steps", "6", "model.g_width=16", "model.d_width=16", "data.n_train=500",
                "train.batch_size=32", "eval.n_samples=100", "train.log_every=3",
                "train.frame_every=3"]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result) -> str:
    """The output of a refused command: exit code 2, one line, no traceback."""
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert text.startswith("error:") and "\n" not in text and "Traceback" not in text, text
    return text


def gankit_cli(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no help
    environment.update({"OMP_NUM_THREADS": "1", **(env or {})})
    return subprocess.run([str(GANKIT), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=environment, timeout=600)


@pytest.fixture
def toy_run(tmp_path):
    result = invoke("train", "toy-ring", "--out", tmp_path / "run", "--steps", 10, *TINY)
    assert result.exit_code == 0, result.output
    return tmp_path / "run"


# -- plug-ins -----------------------------------------------------------------------------------
@pytest.mark.skipif(not GANKIT.exists(), reason="needs the installed gankit console script")
def test_the_example_plugin_reaches_the_command_line(tmp_path, monkeypatch):
    """examples/cli_plugin as its README says: a TOML naming a registered architecture, trained
    with --plugin (found in the current directory by the console script, in a process of its
    own), then re-evaluated in another with a metric the plug-in registers; without the plug-in
    named, each command says how in one line."""
    work = tmp_path / "work"
    shutil.copytree(EXAMPLE, work)
    monkeypatch.chdir(work)
    text = one_line_error(invoke("train", "swish-ring.toml", "--out", "runs/swish",
                                 *EXAMPLE_TINY))
    assert "'swish-mlp' is not one of" in text and "--plugin MODULE" in text
    trained = gankit_cli("train", "swish-ring.toml", "--plugin", "swish_nets", "--out",
                         "runs/swish", *EXAMPLE_TINY, "eval.metrics=[\"w1\"]", cwd=work)
    assert trained.returncode == 0, trained.stderr
    run = work / "runs" / "swish"
    assert "radius_error" not in json.loads((run / "metrics.json").read_text())
    assert "swish_nets" not in sys.modules  # this process never imported it
    text = one_line_error(invoke("eval", run))
    assert "--plugin swish_nets" in text and "--trust-code" in text
    again = gankit_cli("eval", "runs/swish", "--plugin", "swish_nets", "--metrics",
                       "w1,radius_error", cwd=work)
    assert again.returncode == 0, again.stderr
    written = json.loads((run / "metrics.json").read_text())
    assert {"w1", "radius_error"} <= set(written) and written["radius_error"] >= 0


ENTRY_POINT_MODULE = '''
import gankit
from torch import nn

def register():
    gankit.register_arch("ep-linear", lambda cfg, shape: nn.Linear(cfg.prior.dim, shape[0]),
                         role="generator")
'''


def test_an_installed_packages_entry_point_registers_names(tmp_path, monkeypatch):
    """A package declaring an entry point in the group gankit.plugins: its names work on the
    command line with no --plugin, and in Python with no import."""
    from gankit import plugins, registry

    site = tmp_path / "site"
    (site / "ep_pkg-1.0.dist-info").mkdir(parents=True)
    (site / "ep_pkg.py").write_text(ENTRY_POINT_MODULE)
    (site / "ep_pkg-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ep-pkg\nVersion: 1.0\n")
    (site / "ep_pkg-1.0.dist-info" / "entry_points.txt").write_text(
        "[gankit.plugins]\nlinear = ep_pkg:register\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_loaded", False)  # as in a fresh process
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    assert gankit.load_config("toy-ring", {"model.g_arch": "ep-linear"}).model.g_arch == \
        "ep-linear"
    result = invoke("train", "toy-ring", "model.g_arch=ep-linear", "--out", tmp_path / "r",
                    *TINY, "--steps", 4, 'eval.metrics=["w1"]')
    assert result.exit_code == 0, result.output


def test_a_plugin_that_is_not_there_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = one_line_error(invoke("train", "toy-ring", "--plugin", "no_such_nets", *TINY))
    assert "no such module" in text and "no_such_nets.py" in text
    (tmp_path / "broken_nets.py").write_text("raise ValueError('my bug')\n")
    text = one_line_error(invoke("train", "toy-ring", "--plugin", "broken_nets", *TINY))
    assert "failed while importing: ValueError: my bug" in text
    assert not (tmp_path / "runs").exists()


# -- eval takes eval.* overrides ------------------------------------------------------------------
def test_eval_takes_eval_overrides_and_metrics(toy_run):
    result = invoke("eval", toy_run, 'eval.metrics=["w1"]', "eval.n_samples=50")
    assert result.exit_code == 0, result.output
    written = json.loads((toy_run / "metrics.json").read_text())
    assert written["n_samples"] == 50 and "w1" in written and "modes" not in written
    result = invoke("eval", toy_run, "--metrics", "modes", "--metrics", "w1,hq_fraction")
    assert result.exit_code == 0, result.output
    assert {"modes", "w1", "hq_fraction"} <= set(json.loads((toy_run / "metrics.json")
                                                            .read_text()))
    assert "not train.lr_g" in one_line_error(invoke("eval", toy_run, "train.lr_g=1"))
    assert "disagree" in one_line_error(invoke("eval", toy_run, "--metrics", "w1",
                                               'eval.metrics=["modes"]'))


# -- contradictions and repeats -------------------------------------------------------------------
@pytest.mark.parametrize("args, says", [
    (["--steps", 30, "train.steps=60"], "--steps 30 and train.steps=60 disagree"),
    (["--steps", 30, "--steps", 60], "--steps is given 2 times (30, then 60)"),
    (["--seed=1", "--seed=2"], "--seed is given 2 times"),
    (["--seed", 1, "train.seed=2"], "--seed 1 and train.seed=2 disagree"),
    (["--out", "a", "-o", "b"], "--out is given 2 times"),
])
def test_contradictory_options_are_refused(tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    assert says in one_line_error(invoke("train", "toy-ring", *args, *TINY))
    assert not any(tmp_path.iterdir())  # nothing created


def test_a_foreign_folder_is_not_offered_to_resume(tmp_path, toy_run):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    text = one_line_error(invoke("train", "toy-ring", "--out", foreign, *TINY))
    assert "gankit did not write it" in text and "resume" not in text and "--force" not in text
    from_python = pytest.raises(gankit.GankitError)
    with from_python as caught:
        gankit.fit(config="toy-ring", out=foreign, steps=2)
    assert "out=" in str(caught.value) and "--" not in str(caught.value)
    with pytest.raises(gankit.GankitError) as caught:  # gankit's own run: force=True, resume=True
        gankit.fit(config="toy-ring", out=toy_run, steps=2)
    assert "force=True" in str(caught.value) and "resume=True" in str(caught.value)
    assert "--force" not in str(caught.value)
    assert (foreign / "notes.txt").read_text() == "mine"


# -- folders: resolved paths, a default metric, skipped files, changed data --------------------
def pictures(folder: Path, n: int = 12) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)).save(
            folder / f"{i:02d}.png")
    return folder


FOLDER_TINY = ["data.resolution=32", "model.g_width=8", "model.d_width=8", "train.batch_size=8",
               "eval.n_samples=16", "train.log_every=1", "train.frame_every=2",
               "train.ckpt_every=2", "prior.dim=8"]


def test_a_folder_run_from_the_cli(tmp_path, monkeypatch):
    """A relative --data-dir is stored resolved (the run opens from elsewhere), the folder run
    measures W1 in pixel space by default, an unreadable image is one gankit note (no Python
    warning), and resuming after the folder changed is refused unless --new-data."""
    monkeypatch.chdir(tmp_path)
    pictures(tmp_path / "pics")
    (tmp_path / "pics" / "broken.png").write_bytes(b"\x89PNG not an image")
    result = invoke("train", "folder-dcgan", "--data-dir", "pics", "--out", "run", "--steps", 2,
                    *FOLDER_TINY)
    assert result.exit_code == 0, result.output
    assert "UserWarning" not in result.output
    assert result.output.count("note: skipped 1 of the 13 image files") == 1
    assert f"is stored as {tmp_path / 'pics'}" in result.output
    config = (tmp_path / "run" / "config.toml").read_text()
    assert f'data_dir = "{tmp_path / "pics"}"' in config
    assert "w1" in json.loads((tmp_path / "run" / "metrics.json").read_text())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert invoke("sample", tmp_path / "run", "-n", 4, "--out", "s.npy").exit_code == 0
    pictures(tmp_path / "pics" / "more", n=2)  # the folder changed
    text = one_line_error(invoke("resume", tmp_path / "run", "--steps", 4))
    assert "trained on other data" in text and "--new-data" in text
    resumed = invoke("resume", tmp_path / "run", "--steps", 4, "--new-data")
    assert resumed.exit_code == 0, resumed.output
    assert "on new data" in resumed.output
    assert invoke("resume", tmp_path / "run", "--steps", 4).exit_code == 0  # recorded since


# -- a stopped run writes the same from the CLI and from Python ----------------------------------
def test_a_stopped_run_writes_and_says_the_same_from_cli_and_python(tmp_path, monkeypatch,
                                                                    capsys):
    from gankit.train.loop import Trainer

    step = Trainer.train_step

    def interrupted(self):  # Ctrl-C during step 3
        step(self)
        if self.step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    cli = invoke("train", "toy-ring", "--out", tmp_path / "cli", "--steps", 20, *TINY)
    monkeypatch.undo()
    assert cli.exit_code == 130, cli.output

    def stop(trainer):
        if trainer.step == 3:
            trainer.request_stop("callback")

    run = gankit.fit(config="toy-ring", overrides=TINY, steps=20, out=tmp_path / "py",
                     callbacks=[stop])
    said = capsys.readouterr().err
    assert not run.finished and run.step == 3

    def files(folder: Path) -> set[str]:
        return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}

    assert files(tmp_path / "cli") == files(tmp_path / "py")
    assert not (tmp_path / "py" / "metrics.json").exists()
    for text, reason in ((cli.output, "SIGINT"), (said, "callback")):
        assert f"stopped by {reason} at step 3; checkpoint saved, no metrics or pictures" in text
    assert "gankit resume" in cli.output and "run.evaluate() and run.render()" in said


# -- sampling a run of Python data needs no data ---------------------------------------------------
def test_sampling_a_run_of_python_data_needs_no_data(tmp_path):
    import torch

    points = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    gankit.fit("mlp", "mlp", points, steps=3, out=tmp_path / "r", evaluate=False,
               overrides=["model.g_width=16", "model.d_width=16", "train.batch_size=32"])
    result = invoke("sample", tmp_path / "r", "-n", 7, "--out", tmp_path / "s.npy")
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "s.npy").shape == (7, 2)
    assert invoke("sample", tmp_path / "r", "-n", 7, "--out", tmp_path / "s.png").exit_code == 0
    text = one_line_error(invoke("eval", tmp_path / "r"))
    assert "data were passed from Python" in text
