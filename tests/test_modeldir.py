"""The model directory: save_pretrained, atomic directory writes and the one metadata writer."""

import json
import shutil

import numpy as np
import pytest

from conflictclf.model.classifier import EventClassifier
from conflictclf.data.errors import ModelError
from conflictclf.model.modeldir import read_meta, update_meta, write_model_dir

TEXTS = ["militia fired rockets at the base", "minister held ceasefire talks", "the group vowed revenge"]


def test_save_pretrained_unchanged_is_the_same_model(tiny_exported_model, tmp_path):
    clf = EventClassifier.from_pretrained(tiny_exported_model, backend="torch")
    out = clf.save_pretrained(tmp_path / "copy")
    assert read_meta(out) == read_meta(tiny_exported_model)  # calibration fit record and int8 verdict kept
    assert (out / "onnx" / "model-int8.onnx").is_file() and (out / "README.md").is_file()
    again = EventClassifier.from_pretrained(out, backend="torch")
    np.testing.assert_array_equal(again.predict_proba(TEXTS), clf.predict_proba(TEXTS))
    assert EventClassifier.from_pretrained(out).backend.name == EventClassifier.from_pretrained(
        tiny_exported_model).backend.name


def test_save_pretrained_keeps_new_thresholds_and_calibration(tiny_exported_model, tmp_path):
    clf = EventClassifier.from_pretrained(tiny_exported_model, backend="torch")
    clf.raw_thresholds = np.array([0.31, 0.42, 0.53, 0.64])
    clf.calibration = None
    out = clf.save_pretrained(tmp_path / "tuned")
    meta = read_meta(out)
    assert meta["thresholds"] == dict(zip(clf.labels, [0.31, 0.42, 0.53, 0.64]))
    assert "calibration" not in meta
    # the int8 verdict was measured at the old thresholds: it no longer holds, so auto leaves int8 off
    assert "export" not in meta and EventClassifier.from_pretrained(out).backend.name == "onnx"
    again = EventClassifier.from_pretrained(out, backend="torch")
    assert [p.labels for p in again.predict(TEXTS)] == [p.labels for p in clf.predict(TEXTS)]
    assert read_meta(tiny_exported_model)["thresholds"] != meta["thresholds"]  # the source is untouched


def test_save_pretrained_in_place_rewrites_only_the_metadata(tiny_model, tmp_path):
    from conflictclf.model.calibration import Calibration

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    weights = (d / "model.safetensors").stat()
    clf = EventClassifier.from_pretrained(d, backend="torch")
    clf.calibration = Calibration("temperature", np.full(4, 0.5), np.zeros(4))
    clf.save_pretrained(d)
    stored = json.loads((d / "conflictclf.json").read_text())["calibration"]
    assert stored["method"] == "temperature" and stored["labels"]["attack"] == {"scale": 0.5, "bias": 0.0}
    assert "ece" not in stored  # the old map's fit record does not describe the new map
    assert (d / "model.safetensors").stat().st_mtime_ns == weights.st_mtime_ns
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no staging folder left behind


def test_write_model_dir_refuses_a_folder_that_is_not_a_model(tmp_path):
    target = tmp_path / "docs"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ModelError, match="not a conflictclf model; refusing"):
        write_model_dir(target, lambda tmp: (tmp / "config.json").write_text("{}"), {"labels": []})
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]


def test_write_model_dir_replaces_a_model_whole_or_not_at_all(tiny_model, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)

    def broken(tmp):
        (tmp / "config.json").write_text("{}")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_model_dir(d, broken, {"labels": []})
    assert read_meta(d) == read_meta(tiny_model)  # the old model, intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_update_meta_sets_and_removes_entries(tiny_model, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    update_meta(d, {"export": {"int8_used": False}, "note": "x"})
    assert read_meta(d)["export"] == {"int8_used": False} and read_meta(d)["note"] == "x"
    update_meta(d, {"note": None})
    assert "note" not in read_meta(d) and read_meta(d)["labels"] == read_meta(tiny_model)["labels"]
    with pytest.raises(ModelError, match="not a conflictclf model directory"):
        update_meta(tmp_path, {"note": "x"})
