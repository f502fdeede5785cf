"""The review queue: the sentences of a classify/batch run most worth labelling for retraining.

Strategies:
- uncertain: scores closest (in logits) to their label's threshold, taken label by label in
  turn so every label gets its share, near-duplicates skipped;
- disagree: sentences whose labels differ between two models' predictions;
- random: a seeded uniform sample, the unbiased control for the other two.
Sentences are read and grouped into articles by conflictclf.data.results, the rule the HTML
report uses too, so a task's `doc` is the section it has in the report. Task files are
written by conflictclf.data.tasks.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conflictclf.data.dedup import near_duplicate_pairs
from conflictclf.data.results import read_articles
from conflictclf.data.tasks import Candidate, candidates
from conflictclf.model.calibration import Calibration
from conflictclf.model.scores import logit
from conflictclf.model.modeldir import read_meta
from conflictclf.data.errors import InputError
from conflictclf.model.paths import default_model_dir

STRATEGIES = ("uncertain", "disagree", "random")
# Candidates kept per label before near-duplicate removal, as a multiple of the queue size:
# enough to refill after skipping duplicates without comparing every pair of a large batch.
CANDIDATES_PER_SLOT = 5


@dataclass
class ReviewQueue:
    picked: list[Candidate]  # in the order they were chosen
    labels: list[str]  # the label set annotators choose from
    model_version: str  # which model(s) pre-annotated the tasks
    total: int  # sentences in the results


def review_queue(results: str | Path, strategy: str = "uncertain", n: int = 200, models: Sequence[str | Path] = (),
                 text_field: str = "text", seed: int = 0) -> ReviewQueue:
    """Up to `n` sentences of RESULTS picked by `strategy`; `models` as for `conflictclf review`."""
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    cands = candidates(read_articles(results, text_field), Path(results).stem)
    models = list(models)
    if strategy == "uncertain":
        if len(models) > 1:
            raise InputError("--strategy uncertain takes at most one --model")
        thresholds, version = results_thresholds(results, models[0] if models else None)
        return ReviewQueue(select_uncertain(cands, thresholds, n), list(thresholds), version, len(cands))
    if strategy == "disagree":
        if len(models) != 2:
            raise InputError("--strategy disagree needs two models: --model A --model B")
        texts = [c.text for c in cands]
        a, labels = predict_labels(models[0], texts)
        b, _ = predict_labels(models[1], texts)
        for c, la in zip(cands, a):
            c.labels = la  # pre-annotate with model A's labels; B's go in the task as labels_b
        picked = select_disagree(cands, b, n, names=(str(models[0]), str(models[1])))
        return ReviewQueue(picked, labels, f"A={models[0]} B={models[1]}", len(cands))
    thresholds, version = results_thresholds(results, models[0] if models else None)
    return ReviewQueue(select_random(cands, n, seed), list(thresholds), version, len(cands))


def select_uncertain(cands: Sequence[Candidate], thresholds: dict[str, float], n: int) -> list[Candidate]:
    """Up to n sentences nearest a threshold, label by label in turn, no near-duplicates."""
    labels = [lab for lab in thresholds if all(lab in c.scores for c in cands)]
    if not labels:
        raise InputError(f"the results have no scores for the model's labels ({', '.join(thresholds)})")
    scores = np.array([[c.scores[lab] for lab in labels] for c in cands])
    dist = np.abs(logit(scores) - logit(np.array([thresholds[lab] for lab in labels])))
    keep = min(len(cands), n * CANDIDATES_PER_SLOT)
    queues = [list(np.argsort(dist[:, j], kind="stable")[:keep]) for j in range(len(labels))]
    dupes = _duplicate_map(cands, sorted({int(i) for q in queues for i in q}))
    chosen: list[int] = []
    while len(chosen) < n and any(queues):
        for j, q in enumerate(queues):  # one per label per round: every label is represented
            i = _next_free(q, set(chosen), dupes)
            if i is None:
                continue
            chosen.append(i)
            lab = labels[j]
            cands[i].reason = f"uncertain {lab}: score {cands[i].scores[lab]:.3f}, threshold {thresholds[lab]:.3f}"
            if len(chosen) == n:
                break
    return [cands[i] for i in chosen]


def _next_free(queue: list, taken: set[int], dupes: dict[int, set[int]]) -> int | None:
    """Pop the queue's first candidate not taken and not a near-duplicate of one taken."""
    while queue:
        i = int(queue.pop(0))
        if i not in taken and not dupes.get(i, set()) & taken:
            return i
    return None


def select_disagree(cands: Sequence[Candidate], other: Sequence[Sequence[str]], n: int,
                    names: tuple[str, str] = ("A", "B")) -> list[Candidate]:
    """Sentences whose labels in `cands` (model A) differ from `other` (model B), most
    differing labels first, then in file order; near-duplicates skipped."""
    diffs = [(len(set(c.labels) ^ set(o)), i) for i, (c, o) in enumerate(zip(cands, other))]
    order = [i for d, i in sorted(diffs, key=lambda x: (-x[0], x[1])) if d > 0]
    dupes = _duplicate_map(cands, order[: n * CANDIDATES_PER_SLOT])
    chosen: list[int] = []
    for i in order:
        if len(chosen) == n:
            break
        if dupes.get(i, set()) & set(chosen):
            continue
        chosen.append(i)
        a, b = cands[i].labels, list(other[i])
        cands[i].reason = f"disagree: {names[0]} {'+'.join(a) or 'none'} / {names[1]} {'+'.join(b) or 'none'}"
        cands[i].extra["labels_b"] = b
    return [cands[i] for i in chosen]


def select_random(cands: Sequence[Candidate], n: int, seed: int = 0) -> list[Candidate]:
    picked = sorted(random.Random(seed).sample(range(len(cands)), min(n, len(cands))))
    for i in picked:
        cands[i].reason = "random"
    return [cands[i] for i in picked]


def _duplicate_map(cands: Sequence[Candidate], pool: Sequence[int]) -> dict[int, set[int]]:
    """For each candidate in `pool`, the others in `pool` it nearly duplicates."""
    pool = list(pool)
    out: dict[int, set[int]] = {}
    for a, b, _ in near_duplicate_pairs([cands[i].text for i in pool]):
        out.setdefault(pool[a], set()).add(pool[b])
        out.setdefault(pool[b], set()).add(pool[a])
    return out


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
    if not manifest.is_file():
        return model_thresholds(None)
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        info, override = doc["model"], doc.get("threshold_override")
        # a run with --threshold decided every label at that one cut-off
        return ({k: float(override if override is not None else v) for k, v in info["thresholds"].items()},
                str(info.get("path", "batch model")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{manifest}: unreadable batch manifest; pass --model") from None


def predict_labels(model: str | Path, texts: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    from conflictclf.model.classifier import EventClassifier

    clf = EventClassifier.from_pretrained(model)
    return [p.labels for p in clf.predict(texts)], clf.labels
