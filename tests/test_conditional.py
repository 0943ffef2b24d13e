"""Class-conditional GANs: nets, labels through the trainer (packing, EMA, resume), config
refusals, sampling by class (Python and CLI), labels from folders and from Python data."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gankit import run
from gankit.cli import app
from gankit.config import load_preset
from gankit.errors import ConfigError, GankitError
from gankit.nets.conditional import (
    ConditionalDCGANDiscriminator,
    ConditionalDCGANGenerator,
    ConditionalResNetDiscriminator,
    ConditionalResNetGenerator,
)
from gankit.train.labels import cycle_labels, requested

sys.path.insert(0, str(Path(__file__).parent))
from test_resume import assert_same_state

#: A conditional run on the 8×8 digits (scikit-learn's) in a few seconds.
TINY = ["model.conditional=projection", "model.g_width=8", "model.d_width=8", "prior.dim=16",
        "data.n_train=512", "train.batch_size=32", "train.steps=24", "train.log_every=6",
        "train.ckpt_every=12", "train.frame_every=1000", "eval.metrics=[]"]


def tiny_cfg(*extra: str):
    return load_preset("digits-tiny").with_overrides([*TINY, *extra])


# -- nets -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("net", [ConditionalDCGANGenerator, ConditionalResNetGenerator])
def test_generator_depends_on_the_class_and_keeps_shapes(net):
    G = net(16, 1, 28, n_classes=10, width=8).eval()
    z = torch.randn(6, 16)
    a, b = G(z, torch.zeros(6, dtype=torch.long)), G(z, torch.full((6,), 3))
    assert a.shape == (6, 1, 28, 28)
    assert (a - b).abs().max() > 1e-4  # same z, another class: another image


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
@pytest.mark.parametrize("mode", ["projection", "acgan"])
def test_packed_discriminator_sees_each_members_label(mode, arch):
    """A pack of m = 2: logits per pack; the projection reads each member's class at its place
    (swapping the two labels of a pack changes its logit); AC-GAN's class logits come back one
    row per sample."""
    torch.manual_seed(0)
    net = ConditionalDCGANDiscriminator if arch == "dcgan" else ConditionalResNetDiscriminator
    D = net(1, 28, 10, mode, width=8, pack=2).eval()
    if mode == "projection":
        torch.nn.init.normal_(D.embed.weight, 0, 1)
    x = torch.randn(4, 1, 28, 28)
    y = torch.tensor([1, 7, 2, 2])
    out, classes = D(x, y, with_classes=True)
    assert out.shape == (2,)
    if mode == "projection":
        assert classes is None
        assert not torch.allclose(D(x, torch.tensor([7, 1, 2, 2]))[0], out[0])
        assert torch.allclose(D(x, torch.tensor([7, 1, 2, 2]))[1], out[1])
    else:
        assert classes.shape == (4, 10)
        assert torch.equal(D(x, torch.tensor([0, 0, 0, 0])), out)  # labels only train the head


# -- config ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("over, words", [
    (["data.name=grid", "model.g_arch=mlp", "model.d_arch=mlp"], "has none"),
    (["model.g_arch=keras-mnist", "model.d_arch=keras-mnist"], "class-conditional version"),
    (["model.d_arch=dcgan-pacgan"], "class-conditional version"),
    (["train.unroll=2"], "train.unroll"),
    (["model.conditional=projectoin"], "did you mean 'projection'"),
])
def test_conditional_training_is_refused_where_it_cannot_run(over, words):
    with pytest.raises(ConfigError, match=words):
        load_preset("digits-tiny").with_overrides(["model.conditional=projection", *over])


def test_a_conditional_config_naming_no_metrics_gets_the_class_metrics():
    from gankit.config import Config

    cfg = Config.from_dict({"data": {"name": "digits", "resolution": 28},
                            "model": {"g_arch": "dcgan", "d_arch": "dcgan",
                                      "conditional": "acgan"}})
    assert {"class_accuracy", "intra_fd", "fd_classifier"} <= set(cfg.eval.metrics)


def test_conditional_metrics_need_a_conditional_run():
    with pytest.raises(ConfigError, match="class_accuracy needs a class-conditional run"):
        load_preset("fashion-dcgan").with_overrides(["eval.metrics=[\"class_accuracy\"]"])
    load_preset("fashion-cgan")  # the preset names them, and may


# -- training with labels -------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [
    (),
    ("model.conditional=acgan", "train.pack=2", "train.ema=0.9", "train.k=2"),
    ("train.fresh_latents_for_g=false", "train.penalties={r1 = 1.0}"),
    ("model.g_arch=resnet", "model.d_arch=resnet", "model.conditional=acgan", "train.pack=2",
     "train.penalties={r1 = 1.0, r2 = 1.0}", "train.loss=rpgan"),
])
def test_conditional_runs_resume_bit_exactly(tmp_path, train_twice, extra):
    cfg = tiny_cfg(*extra)
    full, resumed = train_twice(cfg, 12)
    assert_same_state(full, resumed)
    if full.G_ema is not None:
        for k, v in full.G_ema.state_dict().items():
            assert torch.equal(v, resumed.G_ema.state_dict()[k]), k
    assert (tmp_path / "full/metrics.jsonl").read_text() == \
        (tmp_path / "half/metrics.jsonl").read_text()
    assert torch.equal(full.sample(20, 5), resumed.sample(20, 5))


def test_d_step_fakes_carry_the_real_batchs_labels_and_g_draws_the_datas(tmp_path):
    trainer = run.start(tiny_cfg(), None)
    seen = []
    G = trainer.nets.G_fast
    trainer.nets = trainer.nets.__class__(**{**trainer.nets.__dict__, "G_fast": lambda z, y: (
        seen.append(y), G(z, y))[1]})
    trainer.d_step()
    assert torch.equal(seen[0], trainer.cond.of_batch(trainer.sampler, 0))
    drawn = trainer.cond.draw(4000, torch.Generator().manual_seed(0), trainer.dist)
    share = torch.bincount(drawn, minlength=10).float() / 4000
    data = torch.bincount(trainer.cond.labels, minlength=10).float() / len(trainer.cond.labels)
    assert (share - data).abs().max() < 0.03


def test_acgan_classifier_learns_the_classes(tmp_path):
    """The auxiliary classifier's cross-entropy is in D's loss: after a short run D classifies
    real digits far above chance (10 %)."""
    cfg = tiny_cfg("model.conditional=acgan", "train.steps=150", "model.d_width=16")
    trainer = run.start(cfg, None)
    run.train_run(trainer)
    x = trainer.sampler.data[:512]
    y = trainer.cond.labels[:512]
    trainer.D.eval()
    with torch.no_grad():
        _, classes = trainer.D(x, y, with_classes=True)
    assert (classes.argmax(1) == y).float().mean() > 0.5


# -- sampling -------------------------------------------------------------------------------------
def test_sampling_by_class_and_its_errors(tmp_path):
    cfg = tiny_cfg()
    trainer = run.start(cfg, tmp_path / "r")
    run.train_run(trainer)
    from gankit.api import Run

    r = Run(trainer)
    threes = r.sample(8, seed=1, labels=[3] * 8)
    assert threes.shape == (8, 1, 28, 28)
    assert not torch.equal(threes, r.sample(8, seed=1, labels=[4] * 8))
    assert torch.equal(r.sample(10, seed=1), r.sample(10, seed=1, labels=cycle_labels(10, 10)))
    tight = r.sample(8, seed=1, labels=[3] * 8, truncation=0.5)
    assert tight.shape == threes.shape and not torch.equal(tight, threes)
    with pytest.raises(GankitError, match="out of range"):
        r.sample(2, labels=[0, 10])
    with pytest.raises(GankitError, match="one per sample"):
        r.sample(3, labels=[1, 2])
    plain = run.start(load_preset("digits-tiny").with_overrides(TINY[1:]), None)
    with pytest.raises(GankitError, match="unconditional"):
        Run(plain).sample(2, labels=[0, 1])


def test_cli_samples_one_class_and_a_class_grid(tmp_path):
    cfg = tiny_cfg("train.steps=6", "train.ckpt_every=6")
    run.train_run(run.start(cfg, tmp_path / "r"))
    cli = CliRunner()
    res = cli.invoke(app, ["sample", str(tmp_path / "r"), "--class", "3", "-n", "16",
                           "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 0, res.output
    assert "16 samples of class 3" in res.output
    res = cli.invoke(app, ["sample", str(tmp_path / "r"), "--class", "all", "-n", "5",
                           "--out", str(tmp_path / "all.png")])
    assert res.exit_code == 0, res.output
    grid = Image.open(tmp_path / "all.png")  # 10 rows of 5 images of 28 px, pad 2, scale 2
    assert grid.size == (2 * (2 + 5 * 30), 2 * (2 + 10 * 30))
    res = cli.invoke(app, ["sample", str(tmp_path / "r"), "--class", "10", "--out",
                           str(tmp_path / "y.png")])
    assert res.exit_code != 0 and "out of range" in res.output and "0..9" in res.output
    plain = load_preset("digits-tiny").with_overrides([*TINY[1:], "train.steps=6",
                                                        "train.ckpt_every=6"])
    run.train_run(run.start(plain, tmp_path / "plain"))
    res = cli.invoke(app, ["sample", str(tmp_path / "plain"), "--class", "3", "--out",
                           str(tmp_path / "z.png")])
    assert res.exit_code != 0 and "class-conditional run" in res.output


def test_cli_latent_walks_keep_the_asked_class(tmp_path):
    cfg = tiny_cfg("train.steps=6", "train.ckpt_every=6")
    run.train_run(run.start(cfg, tmp_path / "r"))
    cli = CliRunner()
    walks = {}
    for c in ("3", "4"):
        res = cli.invoke(app, ["sample", str(tmp_path / "r"), "--interpolate", "5", "-n", "2",
                               "--class", c, "--seed", "7", "--out", str(tmp_path / f"{c}.npy")])
        assert res.exit_code == 0, res.output
        assert f"2 latent walks of class {c} of 5 frames" in res.output
        walks[c] = np.load(tmp_path / f"{c}.npy")
    assert walks["3"].shape == (2, 5, 1, 28, 28)
    assert not np.array_equal(walks["3"], walks["4"])  # same latents, another class
    from gankit.api import open_run

    r = open_run(tmp_path / "r")
    same = (r.interpolate(5, walks=2, seed=7, labels=[3, 3]) + 1) / 2  # .npy: in [0, 1]
    assert torch.allclose(same, torch.from_numpy(walks["3"]), atol=1e-6)  # the CLI's walks
    res = cli.invoke(app, ["sample", str(tmp_path / "r"), "--interpolate", "4", "-n", "1",
                           "--class", "all", "--out", str(tmp_path / "all.png")])
    assert res.exit_code == 0 and "per class" in res.output, res.output
    grid = Image.open(tmp_path / "all.png")  # a walk per row: 10 classes × 4 frames
    assert grid.size == (2 * (2 + 4 * 30), 2 * (2 + 10 * 30))
    res = cli.invoke(app, ["sample", str(tmp_path / "r"), "--interpolate", "4", "--class",
                           "12", "--out", str(tmp_path / "bad.gif")])
    assert res.exit_code != 0 and "out of range" in res.output


def test_requested_labels():
    assert requested(None, 4, 10) is None
    assert requested("2", 3, 10).tolist() == [2, 2, 2]
    assert requested("all", 2, 3).tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(GankitError, match="not a class number"):
        requested("sandal", 2, 10, ("T-shirt", "Sandal"))


# -- labels from folders and from Python ----------------------------------------------------------
def class_folder(root: Path, classes=("cats", "dogs", "owls"), per_class: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for i, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for j in range(per_class):
            pixels = np.clip(rng.normal(40 + 80 * i, 20, (32, 32)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{j}.png")
    return root


def test_a_folders_sub_folders_are_its_classes(tmp_path):
    from gankit.data.folder import load_folder

    data = load_folder(class_folder(tmp_path / "pics"), 28, 1)
    assert data.class_names == ("cats", "dogs", "owls")
    assert data.train_y.tolist() == [0] * 12 + [1] * 12 + [2] * 12
    cfg = load_preset("folder-dcgan").with_overrides(
        [*TINY[:4], "data.channels=1", "data.resolution=28", f"data.data_dir={tmp_path / 'pics'}",
         "train.batch_size=12", "train.steps=2", "data.n_train=36"])
    trainer = run.start(cfg, None)
    assert trainer.cond.n_classes == 3
    run.train_run(trainer)
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(flat / "a.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(flat / "b.png")
    assert load_folder(flat, 28, 1).train_y is None
    with pytest.raises(GankitError, match="needs class labels"):
        run.start(cfg.with_overrides({"data.data_dir": str(flat), "train.batch_size": 2,
                                      "data.n_train": 2}), None)


def test_fit_takes_item_label_datasets_and_pairs(tmp_path):
    import gankit
    from gankit.data.digits import load_digits_set

    digits = load_digits_set(28)
    x = digits.train_x[:256].float() / 127.5 - 1
    y = digits.train_y[:256]

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return x[i], int(y[i])

    over = {"model.conditional": "acgan", "model.g_width": 8, "model.d_width": 8,
            "prior.dim": 16, "train.batch_size": 32, "train.steps": 3, "eval.metrics": []}
    for data in (Pairs(), (x, y)):
        r = gankit.fit("dcgan", "dcgan", data, overrides=over, progress=False)
        assert r.trainer.cond.n_classes == 10
        assert torch.equal(r.trainer.cond.labels.cpu(), y)
        assert r.sample(4, labels=[9, 9, 9, 9]).shape == (4, 1, 28, 28)
    with pytest.raises(GankitError, match="needs class labels"):
        gankit.fit("dcgan", "dcgan", x, overrides=over, progress=False)
    # the run folder keeps the number of classes: it samples by class without the data
    gankit.fit("dcgan", "dcgan", (x, y), overrides=over, out=tmp_path / "py", progress=False)
    res = CliRunner().invoke(app, ["sample", str(tmp_path / "py"), "--class", "9", "-n", "4",
                                   "--out", str(tmp_path / "nines.npy")])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "nines.npy").shape == (4, 1, 28, 28)
    res = CliRunner().invoke(app, ["sample", str(tmp_path / "py"), "--class", "10", "--out",
                                   str(tmp_path / "x.npy")])
    assert res.exit_code != 0 and "0..9" in res.output


# -- metrics --------------------------------------------------------------------------------------
FASHION = Path("/usr/share/datasets/fashion-mnist")


def real_in_asked_order(n: int):
    """A Fashion-MNIST task, and n of its real test images ordered as a conditional run's
    evaluation samples are asked for (the classes in turn), and the same images shuffled."""
    from gankit.data.images import to_range
    from gankit.tasks import build_task

    task = build_task(load_preset("fashion-cgan").with_overrides({"data.n_train": 64}))
    per = [torch.nonzero(task.data.test_y == c)[:, 0] for c in range(10)]
    order = torch.stack([p[: n // 10] for p in per], 1).reshape(-1)
    real = to_range(task.data.test_x[order], task.pixel_range)
    return task, real, real[torch.randperm(n, generator=torch.Generator().manual_seed(0))]


needs_fashion = pytest.mark.skipif(not FASHION.is_dir(),
                                   reason="package dataset-fashion-mnist not installed")


@needs_fashion
def test_class_accuracy_of_real_images_in_and_out_of_order():
    """Real images asked for their own classes: near the classifier's test accuracy (0.93);
    asked for shuffled classes: chance."""
    from gankit.metrics import compute

    task, real, wrong = real_in_asked_order(1000)
    assert compute(["class_accuracy"], real, real, task)["class_accuracy"] > 0.88
    assert compute(["class_accuracy"], wrong, wrong, task)["class_accuracy"] < 0.2


@pytest.mark.slow
@needs_fashion
def test_intra_fd_of_real_images_in_and_out_of_order():
    from gankit.metrics import compute

    task, real, wrong = real_in_asked_order(2000)
    good = compute(["intra_fd"], real, real, task)
    bad = compute(["intra_fd"], wrong, wrong, task)
    assert good["intra_fd_mean"] <= good["intra_fd_worst"] < bad["intra_fd_mean"] / 3
    json.dumps(good)


# -- torchrun (gloo, CPU) -------------------------------------------------------------------------
#: The conditional digits run, as overrides of the toy preset the DDP helper starts from.
DDP = ["data.name=digits", "data.resolution=28", "model.g_arch=dcgan", "model.d_arch=dcgan",
       "data.n_train=512", *TINY[:4], "train.batch_size=32", "train.log_every=5",
       "train.ckpt_every=10", "train.frame_every=1000", "eval.metrics=[]", "train.pack=2"]


def test_two_ranks_train_a_conditional_run_alike_and_it_resumes_on_one(tmp_path):
    """Each rank's images and labels are its slice of the global batch, packed by two (BatchNorm
    statistics are per rank, so the run is not the one-process run); the ranks end identical,
    and the two-process checkpoint resumes in one process and trains on."""
    from ddp_worker import launch

    two = launch(2, DDP, tmp_path / "two", tmp_path / "out", steps=10)
    assert [r["local_batch"] for r in two] == [16, 16]
    for k, v in two[0]["state"].items():
        assert torch.equal(v, two[1]["state"][k]), k
    on_one = launch(1, DDP, tmp_path / "two", tmp_path / "out1", steps=14, resume=True)
    assert on_one[0]["step"] == 14
    moved = max((on_one[0]["state"][k].float() - two[0]["state"][k].float()).abs().max()
                for k in two[0]["state"])
    assert moved > 1e-4


@needs_fashion
def test_the_conditional_fashion_preset_trains_and_samples_a_class_from_the_command_line(
        tmp_path):
    """`gankit train fashion-cgan --steps 20`, then `gankit sample RUN --class 3 -n 16 --out
    x.png` (a smaller evaluation than the preset's, to keep the test short)."""
    cli = CliRunner()
    res = cli.invoke(app, ["train", "fashion-cgan", "--steps", "20", "--out",
                           str(tmp_path / "run"), "data.n_train=2000", "eval.n_samples=500",
                           "eval.metrics=[\"class_accuracy\", \"intra_fd\"]"])
    assert res.exit_code == 0, res.output
    measured = json.loads((tmp_path / "run/metrics.json").read_text())
    assert 0 <= measured["class_accuracy"] <= 1 and measured["intra_fd_worst"] > 0
    res = cli.invoke(app, ["sample", str(tmp_path / "run"), "--class", "3", "-n", "16",
                           "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "x.png").size == (2 * (2 + 4 * 30),) * 2


@pytest.mark.slow
def test_a_compiled_conditional_run_trains(tmp_path):
    """torch.compile (static shapes) with labels: an AC-GAN D packing two samples, its tuple of
    logits and class logits, trains and samples by class."""
    trainer = run.start(tiny_cfg("model.conditional=acgan", "train.pack=2", "train.compile=true",
                                 "train.steps=4"), tmp_path / "r")
    assert trainer.fast.compile
    assert run.train_run(trainer)
    assert trainer.sample(4, labels=[1, 1, 2, 2]).shape == (4, 1, 28, 28)
