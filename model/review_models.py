"""What `conflictclf review` needs from models: thresholds, label names, fresh predictions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from conflictclf.model.calibration import Calibration
from conflictclf.model.modeldir import read_meta
from conflictclf.model.errors import InputError
from conflictclf.model.paths import default_model_dir


def model_thresholds(model: str | Path | None) -> tuple[dict[str, float], str]:
    """The thresholds a model's outputs are judged against, in the same (calibrated or raw)
    space as the scores it writes."""
    path = Path(model).expanduser() if model else default_model_dir()
    meta = read_meta(path)
    labels = list(meta["labels"])
    raw = [float(meta["thresholds"][lab]) for lab in labels]
    cal = Calibration.from_meta(meta, labels)
    cut = cal.map_thresholds(raw) if cal is not None else raw
    return {lab: float(t) for lab, t in zip(labels, cut)}, str(path)


def results_thresholds(results: str | Path, model: str | Path | None) -> tuple[dict[str, float], str]:
    """--model if given, else the batch manifest next to RESULTS, else the per-user model."""
    if model is not None:
        return model_thresholds(model)
    manifest = Path(str(results) + ".manifest.json")
    if manifest.is_file():
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
            info, override = doc["model"], doc.get("threshold_override")
            # a run with --threshold decided every label at that one cut-off
            return ({k: float(override if override is not None else v) for k, v in info["thresholds"].items()},
                    str(info.get("path", "batch model")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise InputError(f"{manifest}: unreadable batch manifest; pass --model") from None
    return model_thresholds(None)


def model_labels(results: str | Path, model: str | Path | None) -> tuple[list[str], str]:
    thresholds, version = results_thresholds(results, model)
    return list(thresholds), version


def predict_labels(model: str | Path, texts: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    from conflictclf.model.classifier import EventClassifier

    clf = EventClassifier.from_pretrained(model)
    return [p.labels for p in clf.predict(texts)], clf.labels
