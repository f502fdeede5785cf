import pytest

from conflictclf.model.errors import ConfigError
from conflictclf.train.config import TrainConfig, parse_overrides


def test_every_field_has_help():
    helps = TrainConfig.field_help()
    assert set(helps) == set(TrainConfig().to_dict())
    assert all(h.strip() for h in helps.values())


def test_toml_then_overrides(tmp_path):
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[train]\nepochs = 3\nlearning_rate = 2e-5\nlabels = ["a", "b"]\n')
    cfg = TrainConfig.load(cfg_file, parse_overrides(["--epochs", "5", "--batch-size=8"]))
    assert (cfg.epochs, cfg.learning_rate, cfg.batch_size, cfg.labels) == (5, 2e-5, 8, ["a", "b"])


def test_override_list_from_string():
    assert TrainConfig.load(None, {"labels": "x, y"}).labels == ["x", "y"]


@pytest.mark.parametrize("overrides, message", [
    ({"epochz": "3"}, "unknown config key 'epochz'"),
    ({"epochs": "three"}, "cannot read 'three' as int"),
    ({"epochs": "0"}, "epochs must be at least 1"),
    ({"class_weighting": "huge"}, "class_weighting must be"),
])
def test_bad_config(overrides, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.load(None, overrides)


def test_bad_toml(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3")
    with pytest.raises(ConfigError, match="invalid TOML"):
        TrainConfig.load(bad)


def test_override_needs_value():
    with pytest.raises(ConfigError, match="needs a value"):
        parse_overrides(["--epochs"])
