"""Joint training: role spans as a second objective for the sentence encoder."""

from __future__ import annotations

import pytest
from safetensors import safe_open

from conflictclf.data.errors import ConfigError
from tests.conftest import tiny_config, write_jsonl
from tests.test_roles import _records_with_roles


def _train(base, corpus, out, **kw) -> list[str]:
    from conflictclf.train.trainer import train

    logged: list[str] = []
    train(tiny_config(base, roles=False, **kw), [corpus], out, log=logged.append, progress=False)
    return logged


def _weights(folder):
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def test_the_role_loss_changes_the_encoder_and_leaves_a_plain_classifier(tiny_base, tmp_path):
    from transformers import AutoModelForSequenceClassification

    corpus = write_jsonl(tmp_path / "c.jsonl", _records_with_roles())
    alone = _train(tiny_base, corpus, tmp_path / "alone")
    joint = _train(tiny_base, corpus, tmp_path / "joint", role_loss_weight=0.5)
    assert not any(line.startswith("joint roles") for line in alone)
    assert any("joint roles: the encoder also learns the role spans (loss weight 0.5)" in line for line in joint)
    a, j = _weights(tmp_path / "alone"), _weights(tmp_path / "joint")
    assert set(a) == set(j) and not any("role" in k for k in j)  # the head was taken off before saving
    assert any(not (a[k] == j[k]).all() for k in a)  # same seed, same data: only the role loss differs
    assert "token head whose loss was weighted 0.5" in (tmp_path / "joint" / "README.md").read_text()
    assert "token head" not in (tmp_path / "alone" / "README.md").read_text()
    _, info = AutoModelForSequenceClassification.from_pretrained(tmp_path / "joint", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]


def test_without_role_spans_the_labels_train_alone_as_before(tiny_base, tiny_corpus, tmp_path):
    plain = _train(tiny_base, tiny_corpus, tmp_path / "plain")
    asked = _train(tiny_base, tiny_corpus, tmp_path / "asked", role_loss_weight=0.5)
    assert any("no training sentence carries role spans" in line for line in asked)
    assert not any("no training sentence" in line for line in plain)
    a, b = _weights(tmp_path / "plain"), _weights(tmp_path / "asked")
    assert all((a[k] == b[k]).all() for k in a)


def test_a_negative_role_loss_weight_is_refused():
    from conflictclf.train.config import TrainConfig

    with pytest.raises(ConfigError, match="role_loss_weight"):
        TrainConfig(role_loss_weight=-0.1)
