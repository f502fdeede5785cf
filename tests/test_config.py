import pytest

from conflictclf.data.errors import ConfigError
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


@pytest.mark.parametrize("build", [
    lambda **kw: TrainConfig(**kw),
    lambda **kw: TrainConfig.from_dict(kw),
    lambda **kw: TrainConfig.load(None, kw),
])
def test_the_preset_applies_however_the_config_is_built_and_explicit_values_win(build):
    from conflictclf.train.basemodels import MINILM, MPNET

    fast = build(preset="fast")
    assert (fast.base_model, fast.learning_rate, fast.epochs, fast.bf16, fast.freeze_embeddings) == \
        (MINILM, 1e-4, 8, "false", False)
    assert fast.to_dict()["base_model"] == MINILM  # what the model directory records
    # an explicit value wins, even one equal to the other preset's default
    mixed = build(preset="fast", epochs=2, base_model=MPNET)
    assert (mixed.epochs, mixed.base_model, mixed.learning_rate) == (2, MPNET, 1e-4)
    assert build().base_model == MPNET and build().epochs == 3


def test_a_saved_config_rebuilds_the_same_config(tmp_path):
    import dataclasses

    fast = TrainConfig(preset="fast", epochs=3)
    assert TrainConfig.from_dict(fast.to_dict()) == fast
    assert dataclasses.replace(fast, seed=7).to_dict() == {**fast.to_dict(), "seed": 7}


def test_train_cli_preset_option(tmp_path):
    from conflictclf.train.basemodels import MINILM

    cfg = TrainConfig.load(None, parse_overrides(["--preset", "fast", "--learning-rate", "3e-5"]))
    assert (cfg.base_model, cfg.learning_rate, cfg.epochs) == (MINILM, 3e-5, 8)
