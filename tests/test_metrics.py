import numpy as np
from sklearn.metrics import f1_score

from conflictclf.train.metrics import apply_thresholds, multi_hot, report, tune_thresholds


def test_tuned_threshold_separates_classes():
    y = np.array([[1], [1], [0], [0]])
    p = np.array([[0.35], [0.30], [0.20], [0.10]])
    th = tune_thresholds(y, p)
    assert 0.20 < th[0] <= 0.30
    assert (apply_thresholds(p, th) == y).all()


def test_label_without_positives_keeps_half():
    assert tune_thresholds(np.zeros((3, 1)), np.array([[0.9], [0.1], [0.4]]))[0] == 0.5


def test_report_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(50, 3))
    pred = rng.integers(0, 2, size=(50, 3))
    rep = report(y, pred, ["a", "b", "c"])
    assert np.isclose(rep["macro_f1"], f1_score(y, pred, average="macro"))
    assert np.isclose(rep["per_label"]["b"]["f1"], f1_score(y[:, 1], pred[:, 1]))
    assert rep["per_label"]["c"]["support"] == int(y[:, 2].sum())
    assert rep["exact_match"] == float((y == pred).all(axis=1).mean())


def test_multi_hot():
    assert multi_hot([["b"], [], ["a", "b"]], ["a", "b"]).tolist() == [[0, 1], [0, 0], [1, 1]]


def test_tolerance_keeps_the_preferred_threshold_on_a_flat_curve():
    # F1 is 1.0 for any cut in (0.3, 0.7]; with exact ties only, the one nearest 0.5 wins
    y = np.array([[1], [1], [0], [0]])
    p = np.array([[0.8], [0.71], [0.3], [0.1]])
    assert tune_thresholds(y, p)[0] == 0.5
    assert tune_thresholds(y, p, prefer=0.65)[0] == 0.65
    # one positive just below the preferred cut: within the tolerance it stays, beyond it moves
    p2 = np.array([[0.8], [0.6], [0.3], [0.1]])
    assert tune_thresholds(y, p2, prefer=0.65, tolerance=0.5)[0] == 0.65
    assert tune_thresholds(y, p2, prefer=0.65, tolerance=0.0)[0] == 0.6
