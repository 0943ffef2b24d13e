"""gankit lab's training side: a lab run is an ordinary gankit run (saved, it resumes bit for bit),
its frames hold what the page draws, the theory panel's numbers obey Proposition 1 and
Theorem 1, and the training thread obeys the page's commands and survives a failing run."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gankit.cli import app
from gankit.lab import theory_panel
from gankit.lab.controls import validate_run
from gankit.lab.frames import GRID_RES, N_ARROWS, N_SAMPLES, FrameMaker
from gankit.lab.session import LabRun, build_config, loss_names

#: Small nets and batches: a lab run of the ring in a second.
SMALL = {"batch_size": 64}


def lab_run(**controls) -> LabRun:
    settings = validate_run({**SMALL, **controls}, loss_names())
    cfg = build_config(settings, seed=3).with_overrides(
        {"model.g_width": 32, "model.d_width": 32, "data.n_train": 2000, "eval.n_samples": 300})
    return LabRun(cfg, settings["data"])


def test_lab_run_trains_and_logs():
    run = lab_run()
    assert run.log() is None  # nothing trained yet
    for _ in range(5):
        run.train_step()
    record = run.log()
    assert run.step == 5 and record["step"] == 5
    assert all(math.isfinite(record[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert run.log() is None and len(run.records) == 1
    d = run.d_values(np.zeros((7, 2), np.float32))
    assert d.shape == (7,) and ((d > 0) & (d < 1)).all()


def test_critic_values_are_scores():
    run = lab_run(loss="hinge", pack=2)
    assert run.critic and not run.cross_entropy
    for _ in range(3):
        run.train_step()
    points = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32) * 3
    scores = run.d_values(points)
    assert scores.shape == (50,) and np.isfinite(scores).all()
    logits = torch.logit(run.trainer.discriminate(torch.from_numpy(points)).double()).numpy()
    assert np.allclose(scores, logits.ravel(), atol=1e-3)  # the same D, before the sigmoid


def test_frames_hold_what_the_page_draws():
    run = lab_run(data="grid")
    maker = FrameMaker(run)
    first = maker.make(with_value=True)
    assert first["arrows_from"] is None and len(first["samples"]) == 2 * N_SAMPLES
    assert len(first["d"]) == len(first["d_star"]) == GRID_RES**2
    assert all(0 <= v <= 1 for v in first["d"] + first["d_star"])
    m = first["metrics"]
    assert m["n_modes"] == 25 and len(m["shares"]) == 25 and 0 <= m["hq"] <= 1
    assert sum(m["shares"]) == pytest.approx(1.0 if m["hq"] else 0.0, abs=0.01)
    assert -math.log(4) - 0.05 <= first["c_of_g"] <= 1e-9
    for _ in range(3):
        run.train_step()
    second = maker.make(with_value=False)
    assert len(second["arrows_from"]) == 2 * N_ARROWS and "c_of_g" not in second
    assert second["arrows_from"] == first["samples"][:2 * N_ARROWS]  # same latent draws
    background = maker.background()
    assert len(background["centres"]) == 50 and background["critic"] is False


def test_mixture_of_your_own():
    run = lab_run(data="mixture", mixture="0, 0; 3, 0, 3", mixture_std=0.1)
    assert run.mixture.n_modes == 2 and run.mixture.std == pytest.approx(0.1)
    assert run.mixture.weights.tolist() == pytest.approx([0.25, 0.75])


def _mixture_and_bandwidth():
    run = lab_run()
    return run.mixture, FrameMaker(run).bandwidth


def test_optimal_d_and_value_when_g_matches_the_data():
    """Prop. 1 and Thm 1 at p_g = p_data: D* = ½ where the data are, C(G) = -log 4."""
    mixture, h = _mixture_and_bandwidth()
    samples = mixture.sample(N_SAMPLES, torch.Generator().manual_seed(1)).numpy()
    p_data, p_g = theory_panel.smoothed_pair(mixture, samples, h)
    at_modes = theory_panel.optimal_d(p_data, p_g, mixture.centres.numpy())
    assert np.abs(at_modes - 0.5).max() < 0.15
    value, se = theory_panel.value_at_optimum(p_data, p_g, seed=0)
    assert abs(value + math.log(4)) < 0.02 and se < 0.01


def test_optimal_d_and_value_when_g_misses_the_data():
    """G's samples far from every mode: D* = 1 on the modes, C(G) = 0 (JSD = log 2)."""
    mixture, h = _mixture_and_bandwidth()
    samples = np.full((N_SAMPLES, 2), 5.0, np.float32)
    p_data, p_g = theory_panel.smoothed_pair(mixture, samples, h)
    assert theory_panel.optimal_d(p_data, p_g, mixture.centres.numpy()).min() > 0.999
    assert theory_panel.value_at_optimum(p_data, p_g, seed=0)[0] == pytest.approx(0, abs=1e-6)


def test_theorem_check_sides_agree(monkeypatch):
    """C(G) by Monte Carlo and -log 4 + 2·JSD by quadrature, for a G covering half the modes."""
    monkeypatch.setattr(theory_panel, "QUADRATURE_POINTS", 101)  # converged here, and faster
    mixture, h = _mixture_and_bandwidth()
    samples = mixture.sample(2 * N_SAMPLES, torch.Generator().manual_seed(2)).numpy()
    half = samples[samples[:, 0] > 0.1][:N_SAMPLES]
    result = theory_panel.theorem_check(*theory_panel.smoothed_pair(mixture, half, h), seed=0)
    assert -math.log(4) < result["c_of_g"] < -0.5  # between collapse and a perfect G
    assert abs(result["c_of_g"] - result["rhs"]) < 4 * result["c_of_g_se"] + 2e-3
    assert 0 < result["jsd"] < math.log(2)


def test_saved_run_is_an_ordinary_run_folder(tmp_path):
    """resume / eval / sample accept it, and resuming continues bit for bit as the lab does."""
    run = lab_run(loss="minimax", k=2)
    for _ in range(12):
        run.train_step()
        if run.step % 4 == 0:
            run.log()
    folder = run.save(tmp_path, "ring, minimax")
    assert folder.parent == tmp_path and folder.name == "ring-minimax-seed3-step12"
    names = {p.name for p in folder.iterdir()}
    assert {"config.toml", "checkpoint.pt", "metrics.jsonl", "samples.png", "losses.png",
            ".gankit-run"} <= names
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 3
    assert run.trainer.run_dir is None  # the lab run goes on without a folder
    assert run.save(tmp_path, "again").name == "ring-minimax-seed3-step12-2"
    for _ in range(4):
        run.train_step()
    cli = CliRunner()
    result = cli.invoke(app, ["resume", str(folder), "--steps", "16"])
    assert result.exit_code == 0, result.output
    resumed = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert resumed["step"] == 16
    for name, value in run.trainer.G.state_dict().items():
        assert torch.equal(resumed["G"][name], value), name
    assert cli.invoke(app, ["eval", str(folder)]).exit_code == 0
    assert json.loads((folder / "metrics.json").read_text())["step"] == 16
    out = tmp_path / "s.npy"
    assert cli.invoke(app, ["sample", str(folder), "-n", "10", "--out", str(out)]).exit_code == 0
    assert np.load(out).shape == (10, 2)


# -- the training thread -------------------------------------------------------------------------
def wait_for(condition, seconds: float = 30.0, what: str = "the condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def engine(tmp_path, monkeypatch):
    from gankit.lab import engine as engine_module

    small = {**engine_module.SECOND_RUN, "unroll": 1}
    monkeypatch.setattr(engine_module, "SECOND_RUN", small)
    e = engine_module.Engine(tmp_path)
    e.start()
    e.wait_ready()
    yield e
    e.stop()
    assert not e.thread.is_alive()


def step_of(e, run="a"):
    return e.snapshot()[2][run].frame["step"] if e.snapshot()[2][run].frame else None


def test_engine_pause_step_apply_compare(engine):
    wait_for(lambda: (step_of(engine) or 0) > 2, what="training")
    engine.command("pause").result(10)
    paused = step_of(engine)
    time.sleep(0.5)
    assert step_of(engine) == paused and engine.snapshot()[1]["running"] is False
    engine.command("step").result(10)
    assert step_of(engine) == paused + 1
    settings = engine.configure("a", {**SMALL, "loss": "least_squares"}, seed=5)
    assert settings["loss"] == "least_squares"
    wait_for(lambda: engine.snapshot()[2]["a"].run.cfg.train.loss == "least_squares"
             and engine.snapshot()[2]["a"].frame is not None, what="the new loss")
    slot = engine.snapshot()[2]["a"]
    assert slot.run.cfg.train.seed == 5 and slot.frame["step"] == 0 and slot.background["critic"]
    engine.command("compare", on=True).result(30)
    engine.command("play").result(10)
    wait_for(lambda: (step_of(engine, "b") or 0) > 2, what="run B")
    engine.command("pause").result(10)
    assert step_of(engine, "a") == step_of(engine, "b")  # lockstep
    assert engine.snapshot()[2]["b"].run.cfg.train.unroll == 1


def test_engine_reports_a_failing_run_and_goes_on(engine, monkeypatch):
    from gankit.errors import GankitError

    wait_for(lambda: step_of(engine), what="a first frame")

    def diverge(self):
        raise GankitError("the discriminator's loss is NaN")

    monkeypatch.setattr(LabRun, "train_step", diverge)
    wait_for(lambda: engine.snapshot()[2]["a"].error, what="the error")
    assert "NaN" in engine.snapshot()[2]["a"].error and engine.thread.is_alive()
    monkeypatch.undo()
    engine.command("reset").result(30)
    assert engine.snapshot()[2]["a"].error is None
    with pytest.raises(GankitError, match="not running"):
        engine.command("save", run="b").result(30)
