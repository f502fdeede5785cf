"""A review queue: pick the sentences of a classify/batch run most worth a human look.

Strategies:
- uncertain: scores closest (in logits) to their label's threshold, taken label by label in
  turn so every label gets its share, near-duplicates skipped;
- disagree: sentences whose labels differ between two label sets (two models' predictions);
- random: a seeded uniform sample, the unbiased control for the other two.
Writers for Label Studio, doccano and plain JSONL are in conflictclf.data.tasks.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conflictclf.data.dedup import near_duplicate_pairs
from conflictclf.model.scores import logit
from conflictclf.model.errors import InputError

STRATEGIES = ("uncertain", "disagree", "random")
# Candidates kept per label before near-duplicate removal, as a multiple of the queue size:
# enough to refill after skipping duplicates without comparing every pair of a large batch.
CANDIDATES_PER_SLOT = 5


@dataclass
class Candidate:
    """One sentence of a results file, with where it came from."""

    ref: str  # stable reference: article id and sentence order, or the row id
    text: str
    doc: str
    order: int | None
    start: int | None
    end: int | None
    labels: list[str]
    scores: dict[str, float]
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def read_results(path: str | Path, text_field: str = "text") -> list[Candidate]:
    """Rows of a `classify --format jsonl` or `batch ... out.jsonl` output."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text") from None
    out: list[Candidate] = []
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}:{n}: invalid JSON ({exc.msg}); review reads classify/batch JSONL output") from None
        if not isinstance(row, dict) or not isinstance(row.get(text_field), str):
            raise InputError(f"{p}:{n}: no {text_field!r} text in this row (set --text-field)")
        if not isinstance(row.get("scores"), dict) or not isinstance(row.get("labels"), list):
            raise InputError(f"{p}:{n}: no 'labels' and 'scores': give the output of classify or batch")
        # classify rows: source + index; batch --segment rows: id + sentence_index; plain batch rows: id
        order = row.get("sentence_index", row.get("index"))
        doc = row.get("doc") or row.get("article") or row.get("id") or row.get("source") or p.stem
        ref = f"{doc}-{order:03d}" if isinstance(order, int) else str(row.get("id", f"{p.stem}-{n}"))
        out.append(Candidate(ref, row[text_field], str(doc), order if isinstance(order, int) else None,
                             row.get("start"), row.get("end"), list(row["labels"]),
                             {k: float(v) for k, v in row["scores"].items()}))
    if not out:
        raise InputError(f"{p}: no rows")
    return out


def select_uncertain(cands: Sequence[Candidate], thresholds: dict[str, float], n: int) -> list[Candidate]:
    """Up to n sentences nearest a threshold, label by label in turn, no near-duplicates."""
    labels = [lab for lab in thresholds if all(lab in c.scores for c in cands)]
    if not labels:
        raise InputError(f"the results have no scores for the model's labels ({', '.join(thresholds)})")
    scores = np.array([[c.scores[lab] for lab in labels] for c in cands])
    dist = np.abs(logit(scores) - logit(np.array([thresholds[lab] for lab in labels])))
    keep = min(len(cands), n * CANDIDATES_PER_SLOT)
    queues = [list(np.argsort(dist[:, j], kind="stable")[:keep]) for j in range(len(labels))]
    pool = sorted({int(i) for q in queues for i in q})
    dupes = _duplicate_map(cands, pool)
    chosen: list[int] = []
    taken: set[int] = set()
    while len(chosen) < n and any(queues):
        for j, q in enumerate(queues):  # one per label per round: every label is represented
            while q:
                i = int(q.pop(0))
                if i in taken or dupes.get(i, set()) & taken:
                    continue
                taken.add(i)
                chosen.append(i)
                lab = labels[j]
                cands[i].reason = (f"uncertain {lab}: score {cands[i].scores[lab]:.3f}, "
                                   f"threshold {thresholds[lab]:.3f}")
                break
            if len(chosen) == n:
                break
    return [cands[i] for i in chosen]


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
