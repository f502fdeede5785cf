"""Fit per-label calibration on dev, measure expected calibration error, draw reliability diagrams.

The map itself (and how a model applies it) lives in conflictclf.model.calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conflictclf.model.calibration import META_KEY, Calibration
from conflictclf.model.scores import logit
from conflictclf.data.errors import DataError

METHODS = ("platt", "temperature")
# Equal-width bins for ECE and the reliability diagram: the usual 10, so figures compare
# with published ones; fewer would hide miscalibration, more leave bins empty on a dev set.
ECE_BINS = 10
# Below this many positives on dev a label keeps its raw scores: two parameters fitted on a
# handful of examples would move its scores more than they would calibrate them.
MIN_POSITIVES = 5


def fit_calibration(y: np.ndarray, probs: np.ndarray, method: str = "platt") -> Calibration:
    """Per label, the scale (and for Platt the bias) minimising log loss on (y, probs).

    Platt is the default: training weights positives up (TrainConfig.class_weighting), which
    shifts every raw score upwards, and a temperature alone cannot undo a shift.
    """
    from scipy.optimize import minimize

    if method not in METHODS:
        raise DataError(f"unknown calibration method {method!r} (choose from {', '.join(METHODS)})")
    z = logit(probs)
    n_labels = probs.shape[1]
    scale, bias = np.ones(n_labels), np.zeros(n_labels)
    for j in range(n_labels):
        yj, zj = y[:, j].astype(np.float64), z[:, j]
        if yj.sum() < MIN_POSITIVES or (1 - yj).sum() < MIN_POSITIVES:
            continue

        def nll(params: np.ndarray) -> float:
            # log-scale keeps the map increasing whatever the optimiser tries
            s = np.exp(params[0]) * zj + (params[1] if method == "platt" else 0.0)
            return float(np.mean(np.logaddexp(0.0, s) - yj * s))

        res = minimize(nll, np.zeros(2), method="L-BFGS-B",
                       bounds=[(-5.0, 5.0), (-20.0, 20.0) if method == "platt" else (0.0, 0.0)])
        if res.success or res.fun < nll(np.zeros(2)):
            scale[j], bias[j] = float(np.exp(res.x[0])), float(res.x[1])
    return Calibration(method, scale, bias)


def ece(y: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """Expected calibration error per label: the share-weighted gap, over equal-width score
    bins, between the mean score and how often the label was true."""
    probs = np.asarray(probs, dtype=np.float64)
    idx = np.minimum((probs * bins).astype(int), bins - 1)
    out = np.zeros(probs.shape[1])
    for j in range(probs.shape[1]):
        for b in range(bins):
            sel = idx[:, j] == b
            if sel.any():
                out[j] += sel.mean() * abs(probs[sel, j].mean() - y[sel, j].mean())
    return out


def ece_report(y: np.ndarray, raw: np.ndarray, calibrated: np.ndarray, labels: Sequence[str]) -> dict:
    """{"before": {label: ece, "mean": ...}, "after": {...}} for metrics files and tables."""
    out = {}
    for name, p in (("before", raw), ("after", calibrated)):
        e = ece(y, p)
        out[name] = {lab: round(float(v), 4) for lab, v in zip(labels, e)} | {"mean": round(float(e.mean()), 4)}
    return out


def reliability_diagram(y: np.ndarray, raw: np.ndarray, calibrated: np.ndarray | None, labels: Sequence[str],
                        path: Path, bins: int = ECE_BINS) -> Path:
    """One panel per label: observed frequency against mean score per bin, raw and calibrated."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(labels), figsize=(3.2 * len(labels), 3.4), squeeze=False)
    curves = [("raw", raw, "tab:gray")] + ([("calibrated", calibrated, "tab:blue")] if calibrated is not None else [])
    for j, (ax, lab) in enumerate(zip(axes[0], labels)):
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":")
        for name, p, colour in curves:
            idx = np.minimum((p[:, j] * bins).astype(int), bins - 1)
            pts = [(p[idx == b, j].mean(), y[idx == b, j].mean(), (idx == b).sum()) for b in range(bins)
                   if (idx == b).any()]
            xs, ys, ns = zip(*pts)
            ax.plot(xs, ys, color=colour, lw=1, label=f"{name} ECE {ece(y[:, [j]], p[:, [j]])[0]:.3f}")
            # dot area follows the bin's sentence count: a bin of three sentences is noise
            ax.scatter(xs, ys, s=[4 + 60 * n / len(p) for n in ns], color=colour, zorder=3)
        ax.set(title=lab, xlabel="score", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="upper left", fontsize=7)
    axes[0][0].set_ylabel("share with the label")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@dataclass
class CalibrateResult:
    model_dir: Path
    calibration: Calibration
    labels: list[str]
    sentences: int
    ece: dict  # ece_report on the sentences it was fitted on


def calibrate_model(model_dir: str | Path | None, data: Sequence[str | Path] | None = None, split: str = "dev",
                    method: str = "platt", backend: str = "torch") -> CalibrateResult:
    """Fit a calibration for an existing model on `split` of `data` (default: the bundled
    corpus, which the shipped model was tuned on) and store it in the model's metadata."""
    from conflictclf.data.corpus import by_split, check_labels, load_records
    from conflictclf.model.classifier import EventClassifier
    from conflictclf.train.metrics import multi_hot

    records = load_records(data)
    chosen = records if split == "all" else by_split(records).get(split, [])
    if not chosen:
        raise DataError(f"the {split} split of the given data is empty: calibration needs held-out sentences")
    clf = EventClassifier.from_pretrained(model_dir, backend=backend)
    check_labels(chosen, clf.labels)
    clf.calibration = None  # fit on raw scores
    raw = clf.predict_proba([r.text for r in chosen])
    y = multi_hot([r.labels for r in chosen], clf.labels)
    cal = fit_calibration(y, raw, method)
    assert clf.path is not None
    block = calibration_meta(cal, clf.labels, y, raw, split, len(chosen))
    clf.calibration, clf.meta[META_KEY] = cal, block
    clf.save_pretrained(clf.path)
    return CalibrateResult(clf.path, cal, clf.labels, len(chosen), block["ece"])


def calibration_meta(cal: Calibration, labels: Sequence[str], y: np.ndarray, raw: np.ndarray, split: str,
                     n: int) -> dict:
    """What conflictclf.json stores: the map, where it was fitted, and its ECE there."""
    return cal.to_meta(labels) | {"fitted_on": split, "sentences": n,
                                  "ece": ece_report(y, raw, cal.apply(raw), labels)}
def fit_and_describe(y: np.ndarray, raw: np.ndarray, labels: Sequence[str], split: str, n: int,
                     method: str = "platt") -> dict:
    """Fit on (y, raw) and return the metadata block; what `train` stores after tuning thresholds."""
    return calibration_meta(fit_calibration(y, raw, method), labels, y, raw, split, n)
