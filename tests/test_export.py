"""`gankit export`: the ONNX file reproduces PyTorch's samples in onnxruntime, TorchScript files
round-trip, both carry the prior and output scaling, and bad requests are one clear line."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import gankit
from gankit.cli import app
from gankit.export import read_metadata, run_exported
from gankit.priors import sample_prior

runner = CliRunner()
DIGITS = ["train.steps=4", "train.log_every=2", "train.ckpt_every=2", "train.frame_every=2",
          "train.batch_size=8", "model.g_width=8", "model.d_width=8", "eval.metrics=[]"]
TOY = ["train.steps=10", "train.log_every=5", "train.ckpt_every=5", "train.frame_every=5",
       "model.g_width=16", "model.d_width=16", "data.n_train=300", "train.batch_size=32",
       "eval.metrics=[]"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An image run with a weight average (BatchNorm statistics re-estimated for it), a
    class-conditional image run, and a 2-D run with a uniform prior."""
    root = tmp_path_factory.mktemp("export")
    made = {}
    for name, preset, extra in (
            ("ema", "digits-tiny", [*DIGITS, "train.ema=0.5"]),
            ("cond", "digits-tiny", [*DIGITS, "model.conditional=projection"]),
            ("toy", "toy-ring", [*TOY, "prior.name=uniform", "prior.dim=3"])):
        result = invoke("train", preset, "--out", root / name, *extra)
        assert result.exit_code == 0, result.output
        made[name] = root / name
    return made


def _latents(run, n, seed=7):
    p = run.config.prior
    return sample_prior(p.name, n, p.dim, torch.Generator().manual_seed(seed))


def test_onnx_reproduces_pytorch_samples_in_onnxruntime(runs, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime (gankit[export], in .[dev]) "
                              "is not installed: pip install -c constraints.txt -e '.[dev]'")
    result = invoke("export", runs["ema"], "--format", "onnx", "--out", tmp_path / "G.onnx")
    assert result.exit_code == 0, result.output
    assert "differ from PyTorch's by at most" in result.output
    run = gankit.open_run(runs["ema"])
    z = _latents(run, 37)  # another batch size than the export was traced with
    session = ort.InferenceSession(str(tmp_path / "G.onnx"), providers=["CPUExecutionProvider"])
    (images,) = session.run(["x"], {"z": z.numpy()})
    expected = run.trainer.generate(z).numpy()  # what `gankit sample` draws for these latents
    assert images.shape == (37, 1, 28, 28)
    assert np.abs(images - expected).max() <= 1e-4
    own = run.trainer.G.eval()(z).detach().numpy()  # the trained G, not its weight average
    assert np.abs(images - own).max() > 1e-3
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["gankit.prior"] == "normal" and meta["gankit.prior_dim"] == "32"
    assert meta["gankit.output_shape"] == "1,28,28" and meta["gankit.pixel_range"] == "signed"
    assert meta["gankit.to_pixels"].startswith("uint8 = round(clip((x + 1) / 2, 0, 1) * 255)")
    assert meta["gankit.weights"] == "weight average (train.ema = 0.5)"
    assert read_metadata(tmp_path / "G.onnx") == meta


def test_torchscript_round_trip(runs, tmp_path):
    result = invoke("export", runs["ema"], "--format", "torchscript", "--out", tmp_path / "G.pt")
    assert result.exit_code == 0, result.output
    run = gankit.open_run(runs["ema"])
    z = _latents(run, 9)
    assert torch.allclose(run_exported(tmp_path / "G.pt", (z,)), run.trainer.generate(z),
                          atol=1e-6)
    meta = read_metadata(tmp_path / "G.pt")
    assert meta["gankit.prior"] == "normal" and meta["gankit.input"] == "z: float32 (batch, 32)"


def test_a_conditional_generator_takes_labels(runs, tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime (gankit[export]) is not installed")
    assert invoke("export", runs["cond"], "--out", tmp_path / "C.onnx").exit_code == 0
    run = gankit.open_run(runs["cond"])
    z, y = _latents(run, 10), torch.tensor([3] * 5 + [8] * 5)
    got = run_exported(tmp_path / "C.onnx", (z, y))
    assert torch.allclose(got, run.trainer.generate(z, y), atol=1e-4)
    assert not torch.allclose(got, run.trainer.generate(z, (y + 1) % 10), atol=1e-3)
    meta = read_metadata(tmp_path / "C.onnx")
    assert meta["gankit.classes"] == "10" and "y: int64" in meta["gankit.input"]


def test_two_d_uniform_prior_export(runs, tmp_path):
    assert invoke("export", runs["toy"], "--format", "torchscript",
                  "--out", tmp_path / "toy.pt").exit_code == 0
    meta = read_metadata(tmp_path / "toy.pt")
    assert meta["gankit.prior"] == "uniform" and "2 * rand(batch, dim) - 1" in \
        meta["gankit.prior_range"]
    assert meta["gankit.output_shape"] == "2" and meta["gankit.to_pixels"].startswith("none")
    run = gankit.open_run(runs["toy"])
    z = _latents(run, 5)
    assert torch.allclose(run_exported(tmp_path / "toy.pt", (z,)), run.trainer.generate(z))


def test_an_unfinished_run_is_refused_unless_asked(tmp_path):
    def stop(trainer):
        if trainer.step == 2:
            trainer.request_stop("test")

    run = gankit.fit(config="toy-ring", overrides=TOY, out=tmp_path / "stopped",
                     callbacks=[stop], progress=False)
    assert not run.finished
    result = invoke("export", tmp_path / "stopped", "--format", "torchscript",
                    "--out", tmp_path / "G.pt")
    assert result.exit_code == 2 and "stopped at step 2 of 10" in result.output
    assert "--unfinished" in result.output and not (tmp_path / "G.pt").exists()
    assert invoke("export", tmp_path / "stopped", "--format", "torchscript", "--unfinished",
                  "--out", tmp_path / "G.pt").exit_code == 0
    assert read_metadata(tmp_path / "G.pt")["gankit.step"] == "2"


@pytest.mark.parametrize(("args", "message"), [
    (["--format", "tflite"], "--format must be onnx or torchscript, got 'tflite'"),
    (["--format", "onnx", "--out", "G.pt"], "does not fit --format onnx: name it *.onnx"),
    (["--format", "torchscript", "--out", "G.onnx"], "name it *.pt or *.pth or *.ts"),
])
def test_bad_export_requests(runs, args, message):
    result = invoke("export", runs["toy"], *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_folder_without_a_checkpoint(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke("export", tmp_path / "empty", "--out", tmp_path / "G.onnx")
    assert result.exit_code == 2 and "has no checkpoint.pt" in result.output


def test_missing_onnx_package_is_one_line(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    result = invoke("export", runs["toy"], "--out", tmp_path / "G.onnx")
    assert result.exit_code == 2, result.output
    assert "needs the package 'gankit[export]'" in result.output
    assert "pip install 'gankit[export]'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "G.onnx").exists()
