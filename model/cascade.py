"""A two-stage classifier: a small student decides the sentences it is sure of, the model the rest.

The student (train/distill.py) is a MiniLM trained on the model's own logits, so its
logits estimate the model's, and the model's thresholds apply to them. A sentence is
the student's to decide when every label's student logit lies at least `margin` from
the threshold logit; the margin is picked on dev and the whole cascade checked against
the model alone on the test split at train time (`conflictclf.json`, "cascade").
The student runs its int8 export without a recheck: the margin already covers both its
own error and int8's, since it was measured on the int8 student.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from conflictclf.model.backends import ONNX_INT8_FILE, OnnxBackend
from conflictclf.model.errors import ModelError

STUDENT_DIR = "student"
# The cascade is used only if its labels match the model's alone on this share of the
# check sentences, the same bar as the int8 copy's.
MIN_CASCADE_AGREEMENT = 0.995
# Margins tried on dev, smallest first (logits).
CASCADE_MARGINS: tuple[float, ...] = tuple(float(m) for m in np.arange(0.5, 8.01, 0.25))


def decided_rows(logits: np.ndarray, threshold_logits: np.ndarray, margin: float) -> np.ndarray:
    """Rows where every label's logit is at least `margin` from its threshold logit."""
    if not len(logits):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero((np.abs(logits - threshold_logits) >= margin).all(axis=1))


def cascade_ready(path: Path, meta: dict[str, Any]) -> bool:
    info = meta.get("cascade") or {}
    return bool(info.get("used")) and info.get("margin") is not None and (
        path / STUDENT_DIR / ONNX_INT8_FILE).is_file()


class FirstStage:
    """The student and its margin; `score` fills in the rows it decides and returns the rest."""

    def __init__(self, student, threshold_logits: np.ndarray, margin: float) -> None:
        self.student = student  # an EventClassifier on the raw int8 student export
        self.threshold_logits = threshold_logits
        self.margin = margin

    def score(self, texts, out: np.ndarray, batch_size: int) -> np.ndarray:
        probs = self.student.predict_proba(texts, batch_size=batch_size)
        logits = _logit(probs)
        sure = decided_rows(logits, self.threshold_logits, self.margin)
        out[sure] = probs[sure]
        rest = np.ones(len(texts), dtype=bool)
        rest[sure] = False
        return np.flatnonzero(rest)


def load_first_stage(path: Path, meta: dict[str, Any], workers: int, margin: float | None = None) -> FirstStage:
    """The student of the model at `path`, with the margin recorded at train time unless given."""
    from conflictclf.model.classifier import EventClassifier, read_meta
    from conflictclf.model.tokenize import Tokenizer

    student_dir = path / STUDENT_DIR
    student_meta = read_meta(student_dir)
    if student_meta["labels"] != meta["labels"]:
        raise ModelError(f"{student_dir}: its labels differ from the model's; retrain to rebuild the cascade")
    thresholds = [meta["thresholds"][lab] for lab in meta["labels"]]
    max_length = int(student_meta.get("config", {}).get("max_length", 128))
    backend = OnnxBackend(student_dir / ONNX_INT8_FILE, "student-int8", workers)
    student = EventClassifier(Tokenizer(student_dir, max_length), backend, meta["labels"], thresholds,
                              max_length=max_length, meta=student_meta, path=student_dir)
    if margin is None:
        margin = float(meta["cascade"]["margin"])
    return FirstStage(student, _logit(np.asarray(thresholds)), margin)


def load_cascade(path: Path, margin: float | None = None, threads: int | None = None):
    """The model at `path` behind its student (for the train-time check and benchmarks)."""
    from conflictclf.model.classifier import EventClassifier, read_meta, resolve_backend

    if margin is None:
        return EventClassifier.from_pretrained(path, backend="cascade", threads=threads)
    second = resolve_backend("auto", path, read_meta(path), cascade=False)
    clf = EventClassifier.from_pretrained(path, backend=second, threads=threads)
    return clf.attach_first_stage(load_first_stage(path, clf.meta, clf.backend.workers, margin))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))
