"""`gankit bench`: cells, resumption, tables, the command line."""

import json
import math

import pytest
from typer.testing import CliRunner

from gankit.bench import runner as bench_runner
from gankit.bench.runner import cell_config, cells, make_plan, run_plan, slug
from gankit.bench.suites import SUITES, TOY, Method, Protocol, Suite
from gankit.bench.tables import markdown, mean_std, stats, summarize, write_outputs
from gankit.cli import app
from gankit.errors import ConfigError, GankitError

TINY_PRESET = """description = "tiny grid for tests"
[data]
name = "grid"
n_train = 2000
[model]
g_width = 16
d_width = 16
g_depth = 2
d_depth = 2
[train]
steps = 200
batch_size = 32
[eval]
n_samples = 200
"""


@pytest.fixture
def tiny_suite(tmp_path):
    preset = tmp_path / "tiny.toml"
    preset.write_text(TINY_PRESET)
    return Suite(
        name="tiny", datasets=("grid",),
        methods=(Method("GAN", published="GAN"), Method("PacGAN2", {"train.pack": 2}, pack=2,
                                                        published="PacGAN2")),
        protocols={"p": Protocol("p", {"grid": str(preset)}, 400_000, "a tiny test protocol")},
        metrics=("modes", "hq_fraction", "reverse_kl"), published=TOY.published,
        quick={"steps": 5, "seeds": 1, "n_samples": 100}, figure_data="grid")


def test_the_toy_suite_has_every_method_on_both_data_sets():
    plan = make_plan(TOY, seeds=5)
    names = [m.name for m in plan.methods]
    assert names == ["GAN", "Unrolled K=5", "Unrolled K=10", "PacGAN2", "PacGAN3", "PacGAN4",
                     "WGAN", "WGAN-GP"]
    assert len(cells(plan)) == 2 * 8 * 5
    assert plan.protocol.name == "demo"


def test_cell_configs_follow_the_protocol_and_the_method():
    plan = make_plan(TOY, seeds=1, steps=1234, protocol="pacgan")
    pac3 = cell_config(plan, "grid", TOY.methods[4], seed=2)
    assert (pac3.train.pack, pac3.train.batch_size) == (3, 300)  # 100 packs of 3 samples
    assert pac3.model.d_arch == "maxout" and pac3.train.betas_g == (0.8, 0.999)
    assert (pac3.train.steps, pac3.train.seed, pac3.train.threads) == (1234, 2, 1)
    wgan = cell_config(plan, "ring", TOY.methods[6], seed=0)
    assert (wgan.train.loss, wgan.train.clip, wgan.train.optimizer, wgan.train.k) == \
        ("wasserstein", 0.01, "rmsprop", 5)
    unrolled = cell_config(plan, "grid", TOY.methods[2], seed=0)
    assert unrolled.train.unroll == 10


def test_unknown_suite_and_protocol_are_user_errors():
    with pytest.raises(ConfigError, match="unknown benchmark suite 'tyo'.*did you mean 'toy'"):
        from gankit.bench.suites import get_suite

        get_suite("tyo")
    with pytest.raises(ConfigError, match="no protocol 'paper'"):
        make_plan(TOY, protocol="paper")
    with pytest.raises(GankitError, match="--seeds"):
        make_plan(TOY, seeds=0)


def test_a_second_run_reuses_finished_cells(tiny_suite, tmp_path, monkeypatch):
    plan = make_plan(tiny_suite, seeds=2, steps=5)
    seen = []
    first = run_plan(plan, tmp_path / "out", 1, lambda k, r, reused: seen.append((k, reused)))
    assert len(first) == 4 and not any(reused for _, reused in seen)
    assert len(list((tmp_path / "out/cells").glob("*.json"))) == 4

    def must_not_train(cell, folder):
        raise AssertionError(f"{cell.key} was trained again")

    monkeypatch.setattr(bench_runner, "run_cell", must_not_train)
    seen.clear()
    again = run_plan(plan, tmp_path / "out", 1, lambda k, r, reused: seen.append((k, reused)))
    assert again == first and all(reused for _, reused in seen)

    # a third seed trains only the new cells; other steps make every old cell stale
    trained = []
    monkeypatch.setattr(bench_runner, "run_cell",
                        lambda cell, folder: trained.append(cell.key) or first[0])
    run_plan(make_plan(tiny_suite, seeds=3, steps=5), tmp_path / "out", 1)
    assert sorted(trained) == ["grid__gan__seed2", "grid__pacgan2__seed2"]
    trained.clear()
    run_plan(make_plan(tiny_suite, seeds=1, steps=6), tmp_path / "out", 1)
    assert len(trained) == 2


def test_mean_std_formatting():
    assert mean_std(stats([1.0, 2.0, 3.0]), digits=2) == "2.00 ± 1.00"
    assert mean_std(stats([0.5]), scale=100, digits=1) == "50.0"
    assert mean_std(stats([0.1, math.inf, 0.3]), digits=1) == "0.2 ± 0.1 (1 × ∞)"
    assert mean_std(stats([math.inf])) == "∞"


def fake_results(plan):
    rows = []
    for c in cells(plan):
        base = 20.0 if c.method.name == "GAN" else 24.0
        rows.append({"data": c.data, "method": c.method.name, "seed": c.seed, "steps": 5,
                     "train_seconds": 10.0 + c.seed, "steps_per_second": 1.0,
                     "metrics": {"modes": base + c.seed, "hq_fraction": 0.9,
                                 "reverse_kl": math.inf if c.seed == 1 else 0.05}})
    return rows


def test_table_has_our_numbers_and_the_published_ones_side_by_side(tiny_suite):
    plan = make_plan(tiny_suite, seeds=2, steps=5)
    table = markdown(plan, summarize(plan, fake_results(plan)))
    lines = table.splitlines()
    assert lines[0] == "**grid**"
    assert lines[2] == ("| method | steps | seeds | modes | HQ % | reverse KL | s / run | "
                        "paper modes | paper HQ % | paper reverse KL |")
    assert lines[4] == ("| GAN | 5 (paper 400,000) | 2 | 20.5 ± 0.7 | 90.0 ± 0.0 | "
                        "0.050 (1 × ∞) | 10 ± 1 | *17.3* | *94.8* | *0.700* |")
    assert lines[5].startswith("| PacGAN2 | 5 (paper 400,000) | 2 | 24.5 ± 0.7 |")
    assert lines[5].endswith("| *23.8* | *91.3* | *0.130* |")


def test_outputs_are_strict_json_csv_and_markdown(tiny_suite, tmp_path):
    plan = make_plan(tiny_suite, seeds=2, steps=5)
    info = {"command": "gankit bench tiny", "machine": "test", "date": "today", "jobs": 1,
            "wall_seconds": 60.0}
    paths = write_outputs(plan, fake_results(plan), tmp_path, info)
    data = json.loads(paths["json"].read_text(), parse_constant=pytest.fail)
    assert data["summary"][0]["metrics"]["modes"]["mean"] == 20.5
    assert data["cells"][1]["metrics"]["reverse_kl"] == "inf"
    csv_lines = paths["csv"].read_text().splitlines()
    assert csv_lines[0] == ("data,method,seed,steps,modes,hq_fraction,reverse_kl,"
                            "train_seconds,steps_per_second")
    assert len(csv_lines) == 5
    assert "Command: `gankit bench tiny`" in paths["table"].read_text()


def test_bench_command_end_to_end(tiny_suite, tmp_path, monkeypatch):
    monkeypatch.setitem(SUITES, "tiny", tiny_suite)
    result = CliRunner().invoke(app, ["bench", "tiny", "--quick", "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "b").iterdir()}
    assert {"table.md", "results.csv", "results.json", "panel_grid.png", "cells"} <= names
    assert "| GAN | 5 (paper 400,000) | 1 |" in (tmp_path / "b/table.md").read_text()
    from gankit.bench.tables import table_from_results  # what benchmarks/modes.py reads

    results = json.loads((tmp_path / "b/results.json").read_text())
    assert table_from_results(results) in (tmp_path / "b/table.md").read_text()
    again = CliRunner().invoke(app, ["bench", "tiny", "--quick", "--out", str(tmp_path / "b")])
    assert again.output.count("(re-used)") == 2  # one progress line per cell
    assert "2 cells re-used from an earlier invocation" in (tmp_path / "b/table.md").read_text()


def test_bench_command_user_error_is_one_line():
    result = CliRunner().invoke(app, ["bench", "nosuch"])
    assert result.exit_code == 2
    assert "unknown benchmark suite 'nosuch'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow  # two spawned worker processes each import torch: ~15 s on 2 cores
def test_parallel_processes_give_the_same_results_as_one(tiny_suite, tmp_path):
    plan = make_plan(tiny_suite, seeds=1, steps=5)
    serial = run_plan(plan, tmp_path / "one", 1)
    parallel = run_plan(plan, tmp_path / "two", 2)
    strip = [{k: v for k, v in r.items() if k not in ("train_seconds", "steps_per_second")}
             for r in serial]
    assert strip == [{k: v for k, v in r.items() if k not in ("train_seconds",
                                                               "steps_per_second")}
                     for r in parallel]


def test_every_cell_of_every_suite_has_its_own_file():
    """Regression: "Unrolled K=10, D ½" and "…, D ¼" once shared one result file."""
    for suite in SUITES.values():
        for protocol in suite.protocols:
            keys = [c.key for c in cells(make_plan(suite, seeds=2, protocol=protocol))]
            assert len(set(keys)) == len(keys), (suite.name, protocol)
    assert "half" in slug("GAN, D ½") and "quarter" in slug("PacGAN4, D ¼")
