"""Score a saved model on annotated data: metrics, precision-recall curves, optional baseline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conflictclf.data.corpus import Record, by_split, check_labels, load_records
from conflictclf.data.files import atomic_write_text
from conflictclf.data.errors import DataError
from conflictclf.train.calibration import ece_report, reliability_diagram
from conflictclf.train.metrics import apply_thresholds, multi_hot, report, tune_thresholds


@dataclass
class EvalResult:
    split: str
    report: dict
    baseline: dict | None
    thresholds: dict[str, float]
    output_dir: Path
    # expected calibration error per label: {"before": {...}, "after": {...} or None if uncalibrated}
    calibration: dict | None = None
    backend: str = "torch"  # the backend that scored the sentences, as the model resolved it


def select(records: list[Record], split: str | None) -> tuple[str, list[Record]]:
    """`split=None`: the test split when the data has splits, else every record."""
    if split is None:
        split = "test" if any(r.split for r in records) else "all"
    chosen = records if split == "all" else by_split(records)[split]
    if not chosen:
        raise DataError(f"the {split} split of the given data is empty")
    return split, chosen


def evaluate(model_dir: str | Path | None, data: Sequence[str | Path], output_dir: str | Path = "evaluation",
             split: str | None = None, threshold: float | None = None, baseline: str | None = None,
             backend: str = "auto") -> EvalResult:
    """Score a model on annotated data. `backend="auto"` measures what `classify` and `batch` run
    (the checked int8 copy where the model's export passed its check); "torch" gives fp32."""
    from conflictclf.model.classifier import EventClassifier

    records = load_records(data)
    split, chosen = select(records, split)
    clf = EventClassifier.from_pretrained(model_dir, backend=backend)
    check_labels(chosen, clf.labels)
    y = multi_hot([r.labels for r in chosen], clf.labels)
    cal, clf.calibration = clf.calibration, None
    raw = clf.predict_proba([r.text for r in chosen])
    probs = cal.apply(raw) if cal is not None else raw
    # the tuned cut-offs on the calibrated scale, for the report; decisions as `predict` takes
    # them, on the raw scores, which a steep calibration cannot round onto a cut-off
    cut = (cal.map_thresholds(clf.raw_thresholds) if cal is not None else clf.raw_thresholds) \
        if threshold is None else np.full(len(clf.labels), threshold)
    hits = apply_thresholds(raw, clf.raw_thresholds) if threshold is None else apply_thresholds(probs, cut)
    rep = report(y, hits, clf.labels)

    base_rep = None
    if baseline == "tfidf":
        base_rep = _baseline_report(records, chosen, clf.labels, y)
    elif baseline is not None:
        raise DataError(f"unknown baseline {baseline!r} (known: tfidf)")

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    thresholds = {lab: float(t) for lab, t in zip(clf.labels, cut)}
    payload = {"model": str(clf.path), "backend": clf.backend.name, "split": split, "data": [str(d) for d in data],
               "thresholds": thresholds, "metrics": rep, "baseline_tfidf": base_rep}
    calib = ece_report(y, raw, probs, clf.labels)
    if cal is None:
        calib["after"] = None
    payload["calibration_error"] = calib
    atomic_write_text(out / "metrics.json", json.dumps(payload, indent=2) + "\n")
    _pr_curves(y, probs, clf.labels, cut, out)
    reliability_diagram(y, raw, probs if cal is not None else None, clf.labels, out / "reliability.png")
    return EvalResult(split, rep, base_rep, thresholds, out, calib, clf.backend.name)


def compare(models: Sequence[str | Path], data: Sequence[str | Path], output_dir: str | Path = "evaluation",
            split: str | None = None, threshold: float | None = None, backend: str = "auto") -> list[EvalResult]:
    """Evaluate several models on the same sentences; each writes into its own subfolder."""
    out = Path(output_dir)
    names = [f"{i + 1}_{Path(m).expanduser().resolve().name}" for i, m in enumerate(models)]
    return [evaluate(m, data, out / name, split=split, threshold=threshold, backend=backend)
            for m, name in zip(models, names)]


def _baseline_report(records: list[Record], chosen: list[Record], labels: list[str], y: np.ndarray) -> dict:
    from conflictclf.train.baseline import TfidfBaseline

    splits = by_split(records)
    if not splits["train"]:
        # held-out sets such as data/probe have no train split: fit on the bundled corpus,
        # as the shipped model was
        splits = by_split(load_records())
    fit_on = splits["train"]
    check_labels(fit_on, labels)
    model = TfidfBaseline(labels).fit([r.text for r in fit_on], multi_hot([r.labels for r in fit_on], labels))
    # Same protocol as the fine-tuned model: thresholds tuned on dev when there is one.
    th = np.full(len(labels), 0.5)
    if splits["dev"] and chosen is not splits["dev"]:
        dev = splits["dev"]
        th = tune_thresholds(multi_hot([r.labels for r in dev], labels), model.predict_proba([r.text for r in dev]))
    return report(y, apply_thresholds(model.predict_proba([r.text for r in chosen]), th), labels)


def _pr_curves(y: np.ndarray, probs: np.ndarray, labels: list[str], cut: np.ndarray, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt
    from sklearn.metrics import average_precision_score, precision_recall_curve

    for j, lab in enumerate(labels):
        if y[:, j].sum() == 0:
            continue
        prec, rec, th = precision_recall_curve(y[:, j], probs[:, j])
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(rec, prec, label=f"AP {average_precision_score(y[:, j], probs[:, j]):.3f}")
        pred = probs[:, j] >= cut[j]
        tp = (pred & (y[:, j] == 1)).sum()
        ax.scatter([tp / max(y[:, j].sum(), 1)], [tp / max(pred.sum(), 1)], color="red", zorder=3,
                   label=f"threshold {cut[j]:.2f}")
        ax.set(xlabel="recall", ylabel="precision", title=f"{lab}", xlim=(0, 1.02), ylim=(0, 1.02))
        ax.legend(loc="lower left")
        fig.tight_layout()
        fig.savefig(out / f"pr_{lab}.png", dpi=100)
        plt.close(fig)
