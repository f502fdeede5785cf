import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.model.calibration import Calibration
from conflictclf.data.errors import ModelError
from conflictclf.train.calibration import ece, fit_calibration
from tests.conftest import tiny_records

runner = CliRunner()


def _overconfident(n=4000, seed=0, shift=1.0):
    """Labels drawn from true probabilities, scores pushed away from them (too confident, shifted up)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, size=(n, 2))
    y = (rng.random((n, 2)) < 1 / (1 + np.exp(-z))).astype(float)
    raw = 1 / (1 + np.exp(-(2.5 * z + shift)))
    return y, raw


@pytest.mark.parametrize("method", ["platt", "temperature"])
def test_fit_lowers_ece_and_keeps_order(method):
    # a temperature can only undo overconfidence, not a shift; Platt undoes both
    y, raw = _overconfident(shift=0.0 if method == "temperature" else 1.0)
    cal = fit_calibration(y[:2000], raw[:2000], method)
    before, after = ece(y[2000:], raw[2000:]), ece(y[2000:], cal.apply(raw[2000:]))
    assert (after < before / 2).all(), (before, after)
    assert np.allclose(cal.scale, 1 / 2.5, atol=0.08)
    if method == "temperature":
        assert (cal.bias == 0).all()
    else:
        assert np.allclose(cal.bias, -1 / 2.5, atol=0.15)
    order = np.argsort(raw[:, 0], kind="stable")
    assert (np.diff(cal.apply(raw)[order, 0]) >= 0).all()


def test_ece_of_perfectly_calibrated_scores_is_small_and_of_wrong_ones_large():
    rng = np.random.default_rng(1)
    p = rng.random((20000, 1))
    y = (rng.random((20000, 1)) < p).astype(float)
    assert ece(y, p)[0] < 0.02
    assert ece(y, np.clip(p + 0.3, 0, 1))[0] > 0.2


def test_thresholds_map_keeps_every_decision():
    y, raw = _overconfident()
    cal = fit_calibration(y, raw)
    th = np.array([0.37, 0.66])
    assert ((raw >= th) == (cal.apply(raw) >= cal.map_thresholds(th))).all()


def test_label_with_few_positives_keeps_raw_scores():
    y = np.zeros((50, 1))
    y[:2] = 1
    cal = fit_calibration(y, np.full((50, 1), 0.9))
    assert cal.scale[0] == 1 and cal.bias[0] == 0


def test_corrupt_or_reversing_calibration_is_refused():
    labels = ["a"]
    with pytest.raises(ModelError, match="positive"):
        Calibration.from_meta({"calibration": {"labels": {"a": {"scale": -1.0, "bias": 0.0}}}}, labels)
    with pytest.raises(ModelError, match="corrupt calibration"):
        Calibration.from_meta({"calibration": {"labels": {}}}, labels)
    assert Calibration.from_meta({}, labels) is None


def test_trained_model_is_calibrated_and_decides_as_uncalibrated(tiny_model, tmp_path):
    from conflictclf.model.classifier import EventClassifier

    meta = json.loads((tiny_model / "conflictclf.json").read_text())
    assert set(meta["calibration"]["labels"]) == set(meta["labels"])
    assert meta["calibration"]["fitted_on"] == "dev"
    texts = [r["text"] for r in tiny_records()]
    plain = tmp_path / "plain"
    shutil.copytree(tiny_model, plain)
    m = json.loads((plain / "conflictclf.json").read_text())
    # a calibration that clearly moves the scores, so the test could fail
    m["calibration"] = {"method": "platt", "labels": {lab: {"scale": 0.5, "bias": 1.5} for lab in m["labels"]}}
    (plain / "conflictclf.json").write_text(json.dumps(m))
    cal = EventClassifier.from_pretrained(plain, backend="torch")
    m.pop("calibration")
    (plain / "conflictclf.json").write_text(json.dumps(m))
    raw = EventClassifier.from_pretrained(plain, backend="torch")
    assert raw.calibration is None
    p_cal, p_raw = cal.predict_proba(texts), raw.predict_proba(texts)
    assert not np.allclose(p_cal, p_raw)
    assert [p.labels for p in cal.predict(texts)] == [p.labels for p in raw.predict(texts)]
    assert np.allclose(raw.thresholds, raw.raw_thresholds)
    assert not np.allclose(cal.thresholds, cal.raw_thresholds)


def test_calibrate_cli_on_an_uncalibrated_model_then_evaluate(tiny_model, tiny_corpus, tmp_path):
    model = tmp_path / "old"
    shutil.copytree(tiny_model, model)
    meta = json.loads((model / "conflictclf.json").read_text())
    meta.pop("calibration")  # a model from before calibration existed
    (model / "conflictclf.json").write_text(json.dumps(meta))

    r = runner.invoke(app, ["evaluate", str(tiny_corpus), "--model", str(model), "-o", str(tmp_path / "e0")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "e0" / "metrics.json").read_text())["calibration_error"]["after"] is None

    r = runner.invoke(app, ["calibrate", str(model), "--data", str(tiny_corpus)])
    assert r.exit_code == 0, r.output + r.stderr
    assert "ECE before" in r.stdout and "saved calibration" in r.stdout
    assert "calibration" in json.loads((model / "conflictclf.json").read_text())

    r = runner.invoke(app, ["evaluate", str(tiny_corpus), "--model", str(model), "-o", str(tmp_path / "e1")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "e1" / "reliability.png").stat().st_size > 1000
    m0 = json.loads((tmp_path / "e0" / "metrics.json").read_text())
    m1 = json.loads((tmp_path / "e1" / "metrics.json").read_text())
    assert m1["metrics"] == m0["metrics"]  # same decisions, same scores of them
    assert set(m1["calibration_error"]["after"]) == set(meta["labels"]) | {"mean"}
    assert "calibrated" in r.stdout


def test_calibrate_cli_errors_are_one_line(tmp_path):
    r = runner.invoke(app, ["calibrate", str(tmp_path / "nope")])
    assert r.exit_code != 0 and r.stderr.strip().startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


def test_a_steep_calibration_cannot_tie_a_decision():
    """Decisions come from the raw scores: a steep map rounds near-threshold scores together."""
    from conflictclf.model.classifier import EventClassifier

    clf = EventClassifier(tokenizer=None, backend=None, labels=["a"], thresholds=[0.5],
                          calibration=Calibration("platt", np.array([148.0]), np.array([40.0])))
    raw = np.array([[0.49], [0.51]], dtype=np.float32)
    probs = clf._calibrated(raw)
    assert probs[0, 0] == probs[1, 0] == clf.thresholds[0] == 1.0  # all three round to 1.0
    assert [p.labels for p in clf.decide(probs, raw=raw)] == [[], ["a"]]
