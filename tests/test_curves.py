"""Benchmarks over training time (unrolled GAN's ring, PacGAN's grid): the paper protocol's
pieces, cells that continue and re-use, the mode-hop count, and `gankit bench unrolled --quick`
end to end."""

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call
from typer.testing import CliRunner

from gankit.bench.curves import mode_hops, run_curve_cell, tail_metrics
from gankit.bench.runner import Cell, make_plan
from gankit.bench.suites import Method, get_suite
from gankit.config import ConfigError, load_preset
from gankit.nets import build_discriminator, build_generator
from gankit.rundir import RunInUseError
from gankit.tasks import build_task
from gankit.train.loop import Trainer
from gankit.train.optim import FunctionalOptimizer
from gankit.train.unrolled import unrolled_g_loss, unrolled_parameters


def test_the_unrolled_preset_is_the_papers_ring_and_nets():
    cfg = load_preset("toy-ring-unrolled")
    mix = build_task(cfg).mixture
    radii = mix.centres.norm(dim=1)
    assert torch.allclose(radii, torch.full((8,), 2.0, dtype=torch.float64))
    angles = torch.atan2(mix.centres[:, 1], mix.centres[:, 0]) % (2 * math.pi)
    expected = torch.arange(8, dtype=torch.float64) * 2 * math.pi / 8
    assert torch.allclose(angles.sort().values, expected, atol=1e-12)  # 8 distinct centres
    assert mix.std == 0.02 and cfg.prior.dim == 256 and cfg.train.loss == "minimax"
    assert (cfg.train.batch_size, cfg.train.lr_g, cfg.train.lr_d) == (512, 1e-4, 1e-4)


def test_orthogonal_init_with_gain_and_ds_input_scale():
    torch.manual_seed(0)
    cfg = load_preset("toy-ring-unrolled")
    G, D = build_generator(cfg, (2,)), build_discriminator(cfg, (2,))
    linears = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(128, 256), (128, 128), (2, 128)]
    for m in linears:  # rows orthonormal times the gain (each has fewer rows than columns)
        w = m.weight.detach().double()
        assert torch.allclose(w @ w.T, 0.64 * torch.eye(w.shape[0], dtype=torch.float64),
                              atol=1e-5)
        assert not m.bias.any()
    x = torch.randn(16, 2)
    inner = D.body[1]  # after the Scale(1/4)
    assert torch.equal(D(x), inner(x * 0.25).squeeze(-1))
    with pytest.raises(ConfigError, match="data.radius"):
        cfg.with_overrides({"data.radius": 0.0})
    with pytest.raises(ConfigError, match="model.init"):
        cfg.with_overrides({"model.init": "xavier"})


def small_unrolled(*extra):
    cfg = load_preset("toy-ring-unrolled").with_overrides(
        ["train.batch_size=32", "data.n_train=500", "prior.dim=8", "model.g_width=16",
         "model.d_width=16", "train.unroll=3", "train.lr_d=0.01", *extra])
    tr = Trainer(cfg, build_task(cfg))
    tr.fit(3)  # moments in D's optimizer
    return tr


def test_the_unrolled_generator_loss_is_f_of_the_unrolled_discriminator():
    """Minimax: G descends f(θ_G, θ_D^K) = -(D's loss) at θ_D^K, real-data term included
    (Metz et al. eq. 6); without that term the gradient differs."""
    tr = small_unrolled()
    z = tr.sample_z(32)

    def grads(loss_fn):
        tr.G.zero_grad()
        loss_fn().backward()
        return torch.cat([p.grad.flatten() for p in tr.G.parameters()])

    def paper_f():
        fake = tr.G(z)
        real = tr.sampler.batch(tr.d_batches - 1)
        w = unrolled_parameters(tr.D, real, fake, tr.objective, 3,
                                FunctionalOptimizer.mirror(tr.opt_d, tr.D))
        return -tr.objective.d_loss(functional_call(tr.D, w, (real,)),
                                    functional_call(tr.D, w, (fake,)))

    ours = grads(lambda: unrolled_g_loss(tr, tr.G(z)))
    assert torch.allclose(ours, grads(paper_f), rtol=1e-4, atol=1e-7)
    tr.cfg = tr.cfg.with_overrides({"train.unroll_real_term": False})
    fake_only = grads(lambda: unrolled_g_loss(tr, tr.G(z)))
    assert (fake_only - ours).abs().max() > 1e-3 * ours.abs().max()


def test_mode_hops_count_a_rotation_not_a_spread():
    def row(step, counts):
        return {"step": step, "hq_counts": counts, "n_samples": 100}

    rotating = [row(0, [90, 0, 0]), row(1, [0, 80, 5]), row(2, [0, 0, 70]), row(3, [60, 0, 0])]
    assert mode_hops(rotating) == 3
    spread = [row(i, [30, 30, 30]) for i in range(4)]
    assert mode_hops(spread) == 0
    assert mode_hops([row(0, [0, 0, 0]), row(1, [50, 0, 0])]) == 0


def test_tail_metrics_average_the_last_evaluations():
    curve = [{"step": s, "modes": s, "hq_fraction": 0.5, "reverse_kl": 1.0}
             for s in range(0, 101, 10)]
    assert tail_metrics(curve, 100, 0.2)["modes"] == pytest.approx(90.0)  # 80, 90, 100
    curve[-1]["reverse_kl"] = 3.0
    curve[-2]["reverse_kl"] = math.inf  # no HQ sample there: left out, and counted
    tail = tail_metrics(curve, 100, 0.2)
    assert tail["reverse_kl"] == pytest.approx(2.0) and tail["no_hq_share"] == pytest.approx(1 / 3)
    for r in curve:
        r["reverse_kl"] = math.inf
    assert tail_metrics(curve, 100, 0.2)["reverse_kl"] == math.inf


TINY = ["model.g_width=16", "model.d_width=16", "data.n_train=500", "train.batch_size=32",
        "eval.n_samples=200", "train.ckpt_every=10", "train.log_every=5",
        "train.frame_every=10", "train.threads=1"]


def cell(steps):
    cfg = load_preset("toy-grid").with_overrides([*TINY, f"train.steps={steps}"])
    # the prose description quotes the step count, as generated descriptions do
    cfg = cfg.with_overrides({"description": f"tiny grid, {steps} steps"})
    return Cell("grid", Method("GAN"), 0, cfg.to_toml())


def test_a_curve_cell_continues_to_more_steps_and_reads_fewer_off_its_curve(tmp_path):
    (tmp_path / "fresh").mkdir()
    fresh = run_curve_cell(cell(30), tmp_path / "fresh", 10)
    folder = tmp_path / "grown"
    folder.mkdir()
    short = run_curve_cell(cell(20), folder, 10)
    assert [r["step"] for r in short["curve"]] == [0, 10, 20]
    kept = folder / "grid__gan__seed0" / "samples" / "kept.txt"
    kept.write_text("a retrain would delete this")
    grown = run_curve_cell(cell(30), folder, 10)  # continues from the step-20 checkpoint
    assert kept.exists()  # continued, not retrained, though its description changed
    assert [r["step"] for r in grown["curve"]] == [0, 10, 20, 30]
    assert grown["curve"] == fresh["curve"]  # as if trained in one go
    saved = (folder / "grid__gan__seed0" / "samples" / "step_0000030.npy")
    assert np.load(saved).shape == (200, 2)
    again = run_curve_cell(cell(20), folder, 10)  # fewer steps: read off the curve
    assert again["curve"] == short["curve"] and again["steps"] == 20


def test_the_curve_suites_are_registered():
    plan = make_plan(get_suite("unrolled"), seeds=3)
    assert [m.name for m in plan.methods] == ["GAN", "Unrolled K=5", "Unrolled K=10"]
    assert plan.protocol.paper_steps == 12_500
    grid = make_plan(get_suite("pacgan-grid"), seeds=3)
    assert [m.pack for m in grid.methods] == [1, 2, 4]


def test_bench_unrolled_quick_end_to_end(tmp_path):
    """`gankit bench unrolled --quick`: three methods evaluated along 200 steps, the table and
    the three figures; a second invocation re-uses every cell."""
    from gankit.cli import app

    out = tmp_path / "u"
    result = CliRunner().invoke(app, ["bench", "unrolled", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = (out / "table.md").read_text()
    for name in ("GAN", "Unrolled K=5", "Unrolled K=10", "mode hops"):
        assert name in table
    for png in ("scatter_grid.png", "mode_shares.png", "curves.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "results.json").read_text())
    assert [r["step"] for r in report["cells"][0]["curve"]] == [0, 50, 100, 150, 200]
    again = CliRunner().invoke(app, ["bench", "unrolled", "--quick", "--out", str(out)])
    assert again.exit_code == 0 and again.output.count("(re-used)") == 3
    # --finished-only: a second seed is asked for, nothing is trained, the table has seed 0
    part = CliRunner().invoke(app, ["bench", "unrolled", "--quick", "--seeds", "2",
                                    "--finished-only", "--out", str(out)])
    assert part.exit_code == 0 and part.output.count("(re-used)") == 3, part.output
    assert not (out / "cells" / "ring__gan__seed1").exists()
    refused = CliRunner().invoke(app, ["bench", "toy", "--finished-only", "--out", str(out)])
    assert refused.exit_code == 2 and "--finished-only" in refused.output


def test_a_cell_being_trained_elsewhere_is_refused_not_shared(tmp_path):
    """A second writer on one cell (another invocation, or a worker a killed one left behind)
    gets one line naming the holder instead of interleaving two trainings in one folder."""
    c = cell(20)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from gankit import rundir; rundir.lock_run(Path(sys.argv[1]), 'first bench', "
         "name=sys.argv[2]); print('held', flush=True); time.sleep(60)",
         str(tmp_path), f"{c.key}.lock"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUseError, match="first bench"):
            run_curve_cell(c, tmp_path, 10)
        assert not (tmp_path / c.key).exists()  # nothing written
    finally:
        holder.kill()
        holder.wait()
    assert [r["step"] for r in run_curve_cell(c, tmp_path, 10)["curve"]] == [0, 10, 20]


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_stop_when_the_bench_process_is_killed():
    """Killing `gankit bench` (even with SIGKILL) must not leave its workers training on."""
    parent = subprocess.Popen(
        [sys.executable, "-c", "import time; from gankit.bench.engine import run_parallel; "
         "list(run_parallel(time.sleep, [(120,), (120,)], jobs=2))"])
    try:
        deadline = time.time() + 60
        while len(_children(parent.pid)) < 3 and time.time() < deadline:  # 2 workers + tracker
            time.sleep(0.2)
        workers = _children(parent.pid)
        assert workers
        parent.kill()
        parent.wait()
        deadline = time.time() + 20
        while any(Path(f"/proc/{w}").exists() and "Z" not in _state(w) for w in workers) \
                and time.time() < deadline:
            time.sleep(0.2)
        assert not [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in _state(w)]
    finally:
        parent.kill()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
