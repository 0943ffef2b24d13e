import pytest

from gankit.config import Config, load_preset, parse_value, preset_descriptions, preset_names
from gankit.errors import ConfigError


def test_presets_load_and_have_descriptions():
    assert {"toy-grid", "toy-ring"} <= set(preset_names())
    for name, text in preset_descriptions().items():
        assert text, f"preset {name} has no description"


def test_toml_round_trip():
    cfg = load_preset("toy-grid").with_overrides(["train.lr_milestones=[10, 20]",
                                                  "data.std=0.1", "train.betas_g=[0.0, 0.9]"])
    again = Config.from_toml(cfg.to_toml())
    assert again == cfg
    assert again.train.lr_milestones == (10, 20) and again.train.betas_g == (0.0, 0.9)


def test_overrides_are_typed():
    cfg = Config().with_overrides(["train.k=3", "train.lr_g=2e-4", "model.g_batchnorm=true",
                                   "prior.name=uniform", "train.lr_d=1"])
    assert cfg.train.k == 3 and cfg.train.lr_g == 2e-4 and cfg.model.g_batchnorm is True
    assert cfg.prior.name == "uniform" and isinstance(cfg.train.lr_d, float)


def test_parse_value():
    assert parse_value("3") == 3 and parse_value("[1, 2]") == [1, 2]
    assert parse_value("grid") == "grid" and parse_value("true") is True


@pytest.mark.parametrize(("override", "message"), [
    ("train.lr_gg=1", "did you mean 'train.lr_g'"),
    ("trian.k=2", "did you mean 'train.k'"),
    ("model.widht=3", "unknown config key 'model.widht'"),
    ("train.k=0", r"train.k = 0 is out of range: must be ≥ 1"),
    ("train.lr_d=-0.1", r"train.lr_d = -0.1 is out of range: must be > 0"),
    ("train.batch_size=0", r"train.batch_size = 0 is out of range: must be ≥ 1"),
    ("train.k=two", "train.k expects an integer, got 'two'"),
    ("train.loss=nonsaturatin", "did you mean 'nonsaturating'"),
    ("train.betas_g=[0.5]", "expects 2 values"),
    ("train.ema=1.0", r"in \[0, 1\)"),
    ("eval.metrics=['modes', 'mods']", "unknown metric 'mods'"),
    ("data.name=mixture", "data.means"),
    ("k=2", "did you mean 'train.k'"),
])
def test_bad_overrides_get_clear_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        Config().with_overrides([override])


def test_override_without_equals():
    with pytest.raises(ConfigError, match="not of the form key=value"):
        Config().with_overrides(["train.k"])


def test_mixture_validation():
    ok = Config().with_overrides({"data.name": "mixture", "data.means": [[0, 0], [1, 1]],
                                  "data.weights": [1, 2]})
    assert ok.data.means == ((0.0, 0.0), (1.0, 1.0))
    with pytest.raises(ConfigError, match="one per mode"):
        ok.with_overrides({"data.weights": [1.0]})
    with pytest.raises(ConfigError, match="common, non-zero length"):
        ok.with_overrides({"data.means": [[0, 0], [1]]})


def test_unknown_key_in_a_toml_file():
    with pytest.raises(ConfigError, match="did you mean 'train.steps'"):
        Config.from_toml("[train]\nstepz = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.from_toml("[train\n")


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ConfigError, match="available: .*toy-grid"):
        load_preset("toy-gird")
    with pytest.raises(ConfigError, match="did you mean 'toy-grid'"):
        load_preset("toy-gird")
