"""int8 as the shipped decision function: thresholds and calibration tuned on the int8 copy's
own dev scores, kept only if its labels are as good as fp32's on the held-out sets.

Why: the int8 copy's scores differ slightly from fp32's, so at fp32's thresholds a few
decisions flip, and the fp32 recheck that undoes them costs a second model and about a
fifth of the run time. Tuning the thresholds on int8's own scores makes int8 a model in its
own right; what matters to users is that its labels are as accurate as fp32's against gold
labels, not that they are bit-equal to a model they never run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conflictclf.data.corpus import Record
from conflictclf.model.modeldir import read_meta, update_meta
from conflictclf.train.metrics import apply_thresholds, multi_hot, report, tune_thresholds

# int8 decides only if, on the labelled held-out sentences pooled (test split and bundled
# probes), its macro-F1 and every label's F1 are at most this far below fp32's (or above).
# Pooled, because on one probe of 500 sentences a single flipped sentence moves a rare
# label's F1 by more than this.
MAX_F1_LOSS = 0.005
# int8 keeps fp32's threshold for a label unless its own dev F1 there is more than this below
# its best. A label's dev F1 curve is often flat over a wide range (claim on the shipped
# model: within 0.003 from 0.55 to 0.84), and a plain argmax on int8's slightly different
# scores then jumps across it: on the test split and probes that jump cost claim 0.013 F1.
DEV_TOLERANCE = 0.005


@dataclass
class Int8Decision:
    """What tuning int8 on its own scores gave, and whether it replaces fp32's decisions."""

    decides: bool
    thresholds: dict[str, float]
    calibration: dict | None
    scores: dict[str, dict[str, dict]]  # per check set and "pooled": {"fp32": report, "int8": report}
    sentences: dict[str, int]
    worst_loss: float  # the largest F1 drop from fp32 to int8 (pooled, macro or any label); < 0 is a gain

    def to_dict(self) -> dict:
        def brief(rep: dict) -> dict:
            return {"macro_f1": round(rep["macro_f1"], 4)} | {
                lab: round(v["f1"], 4) for lab, v in rep["per_label"].items()}

        return {"thresholds": self.thresholds, "calibration": self.calibration,
                "max_f1_loss": MAX_F1_LOSS,
                "worst_loss": round(self.worst_loss, 4) if np.isfinite(self.worst_loss) else None,
                "checks": {name: {"sentences": self.sentences.get(name), "fp32": brief(s["fp32"]),
                                  "int8": brief(s["int8"])} for name, s in self.scores.items()}}

    def summary(self) -> str:
        if "pooled" not in self.scores:
            return "int8 with its own thresholds: no labelled held-out sentences to check it on, so it does not decide"
        pooled = self.scores["pooled"]
        head = (f"int8 with its own thresholds: macro-F1 {pooled['int8']['macro_f1']:.4f} against fp32's "
                f"{pooled['fp32']['macro_f1']:.4f} on {self.sentences['pooled']} held-out sentences "
                f"(worst label change {-self.worst_loss:+.4f})")
        if self.decides:
            return head + ": int8 makes the decisions (`auto`); `--backend onnx-int8-checked` or `onnx` give fp32's"
        return head + f": more than {MAX_F1_LOSS} below fp32, so int8 does not decide on its own"


def tune_int8(model_dir: Path, dev: Sequence[Record], checks: Mapping[str, Sequence[Record]],
              threshold_min: float = 0.1, threshold_max: float = 0.9) -> Int8Decision:
    """Tune thresholds and calibration on the int8 copy's dev scores, compare its labels with
    fp32's on every labelled check set, and record the outcome in the model's metadata
    (`export.int8_decides`, `export.int8`), where `auto` reads it."""
    from conflictclf.model.classifier import EventClassifier
    from conflictclf.train.calibration import fit_and_describe

    meta = read_meta(model_dir)
    labels = list(meta["labels"])
    exact = EventClassifier.from_pretrained(model_dir, backend="onnx")
    int8 = EventClassifier.from_pretrained(model_dir, backend="onnx-int8")
    exact.calibration = int8.calibration = None  # tune and compare on raw scores
    fp32_cut = np.asarray([meta["thresholds"][lab] for lab in labels])

    y_dev = multi_hot([r.labels for r in dev], labels)
    dev_probs = int8.predict_proba([r.text for r in dev])
    cut = tune_thresholds(y_dev, dev_probs, threshold_min, threshold_max, prefer=fp32_cut, tolerance=DEV_TOLERANCE)
    calibration = fit_and_describe(y_dev, dev_probs, labels, "dev (int8 scores)", len(dev)) \
        if meta.get("calibration") is not None else None

    scores, sentences, pooled = {}, {}, {"y": [], "fp32": [], "int8": []}
    for name, records in checks.items():
        if not records:
            continue
        texts, y = [r.text for r in records], multi_hot([r.labels for r in records], labels)
        a = apply_thresholds(exact.predict_proba(texts), fp32_cut)
        b = apply_thresholds(int8.predict_proba(texts), cut)
        scores[name] = {"fp32": report(y, a, labels), "int8": report(y, b, labels)}
        sentences[name] = len(records)
        for key, value in (("y", y), ("fp32", a), ("int8", b)):
            pooled[key].append(value)
    sentences["pooled"] = sum(sentences.values())
    worst = float("inf")  # nothing held out to check on: int8 cannot be shown to be as good
    if sentences["pooled"]:
        y, a, b = (np.concatenate(pooled[k]) for k in ("y", "fp32", "int8"))
        scores["pooled"] = {"fp32": report(y, a, labels), "int8": report(y, b, labels)}
        worst = _worst_loss(scores["pooled"]["fp32"], scores["pooled"]["int8"])
    decision = Int8Decision(worst <= MAX_F1_LOSS, {lab: float(t) for lab, t in zip(labels, cut)}, calibration,
                            scores, sentences, worst)
    export = dict(read_meta(model_dir).get("export") or {})
    export["int8_decides"] = decision.decides
    export["int8"] = decision.to_dict()
    update_meta(model_dir, {"export": export})
    return decision


def _worst_loss(fp32: dict, int8: dict) -> float:
    """The largest drop in F1 from fp32 to int8, over macro-F1 and every label's F1."""
    drops = [fp32["macro_f1"] - int8["macro_f1"]]
    drops += [fp32["per_label"][lab]["f1"] - int8["per_label"][lab]["f1"] for lab in fp32["per_label"]]
    return float(max(drops))
