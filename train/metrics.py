"""Multi-label metrics and per-label threshold tuning (scikit-learn underneath)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def tune_thresholds(
    y_true: np.ndarray, probs: np.ndarray, low: float = 0.1, high: float = 0.9, step: float = 0.01,
    prefer: np.ndarray | float = 0.5, tolerance: float = 0.0,
) -> np.ndarray:
    """Per label, the threshold in [low, high] with the best F1 on (y_true, probs).

    Among thresholds whose F1 is within `tolerance` of the best, the one nearest `prefer`
    (per label, or one value for all) wins. With the defaults that only breaks exact ties,
    so a flat F1 curve on a small dev set does not push the cut-off to an extreme that the
    test data will not share; a second model of the same scores (the int8 copy) passes the
    first one's thresholds and a tolerance, so it moves only where its scores moved.
    """
    grid = np.round(np.arange(low, high + 1e-9, step), 4)
    prefer = np.broadcast_to(np.asarray(prefer, dtype=np.float64), (probs.shape[1],))
    out = np.array(prefer, dtype=np.float64)
    for j in range(probs.shape[1]):
        if y_true[:, j].sum() == 0:
            continue  # nothing to tune on: keep the preferred cut-off
        preds = probs[:, j][None, :] >= grid[:, None]
        tp = (preds & (y_true[:, j] == 1)).sum(axis=1)
        fp = (preds & (y_true[:, j] == 0)).sum(axis=1)
        fn = ((~preds) & (y_true[:, j] == 1)).sum(axis=1)
        f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
        best = np.flatnonzero((f1 >= f1.max() - tolerance) | np.isclose(f1, f1.max()))
        out[j] = grid[best[np.argmin(np.abs(grid[best] - prefer[j]))]]
    return out


def apply_thresholds(probs: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    return (probs >= np.asarray(thresholds)).astype(int)


def report(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict:
    """Per-label precision/recall/F1/support, micro and macro F1, exact-match ratio."""
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(labels))), average=None, zero_division=0
    )
    return {
        "per_label": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "exact_match": float(accuracy_score(y_true, y_pred)),
        "n": int(len(y_true)),
    }


def multi_hot(label_lists: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    index = {lab: i for i, lab in enumerate(labels)}
    out = np.zeros((len(label_lists), len(labels)), dtype=np.float32)
    for row, labs in enumerate(label_lists):
        for lab in labs:
            out[row, index[lab]] = 1.0
    return out
