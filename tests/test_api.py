"""The Python API: own G/D/data/loss, exact resume from Python, registries, import paths."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import gankit
from gankit.errors import GankitError

ROOT = Path(__file__).resolve().parents[1]
TINY = {"train.log_every": 5, "train.ckpt_every": 10, "train.frame_every": 10,
        "train.batch_size": 32, "eval.n_samples": 100, "prior.dim": 3, "train.ema": 0.9,
        "train.k": 2}


def nets(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
    D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Flatten(0))
    return G, D


def data() -> torch.Tensor:
    return torch.randn(500, 2, generator=torch.Generator().manual_seed(1)) * 0.5 + 1


def test_all_lists_the_api():
    assert {"fit", "open_run", "load_config", "Run", "register_arch", "register_dataset",
            "register_loss", "register_metric", "Objective"} <= set(gankit.__all__)
    for name in gankit.__all__:
        assert getattr(gankit, name) is not None


def test_own_nets_interrupted_and_resumed_from_python_equal_one_run(tmp_path):
    """A callback stops the run at step 13; fresh modules passed again resume it, and the result
    is bit-identical to an uninterrupted run (weights, EMA, optimizer state, log)."""
    full = gankit.fit(*nets(), data(), overrides=TINY, steps=30, out=tmp_path / "full",
                      evaluate=False)
    assert full.finished and full.step == 30

    def stop_at_13(trainer):
        if trainer.step == 13:
            trainer.request_stop("test")

    part = gankit.fit(*nets(), data(), overrides=TINY, steps=30, out=tmp_path / "part",
                      callbacks=[stop_at_13], evaluate=False)
    assert not part.finished and part.step == 13 and part.trainer.stop_signal == "test"
    again = gankit.fit(*nets(seed=7), data(), out=tmp_path / "part", resume=True,
                       evaluate=False)
    assert again.finished and again.step == 30
    for a, b in ((full.trainer.G, again.trainer.G), (full.trainer.D, again.trainer.D),
                 (full.trainer.G_ema, again.trainer.G_ema)):
        for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y), k
    assert (tmp_path / "full" / "metrics.jsonl").read_text() == \
        (tmp_path / "part" / "metrics.jsonl").read_text()
    # open it again to sample and evaluate: the modules are needed, the data for evaluation
    opened = gankit.open_run(tmp_path / "part", G=nets()[0], D=nets()[1], data=data())
    assert opened.sample(7).shape == (7, 2)
    assert torch.equal(opened.sample(7), full.sample(7))
    assert set(opened.evaluate()) >= {"w1", "step"}


def test_a_run_of_python_modules_tells_how_to_open_it(tmp_path):
    gankit.fit(*nets(), data(), overrides=TINY, steps=2, out=tmp_path / "r", evaluate=False)
    with pytest.raises(GankitError, match="modules from Python"):
        gankit.open_run(tmp_path / "r", data=data())
    opened = gankit.open_run(tmp_path / "r", G=nets()[0], D=nets()[1])  # sampling needs no data
    assert opened.sample(3).shape == (3, 2)
    with pytest.raises(GankitError, match="evaluating needs the run's data"):
        opened.evaluate()


def test_torch_dataset_and_registered_names(tmp_path):
    """A torch Dataset of (sample, label) pairs; a registered data set, architecture and loss
    usable by name from the config (as the CLI and presets use them)."""
    pairs = torch.utils.data.TensorDataset(data(), torch.zeros(500))
    run = gankit.fit(*nets(), pairs, loss="hinge", overrides=TINY, steps=3)
    assert run.step == 3 and "w1" in run.metrics

    @gankit.register_dataset("test-line")
    def line(d):
        return torch.linspace(-1, 1, 400).unsqueeze(1).repeat(1, 2)

    @gankit.register_arch("test-tiny", role="generator")
    def tiny_g(cfg, shape):
        return nn.Linear(cfg.prior.dim, shape[0])

    cfg = gankit.load_config("toy-grid", ["data.name=test-line", "model.g_arch=test-tiny",
                                          "eval.metrics=[\"w1\"]"])
    run = gankit.fit(config=cfg, overrides=TINY, steps=2)
    assert isinstance(run.trainer.G, nn.Linear) and run.trainer.task.sample_shape == (2,)
    with pytest.raises(GankitError, match="did you mean 'test-tiny'"):
        gankit.load_config(None, {"model.g_arch": "test-tiy"})


def test_relativistic_loss_sees_real_outputs(tmp_path):
    seen = []

    def g_loss(real, fake):
        seen.append(real.shape)
        return torch.nn.functional.softplus(-(fake - real)).mean()

    rel = gankit.Objective(lambda r, f: torch.nn.functional.softplus(-(r - f)).mean(), g_loss,
                           g_uses_real=True)
    run = gankit.fit(*nets(), data(), loss=rel, overrides=TINY, steps=3, evaluate=False)
    assert run.step == 3 and seen == [torch.Size([32])] * 3
    assert run.config.train.loss == "python"


def test_gradient_penalty_is_logged_by_name(tmp_path):
    run = gankit.fit(*nets(), data(), loss="wasserstein", steps=5, evaluate=False,
                     overrides={**TINY, "train.gp_lambda": 10.0}, out=tmp_path / "gp")
    record = json.loads((tmp_path / "gp" / "metrics.jsonl").read_text().splitlines()[0])
    assert record["gp"] > 0 and {"d_loss", "g_loss", "d_real", "d_fake"} <= set(record)
    assert run.trainer.stat_names[-1] == "gp"


MARKER_MODULE = '''
import os
from pathlib import Path
Path(os.environ["GANKIT_TEST_MARKER"]).write_text("imported")
from torch import nn

def generator(cfg, shape):
    return nn.Sequential(nn.Linear(cfg.prior.dim, 16), nn.ReLU(), nn.Linear(16, shape[0]))
'''


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_code_named_in_a_config_is_imported_only_when_trusted(tmp_path, monkeypatch):
    """A run whose config names `markermod:generator`: `gankit eval` refuses in one line and
    imports nothing (no marker file) unless --trust-code; resume and sample refuse alike."""
    from gankit import run

    (tmp_path / "markermod.py").write_text(MARKER_MODULE)
    marker = tmp_path / "imported.txt"
    monkeypatch.setenv("GANKIT_TEST_MARKER", str(marker))
    monkeypatch.syspath_prepend(str(tmp_path))
    gankit.fit(config="toy-grid", overrides={"model.g_arch": "markermod:generator", **TINY,
                                             "data.n_train": 500, "prior.dim": 2},
               steps=4, out=tmp_path / "run", evaluate=False)
    assert marker.exists()  # named in Python: imported
    marker.unlink()
    for opening in (lambda: run.open_trainer(tmp_path / "run", steps=8),
                    lambda: run.sample_to_file(tmp_path / "run", 5, tmp_path / "s.npy")):
        with pytest.raises(GankitError, match="--trust-code"):
            opening()
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}
    refused = _cli(["eval", str(tmp_path / "run")], env)
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "--trust-code" in refused.stderr
    assert "markermod:generator" in refused.stderr
    assert not marker.exists()  # a fresh process opened the run and imported nothing
    trusted = _cli(["eval", str(tmp_path / "run"), "--trust-code"], env)
    assert trusted.returncode == 0, trusted.stderr
    assert marker.exists()


def test_old_names_still_load():
    old = "seed" + "003"
    cfg = gankit.load_config(f"{old}-mnist")
    assert cfg.model.g_arch == cfg.model.d_arch == "keras-mnist"
    assert gankit.load_config("keras-fashion").data.name == "fashion-mnist"
    assert gankit.load_config(None, {"data.name": "mnist", "model.d_arch": old,
                                     "model.g_arch": old}).model.g_arch == "keras-mnist"


def test_description_follows_overrides():
    cfg = gankit.load_config("toy-grid", ["data.name=mixture", "data.means=[[0,0],[1,1]]",
                                          "data.std=0.02"])
    assert "25-mode" not in cfg.description and "2-mode mixture (std 0.02)" in cfg.description
    assert gankit.load_config("toy-grid").description.startswith("25-mode grid")


def test_missing_tomli_w_is_one_readable_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "tomli_w", None)
    with pytest.raises(GankitError, match="pip install 'tomli-w'"):
        gankit.load_config("toy-grid").to_toml()


def test_image_data_modules_import_no_loader():
    """No import cycle: the image-set helpers import none of the loaders that use them."""
    tree = ast.parse((ROOT / "gankit/data/images.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"gankit.data.mnist", "gankit.data.digits", "gankit.data.folder"}


@pytest.mark.parametrize("script, args", [
    ("own_nets_2d.py", ["--steps", "3"]),
    ("own_convnets_folder.py", ["--steps", "2"]),
    ("own_loss.py", ["--steps", "3"]),
])
def test_examples_run(tmp_path, monkeypatch, capsys, script, args):
    import runpy

    monkeypatch.setattr(sys, "argv", [script, *args, "--out", str(tmp_path / "run")])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    assert "Run(" in capsys.readouterr().out
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_tensorboard_logs_or_one_line_when_missing(tmp_path):
    """train.tensorboard = true writes event files beside metrics.jsonl; without the optional
    extra installed, one line says which package to install."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(GankitError, match=r"gankit\[tensorboard\]"):
            gankit.fit(*nets(), data(), overrides={**TINY, "train.tensorboard": True}, steps=2)
        return
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for _ in range(2):  # the second run replaces the first (--force knows the event files)
        gankit.fit(*nets(), data(), overrides={**TINY, "train.tensorboard": True}, steps=10,
                   out=tmp_path / "tb", evaluate=False, force=True)
    events = list((tmp_path / "tb" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    log = EventAccumulator(str(events[0]))
    log.Reload()
    logged = [json.loads(line) for line in (tmp_path / "tb" / "metrics.jsonl").open()]
    assert [e.step for e in log.Scalars("d_loss")] == [r["step"] for r in logged]
    assert log.Scalars("d_loss")[-1].value == pytest.approx(logged[-1]["d_loss"], rel=1e-6)


def test_derived_seed_offsets_are_all_different():
    from gankit import seeds

    assert len(set(seeds.OFFSETS.values())) == len(seeds.OFFSETS)
