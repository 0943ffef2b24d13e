"""gankit from Python as a newcomer meets it: what `dir` shows, a progress bar and notes like the
command line's, contradictions refused instead of settled silently, resuming on other data
refused, and 16-bit grayscale images read as they look."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console
from torch import nn

import gankit
from gankit.data.folder import load_folder
from gankit.errors import GankitError

FAST = {"train.batch_size": 16, "train.log_every": 2, "train.ckpt_every": 4,
        "train.frame_every": 4, "eval.n_samples": 50}


def points(scale: float = 1.0) -> torch.Tensor:
    return torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) * scale


def nets() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return (nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2)),
            nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Flatten(0)))


def test_dir_shows_the_lazy_exports():
    names = dir(gankit)
    assert {"fit", "open_run", "register_arch", "Trainer", "Objective", "__version__"} <= \
        set(names)
    assert not {"importlib", "Any", "TYPE_CHECKING", "annotations"} & set(names)


def test_fit_shows_a_progress_bar_on_a_terminal(capsys, monkeypatch):
    from gankit import api

    gankit.fit(*nets(), points(), steps=4, evaluate=False, overrides=FAST)
    assert "training" not in capsys.readouterr().err  # not a terminal: no bar
    monkeypatch.setattr(api, "_console", lambda: Console(stderr=True, force_terminal=True))
    gankit.fit(*nets(), points(), steps=4, evaluate=False, overrides=FAST)
    shown = capsys.readouterr().err
    assert "training" in shown and "4/4" in shown and "steps" in shown
    gankit.fit(*nets(), points(), steps=4, evaluate=False, overrides=FAST, progress=False)
    assert capsys.readouterr().err == ""


def test_notes_are_lines_on_stderr_unless_silenced(capsys):
    sigmoid = nn.Sequential(nets()[1], nn.Sigmoid())
    gankit.fit(nets()[0], sigmoid, points(), steps=2, evaluate=False, overrides=FAST)
    said = capsys.readouterr().err.splitlines()
    assert [line for line in said if line.startswith("note: D's outputs all lie in [0, 1]")]
    quiet = gankit.fit(nets()[0], sigmoid, points(), steps=2, evaluate=False, overrides=FAST,
                       progress=False)
    assert capsys.readouterr().err == ""
    assert any("[0, 1]" in note for note in quiet.notes)  # kept for the caller


@pytest.mark.parametrize("arguments, says", [
    ({"steps": 50, "overrides": {"train.steps": 100}},
     "steps=50 and overrides train.steps=100 disagree"),
    ({"loss": "hinge", "overrides": {"train.loss": "minimax"}},
     "loss='hinge' and overrides train.loss='minimax' disagree"),
    ({"overrides": {"data.n_train": 50}}, "data=200 and overrides data.n_train=50 disagree"),
])
def test_an_argument_and_an_override_that_disagree_are_refused(arguments, says):
    trained = []
    with pytest.raises(GankitError, match=says.replace("(", r"\(").replace(")", r"\)")):
        gankit.fit(*nets(), points(), evaluate=False, callbacks=[trained.append], **arguments)
    assert trained == []


def test_resuming_on_other_data_is_refused_unless_asked(tmp_path):
    out = tmp_path / "run"
    gankit.fit(*nets(), points(), steps=4, out=out, overrides=FAST)
    before = (out / "metrics.json").read_text()
    with pytest.raises(GankitError, match="trained on other data") as caught:
        gankit.fit(*nets(), points(2.0), steps=8, out=out, resume=True)
    assert "new_data=True" in str(caught.value) and "\n" not in str(caught.value)
    assert (out / "metrics.json").read_text() == before  # nothing was overwritten
    assert "steps = 4" in (out / "config.toml").read_text()  # nor the target raised
    run = gankit.fit(*nets(), points(2.0), steps=8, out=out, resume=True, new_data=True)
    assert run.finished and run.step == 8
    assert gankit.fit(*nets(), points(2.0), steps=10, out=out, resume=True).step == 10


def test_resuming_with_other_overrides_is_refused(tmp_path):
    out = tmp_path / "run"
    gankit.fit(*nets(), points(), steps=4, out=out, overrides=FAST, evaluate=False)
    with pytest.raises(GankitError, match=r"the overrides change it \(train.lr_g"):
        gankit.fit(*nets(), points(), steps=8, out=out, resume=True,
                   overrides={**FAST, "train.lr_g": 1e-5})
    with pytest.raises(GankitError, match=r"the overrides change it \(train.ckpt_every = 3"):
        gankit.fit(*nets(), points(), steps=8, out=out, resume=True,  # a bench cell's length,
                   overrides={**FAST, "train.ckpt_every": 3})  # but the checkpoint's is kept
    run = gankit.fit(*nets(), points(), out=out, resume=True, evaluate=False,
                     overrides={**FAST, "train.steps": 8})  # the same config, a longer run
    assert run.step == 8


def test_an_opened_run_evaluates_any_registered_metric(tmp_path):
    gankit.fit(*nets(), points(), steps=2, out=tmp_path / "r", overrides=FAST)
    if "newcomer_mean_x" not in gankit.METRICS:
        gankit.register_metric("newcomer_mean_x", lambda fake, real, task:
                               float(fake[:, 0].mean()), higher_is_better=False)
    run = gankit.open_run(tmp_path / "r", G=nets()[0], D=nets()[1], data=points())
    metrics = run.evaluate(metrics=["w1", "newcomer_mean_x"])
    assert {"w1", "newcomer_mean_x"} <= set(metrics)
    assert "newcomer_mean_x" in json.loads((tmp_path / "r" / "metrics.json").read_text())


def test_sixteen_bit_grayscale_pngs_are_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    with Image.open(tmp_path / "ramp.png") as im:
        assert im.mode.startswith("I")  # Pillow reads it as 16-bit
    x = load_folder(tmp_path, 32, 1).train_x[0, 0].float()
    expected = torch.from_numpy(ramp.astype(np.float64) / 257.0).float()
    assert (x - expected).abs().max() <= 2.0  # the ramp, up to resampling: not a white tile
    assert float(x.mean()) == pytest.approx(127.5, abs=2.0)
    assert int(x.min()) <= 2 and int(x.max()) >= 253
