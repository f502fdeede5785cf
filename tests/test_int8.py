"""int8 as the decision function: thresholds tuned on its own scores, used only when as good as fp32."""

import json
import shutil

import numpy as np
import pytest

from conflictclf.data.corpus import by_split, load_records
from conflictclf.model import EventClassifier
from conflictclf.model.export import export_onnx
from conflictclf.train import int8 as int8_mod
from conflictclf.train.metrics import apply_thresholds, multi_hot, tune_thresholds


@pytest.fixture
def exported(tiny_model, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    export_onnx(d, int8=True)
    return d


def _splits(tiny_corpus):
    return by_split(load_records([tiny_corpus]))


def test_thresholds_are_tuned_on_int8_scores_and_recorded(exported, tiny_corpus):
    splits = _splits(tiny_corpus)
    decision = int8_mod.tune_int8(exported, splits["dev"], {"test": splits["test"]})
    meta = json.loads((exported / "conflictclf.json").read_text())
    labels = meta["labels"]
    # the recorded thresholds are those the int8 copy's own dev scores give, not fp32's
    int8 = EventClassifier.from_pretrained(exported, backend="onnx-int8")
    int8.calibration = None
    y = multi_hot([r.labels for r in splits["dev"]], labels)
    fp32_cut = np.asarray([meta["thresholds"][lab] for lab in labels])
    want = tune_thresholds(y, int8.predict_proba([r.text for r in splits["dev"]]), prefer=fp32_cut,
                           tolerance=int8_mod.DEV_TOLERANCE)
    assert meta["export"]["int8"]["thresholds"] == {lab: float(t) for lab, t in zip(labels, want)}
    assert meta["export"]["int8_decides"] is decision.decides
    assert decision.sentences == {"test": len(splits["test"]), "pooled": len(splits["test"])}
    # the recorded int8 test score is what int8 at those thresholds gets against gold
    y_test = multi_hot([r.labels for r in splits["test"]], labels)
    hits = apply_thresholds(int8.predict_proba([r.text for r in splits["test"]]), want)
    per_label = meta["export"]["int8"]["checks"]["test"]["int8"]
    from sklearn.metrics import f1_score

    assert per_label[labels[0]] == pytest.approx(f1_score(y_test[:, 0], hits[:, 0], zero_division=0), abs=1e-4)


def test_a_passing_int8_makes_the_decisions_with_its_own_thresholds(exported, tiny_corpus, monkeypatch):
    monkeypatch.setattr(int8_mod, "MAX_F1_LOSS", 10.0)  # any int8 passes
    splits = _splits(tiny_corpus)
    decision = int8_mod.tune_int8(exported, splits["dev"], {"test": splits["test"]})
    assert decision.decides
    clf = EventClassifier.from_pretrained(exported)
    assert clf.backend.name == "onnx-int8"
    assert clf.raw_thresholds.tolist() == [decision.thresholds[lab] for lab in clf.labels]
    # fp32 and the checked path keep the model's own thresholds
    meta = json.loads((exported / "conflictclf.json").read_text())
    for name in ("onnx", "onnx-int8-checked", "torch"):
        other = EventClassifier.from_pretrained(exported, backend=name)
        assert other.raw_thresholds.tolist() == [meta["thresholds"][lab] for lab in other.labels]
    assert "int8 makes the decisions" in decision.summary()


def test_a_failing_int8_leaves_auto_as_before(exported, tiny_corpus, monkeypatch):
    monkeypatch.setattr(int8_mod, "MAX_F1_LOSS", -10.0)  # no int8 can pass
    splits = _splits(tiny_corpus)
    decision = int8_mod.tune_int8(exported, splits["dev"], {"test": splits["test"]})
    assert not decision.decides and "does not decide" in decision.summary()
    assert EventClassifier.from_pretrained(exported).backend.name == "onnx"  # no margin verdict recorded either


def test_no_held_out_sentences_means_no_int8_decisions(exported, tiny_corpus, monkeypatch):
    monkeypatch.setattr(int8_mod, "MAX_F1_LOSS", 10.0)
    decision = int8_mod.tune_int8(exported, _splits(tiny_corpus)["dev"], {"test": []})
    assert not decision.decides and decision.sentences["pooled"] == 0
    assert "no labelled held-out sentences" in decision.summary()
    assert json.loads((exported / "conflictclf.json").read_text())["export"]["int8_decides"] is False


def test_saving_an_unchanged_int8_classifier_keeps_both_decisions(exported, tiny_corpus, monkeypatch, tmp_path):
    monkeypatch.setattr(int8_mod, "MAX_F1_LOSS", 10.0)
    splits = _splits(tiny_corpus)
    int8_mod.tune_int8(exported, splits["dev"], {"test": splits["test"]})
    before = json.loads((exported / "conflictclf.json").read_text())
    clf = EventClassifier.from_pretrained(exported)
    clf.save_pretrained(tmp_path / "copy")
    after = json.loads((tmp_path / "copy" / "conflictclf.json").read_text())
    assert after["thresholds"] == before["thresholds"] and after["export"] == before["export"]
    # a changed threshold becomes the model's, and the int8 verdict no longer describes it
    clf.raw_thresholds = np.asarray(clf.raw_thresholds) + 0.01
    clf.save_pretrained(tmp_path / "changed")
    changed = json.loads((tmp_path / "changed" / "conflictclf.json").read_text())
    assert "export" not in changed
    assert list(changed["thresholds"].values()) == pytest.approx(clf.raw_thresholds.tolist())


def test_worst_loss_covers_macro_and_every_label():
    fp32 = {"macro_f1": 0.8, "per_label": {"a": {"f1": 0.9}, "b": {"f1": 0.7}}}
    int8 = {"macro_f1": 0.81, "per_label": {"a": {"f1": 0.95}, "b": {"f1": 0.68}}}
    assert int8_mod._worst_loss(fp32, int8) == pytest.approx(0.02)
