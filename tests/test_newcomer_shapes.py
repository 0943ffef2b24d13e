"""A newcomer's modelling mistakes, caught before the first step: each is one line naming what was
expected, what came and the fix (gankit/train/shapes.py), never a raw PyTorch error deep inside a
step, and never a run that trains silently wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import gankit
from gankit.errors import GankitError

FAST = {"train.batch_size": 16, "train.log_every": 1}
SIGMOID = "note: D's outputs all lie in [0, 1], even on inputs far from the data"


def points() -> torch.Tensor:
    return torch.randn(200, 2, generator=torch.Generator().manual_seed(0))


def mlp(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, 16), nn.ReLU(), nn.Linear(16, n_out))


def logit_d(n_in: int = 2) -> nn.Module:
    return nn.Sequential(mlp(n_in, 1), nn.Flatten(0))


class BatchMean(nn.Module):
    """A D that returns one number for the whole batch (a mean): trains silently without the
    check, since the losses take means anyway."""

    def __init__(self) -> None:
        super().__init__()
        self.net = mlp(2, 1)

    def forward(self, x):
        return self.net(x).mean()


class Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp(2, 2)

    def forward(self, z):
        return self.net(z), z


def image_g(dim: int, channels: int, side: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, channels * side * side), nn.Tanh(),
                         nn.Unflatten(1, (channels, side, side)))


def conv_d(channels: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(channels, 4, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 1), nn.Flatten(0))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Twenty small RGB images of one's own."""
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / f"{i}.png")
    return root


def on_points(G, D, **overrides):
    return lambda folder: (G, D, points(), overrides)


def on_folder(G, D, **overrides):
    return lambda folder: (G, D, folder, overrides)


#: mistake -> what the one line must say (the expectation, what came, and the fix)
MISTAKES = [
    ("G makes 3-D points for 2-D data", on_points(mlp(2, 3), logit_d()),
     ["G makes samples of shape (3,)", "the data's are (2,)", "must make 2 values"]),
    ("prior.dim forgotten (it defaults to 2)", on_points(mlp(4, 2), logit_d()),
     ["prior.dim = 2, the default", "G's first layer takes 4 inputs", "set prior.dim = 4"]),
    ("G returns (N, 1, 2) for (N, 2) data",
     on_points(nn.Sequential(mlp(2, 2), nn.Unflatten(1, (1, 2))), logit_d()),
     ["G makes samples of shape (1, 2)", "reshape G's output to (N, 2)"]),
    ("G returns a tuple", on_points(Pair(), logit_d()), ["G returned a tuple, not a tensor"]),
    ("D returns two outputs per sample (N, 2)", on_points(mlp(2, 2), mlp(2, 2)),
     ["D returned shape (4, 2) for 4 samples", "one score per sample", "one logit"]),
    ("D returns a batch mean", on_points(mlp(2, 2), BatchMean()),
     ["D returned one number for a batch of 4 samples", "one score per sample, shape (4,)"]),
    ("D not built for PacGAN packs", on_points(mlp(2, 2), logit_d(), **{"train.pack": 2}),
     ["train.pack = 2", "D's first layer takes 2 inputs, the data give 4", "build D for 4"]),
    ("data.resolution 64 for a 32-pixel G",
     on_folder(image_g(2, 3, 32), conv_d(3), **{"data.resolution": 64, "data.channels": 3}),
     ["G makes samples of shape (3, 32, 32)", "(3, 64, 64)", "set data.resolution = 32"]),
    ("data.channels 1 (the default) for an RGB G",
     on_folder(image_g(2, 3, 32), conv_d(3), **{"data.resolution": 32}),
     ["(3, 32, 32)", "(1, 32, 32)", "set data.channels = 3"]),
    ("data.channels 1 for an RGB D", on_folder(image_g(2, 1, 32), conv_d(3),
                                               **{"data.resolution": 32}),
     ["D failed on a batch of 4 data samples of shape (1, 32, 32)",
      "D's first layer takes 3 channels", "set data.channels = 3"]),
]


@pytest.mark.parametrize("mistake, setup, says", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_mistake_is_one_line_naming_the_fix(mistake, setup, says, folder):
    G, D, data, overrides = setup(folder)
    steps = []
    with pytest.raises(GankitError) as caught:  # not a raw PyTorch error, not a silent run
        gankit.fit(G, D, data, steps=2, evaluate=False, overrides={**FAST, **overrides},
                   callbacks=[lambda t: steps.append(t.step)])
    message = str(caught.value)
    assert "\n" not in message
    for words in says:
        assert words in message, (mistake, message)
    assert steps == []  # refused before the first step: nothing trained


def test_a_sigmoid_at_the_end_of_d_is_one_note(capsys):
    sigmoid_d = nn.Sequential(mlp(2, 1), nn.Flatten(0), nn.Sigmoid())
    run = gankit.fit(mlp(2, 2), sigmoid_d, points(), steps=2, evaluate=False, overrides=FAST)
    said = capsys.readouterr().err
    assert run.finished and said.count(SIGMOID) == 1 and "remove D's last sigmoid" in said
    assert "Traceback" not in said


@pytest.mark.parametrize("seed", range(5))
def test_a_logit_d_gets_no_sigmoid_note(capsys, seed):
    torch.manual_seed(seed)
    for D in (logit_d(), nn.Sequential(nn.LayerNorm(2), logit_d()),
              nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0))):
        gankit.fit(mlp(2, 2), D, points(), steps=1, evaluate=False, overrides=FAST)
    assert "[0, 1]" not in capsys.readouterr().err


def test_the_check_changes_no_random_stream_nor_weight(monkeypatch):
    """A trainer built with the check is bit-identical to one built without it, weights,
    BatchNorm statistics and random streams alike: the check ran in eval mode, under no_grad,
    in a forked random state."""
    from gankit.tasks import build_task
    from gankit.train import shapes

    cfg = gankit.load_config(None, {**FAST, "data.name": "python", "model.g_arch": "python",
                                    "model.d_arch": "python", "eval.metrics": ["w1"]})

    def build():
        torch.manual_seed(3)
        G = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(16, 2))
        D = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1),
                          nn.Flatten(0))
        trainer = gankit.Trainer(cfg, build_task(cfg, points()), None, G=G, D=D)
        trainer.fit(3)
        return ({**trainer.G.state_dict(), **trainer.D.state_dict()}, torch.get_rng_state(),
                trainer.z_gen.get_state(), trainer.G.training)

    checked = build()
    monkeypatch.setattr(shapes, "check_trainer", lambda trainer: None)
    unchecked = build()
    assert checked[0].keys() == unchecked[0].keys()
    assert all(torch.equal(checked[0][k], unchecked[0][k]) for k in checked[0])
    assert torch.equal(checked[1], unchecked[1]) and torch.equal(checked[2], unchecked[2])
    assert checked[3] and unchecked[3]  # G is back in training mode
