"""The one cell rule (gankit.bench.cells): when a stored benchmark cell is re-used, continued to
more steps or trained again, for `gankit bench` and every script in benchmarks/."""

import ast
import json
import shlex
from pathlib import Path

import pytest

from gankit.bench.cells import decide
from gankit.bench.runner import cell_config, make_plan
from gankit.bench.suites import STACKED, TOY
from gankit.config import Config

ROOT = Path(__file__).resolve().parent.parent
BASE = Config().with_overrides({"train.steps": 100, "description": "a cell"})


def toml(**overrides) -> str:
    return BASE.with_overrides({k.replace("__", "."): v for k, v in overrides.items()}).to_toml()


@pytest.mark.parametrize("stored, wanted, action, words", [
    (toml(), toml(), "reuse", "the same config"),
    (toml(), toml(train__steps=300), "continue", "100 of 300 steps"),
    (toml(train__steps=300), toml(), "longer", "300 steps stored, 100 wanted"),
    (toml(), toml(train__lr_g=0.5), "retrain", "train.lr_g"),
    (toml(), toml(train__steps=300, train__lr_g=0.5), "retrain", "train.lr_g"),
    (toml(), toml(description="reworded prose"), "reuse", "the same config"),
    (toml(train__ckpt_every=7), toml(), "reuse", "checkpoint or frame interval"),
    (toml(train__ckpt_every=30), toml(train__steps=300, train__ckpt_every=300), "continue",
     "100 of 300"),
    (None, toml(), "retrain", "no stored cell"),
    ("not = toml = at all", toml(), "retrain", "cannot be read"),
])
def test_the_rule(stored, wanted, action, words):
    verdict = decide(stored, wanted)
    assert verdict.action == action and words in verdict.reason, verdict


def test_a_field_added_since_at_its_default_is_the_same_but_not_at_another_value():
    assert "unroll = 0\n" in toml()
    written_before = toml().replace("unroll = 0\n", "")  # as stored before train.unroll existed
    assert decide(written_before, toml()).action == "reuse"
    packed = toml(train__pack=2, train__batch_size=128)
    assert decide(packed.replace("pack = 2\n", ""), packed).action == "retrain"  # 2 is no default
    removed = toml() + "\n[extra]\nold_field = 1\n"  # a field gankit no longer has
    assert decide(removed, toml()).action == "reuse"


def test_a_setting_now_unset_is_another_config():
    """A stored field whose wanted value is None (TOML writes nothing) is a difference."""
    assert decide(toml(data__std=0.02), toml()).action == "retrain"


def test_the_measurement_outside_the_config_must_match_too():
    same = decide(toml(), toml(), {"curve_every": 500}, {"curve_every": 500})
    assert same.action == "reuse"
    other = decide(toml(), toml(train__steps=300), {"curve_every": 500}, {"curve_every": 250})
    assert other.action == "retrain" and "curve_every" in other.reason
    assert decide(toml(), toml(), None, {"minutes": 30}).action == "retrain"


def test_pacgan_batch_scaling_is_kept_and_a_cell_without_it_is_retrained():
    """PacGAN-m cells hold batch_size packs of m samples; a stored cell with batch_size samples
    (the near-copy that lost the scaling) is another experiment."""
    plan = make_plan(STACKED, seeds=1, steps=50, protocol="mnist")
    by_name = {m.name: m for m in plan.methods}
    base = cell_config(plan, "stacked", by_name["GAN"], 0)
    for name, m in (("PacGAN2", 2), ("PacGAN4", 4)):
        cfg = cell_config(plan, "stacked", by_name[name], 0)
        assert (cfg.train.pack, cfg.train.batch_size) == (m, m * base.train.batch_size)
        unscaled = cfg.with_overrides({"train.batch_size": base.train.batch_size})
        verdict = decide(unscaled.to_toml(), cfg.to_toml())
        assert verdict.action == "retrain" and "train.batch_size" in verdict.reason
    toy = make_plan(TOY, seeds=1, steps=50)
    pac4 = next(m for m in toy.methods if m.pack == 4)
    assert cell_config(toy, "grid", pac4, 0).train.batch_size == 4 * (
        cell_config(toy, "grid", toy.methods[0], 0).train.batch_size)


def _kept_command(path: Path) -> dict[str, str]:
    words = shlex.split(path.read_text().replace("\\\n", " "), comments=True)
    options = {}
    for i, word in enumerate(words):
        if word.startswith("--") and i + 1 < len(words) and not words[i + 1].startswith("--"):
            options.setdefault(word, words[i + 1])
    return options


@pytest.mark.parametrize("section", ["stacked-mnist", "stacked-mnist-pacgan"])
def test_the_kept_stacked_mnist_cells_are_reused_by_their_kept_command(section):
    """Re-running a kept section command retrains nothing: every stored cell is `reuse` for the
    options of benchmarks/results/<section>-command.sh."""
    from benchmarks import stacked_mnist

    options = _kept_command(ROOT / "benchmarks" / "results" / f"{section}-command.sh")
    preset = options.get("--preset", stacked_mnist.DEFAULT_PRESET)
    records = sorted((ROOT / "benchmarks" / "results" / section).glob("*-seed*.json"))
    assert records
    for path in records:
        stored = json.loads(path.read_text())
        verdict, _ = stacked_mnist.kept_cell(stored["method"], stored["seed"],
                                             int(options["--steps"]),
                                             int(options["--curve-every"]),
                                             int(options["--curve-samples"]), preset)
        assert verdict.action == "reuse", (path.name, verdict)


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)}


@pytest.mark.parametrize("path", ["gankit/bench/runner.py", "gankit/bench/curves.py",
                                  "benchmarks/stacked_mnist.py", "benchmarks/images.py"])
def test_every_suite_and_script_that_keeps_cells_asks_the_rule(path):
    """The places that decide whether a stored cell stands call gankit.bench.cells.decide and
    compare no configs themselves."""
    source = (ROOT / path).read_text()
    assert "decide" in _calls(ROOT / path)
    for own_rule in ("same_config", "_without_length", "_continuation_key", 'done["config"] =='):
        assert own_rule not in source, (path, own_rule)


def test_cells_are_built_and_reopened_only_through_gankit_run():
    """No bench module builds a trainer itself or reads a checkpoint behind gankit.run's back
    (its writer lock, trust check and config reconciliation)."""
    from gankit.train.loop import Trainer

    assert not hasattr(Trainer, "from_checkpoint")
    for path in [*(ROOT / "gankit" / "bench").glob("*.py"), ROOT / "benchmarks" /
                 "stacked_mnist.py", ROOT / "benchmarks" / "images.py"]:
        calls = _calls(path)
        assert "Trainer" not in calls and "load_checkpoint" not in calls, path.name


def test_kept_records_round_trip_and_a_damaged_one_is_not_trusted(tmp_path):
    from gankit.bench.cells import keep_record, kept_record

    folder = tmp_path / "kept"
    assert kept_record(folder, "a") is None and kept_record(None, "a") is None
    keep_record(folder, "a", {"config": "x = 1", "row": {"fd": 2.5}})
    assert kept_record(folder, "a") == {"config": "x = 1", "row": {"fd": 2.5}}
    assert not list(folder.glob(".*.tmp"))  # written whole, nothing left beside it
    (folder / "b.json").write_text('{"config": "x = 1", "row": {"fd"')  # cut short
    (folder / "c.json").write_text('["not a record"]')
    assert kept_record(folder, "b") is None and kept_record(folder, "c") is None
