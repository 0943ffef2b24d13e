"""One path for every kind of plug-in: a loss, a penalty and a metric returning two values,
registered from Python only, work in gankit.fit, in `gankit eval RUN --metrics` and in a bench
suite's table, with no gankit file edited."""

from __future__ import annotations

import json

import torch
from torch.nn.functional import softplus
from typer.testing import CliRunner

import gankit
from gankit.bench.runner import make_plan, run_plan
from gankit.bench.suites import TOY, Method, Protocol, Suite
from gankit.bench.tables import markdown, summarize
from gankit.cli import app
from gankit.registry import LOSSES, METRICS, PENALTIES, MetricValue

TINY = {"train.log_every": 5, "train.ckpt_every": 10, "train.frame_every": 10,
        "train.batch_size": 32, "eval.n_samples": 100, "model.g_width": 16, "model.d_width": 16}
PRESET = """description = "tiny grid, plug-in test"
[data]
name = "grid"
n_train = 1000
[model]
g_width = 16
d_width = 16
[train]
steps = 6
batch_size = 32
loss = "plugin-relativistic"
[train.penalties]
plugin-r1 = 0.5
[eval]
n_samples = 100
metrics = ["modes", "plugin-spread"]
"""


def rel_d(real, fake):
    return softplus(-(real - fake)).mean()


def rel_g(real, fake):
    return softplus(-(fake - real)).mean()


def r1(D, real, fake, generator):
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grad.square().flatten(1).sum(1).mean() / 2


def spread(fake, real, task):
    return {"plugin_spread_x": float(fake[:, 0].std()), "plugin_spread_y": float(fake[:, 1].std())}


if "plugin-relativistic" not in LOSSES:
    gankit.register_loss("plugin-relativistic", gankit.Objective(rel_d, rel_g, g_uses_real=True),
                         critic=True)
if "plugin-r1" not in PENALTIES:
    gankit.register_penalty("plugin-r1", r1)
if "plugin-spread" not in METRICS:
    gankit.register_metric("plugin-spread", spread, values=(
        MetricValue("plugin_spread_x", True, "spread x"),
        MetricValue("plugin_spread_y", True, "spread y", digits=2)))


def test_fit_uses_the_loss_the_penalty_and_both_values(tmp_path):
    run = gankit.fit(config="toy-grid", steps=6, out=tmp_path / "r", overrides={
        **TINY, "train.loss": "plugin-relativistic", "train.penalties": {"plugin-r1": 0.5},
        "eval.metrics": ["plugin-spread"]})
    assert run.config.train.loss == "plugin-relativistic"
    log = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[0])
    assert log["plugin-r1"] > 0
    assert run.metrics["plugin_spread_x"] > 0 and run.metrics["plugin_spread_y"] > 0


def test_eval_re_evaluates_an_old_run_with_a_new_metric(tmp_path):
    gankit.fit(config="toy-grid", steps=4, out=tmp_path / "r",
               overrides={**TINY, "eval.metrics": ["w1"]})
    assert "plugin_spread_x" not in json.loads((tmp_path / "r" / "metrics.json").read_text())
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "r"),
                                      "--metrics", "plugin-spread,modes"])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert {"plugin_spread_x", "plugin_spread_y", "modes"} <= set(written)
    bad = CliRunner().invoke(app, ["eval", str(tmp_path / "r"), "--metrics", "plugin-sprad"])
    assert bad.exit_code != 0 and "did you mean 'plugin-spread'" in bad.output


def test_a_bench_suite_table_shows_the_plugins(tmp_path):
    preset = tmp_path / "plugin.toml"
    preset.write_text(PRESET)
    suite = Suite(
        name="plugins", datasets=("grid",),
        methods=(Method("RpGAN+R1", published="GAN"),
                 Method("RpGAN+R1, R1×4", {"train.penalties": {"plugin-r1": 2.0}})),
        protocols={"p": Protocol("p", {"grid": str(preset)}, 400_000, "a plug-in protocol")},
        metrics=("modes", "plugin-spread"), published=TOY.published,
        quick={"steps": 6, "seeds": 1, "n_samples": 100}, figure_data="grid")
    plan = make_plan(suite, seeds=1, steps=6)
    results = run_plan(plan, tmp_path / "out", 1)
    table = markdown(plan, summarize(plan, results))
    header = next(line for line in table.splitlines() if line.startswith("| method"))
    assert "spread x" in header and "spread y" in header and "modes" in header
    assert len([line for line in table.splitlines() if line.startswith("| RpGAN")]) == 2
