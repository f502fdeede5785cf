"""Why a label was given: the few words of a sentence that drove it, found by occlusion.

No gradients and no second model: parts of the sentence are deleted (or kept alone)
and the result is scored again on the fast inference path: the int8 ONNX session
where there is one, *without* the fp32 recheck, which exists to protect decisions
(an occluded variant decides nothing). Only sentences with labels are explained.

1. search: score the sentence, the sentence with each window of `WINDOW` words
   deleted (single words in a sentence of `SHORT_SENTENCE` words or fewer), and each
   word alone. A word's evidence for a label is its window's drop, shared among the
   window's words by what each scores alone, plus what it scores alone; words with
   less than `MIN_RELATIVE_EVIDENCE` of the best word's are not candidates;
2. check: delete the label's best k words together, for k = 1, 2 and the most
   allowed (`MAX_WORDS`, at most `MAX_SHARE` of the sentence), and
3. where only the most allowed took the label below its threshold, every k between.

The rationale is the shortest deletion tried that takes the label below its threshold
(ERASER's comprehensiveness, asked of every rationale), else the one that lowers it
most. Its weights sum to that drop, shared among its words by their evidence;
adjacent words are reported as one span.

Cost: a word alone is a few tokens, about a tenth of a sentence's pass, so the
search costs about a sentence pass per window and the check 3-5 per label. All
variants of a round go through one batched pass; a sentence's deletions have
nearly equal lengths and share batches (dynamic int8 scales a batch by its largest
activation, so like inputs keep that scale alike).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from conflictclf.model.backends import CheckedBackend
from conflictclf.data.errors import ModelError

if TYPE_CHECKING:
    from conflictclf.model.classifier import EventClassifier

# Word = letters/digits with inner apostrophes or hyphens ("group's", "al-Shabaab");
# punctuation is never a rationale on its own and stays in every variant.
WORD = re.compile(r"\w+(?:['’\-]\w+)*")
WINDOW = 4
# Sentences of at most this many words are occluded word by word.
SHORT_SENTENCE = 10
# "The few words": at most this many, and at most this share of the sentence's words.
MAX_WORDS = 5
MAX_SHARE = 0.34
# Candidate words need at least this share of the label's best word's evidence: without
# it, a label stated three times over (nothing short of deleting all flips it) filled
# its slots with "the" and "been".
MIN_RELATIVE_EVIDENCE = 0.25
# Variants per forward pass; larger than the classifier's 32 because a sentence's
# variants are of one length (little padding) and a round is one big pass.
BATCH_SIZE = 64


@dataclass(frozen=True)
class Rationale:
    """A span of the sentence (character offsets into it) and its weight for one label."""

    start: int
    end: int
    text: str
    weight: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Explanation:
    """A sentence's labels and scores (as `predict` gives them) and each label's rationale."""

    labels: list[str]
    scores: dict[str, float]
    rationales: dict[str, list[Rationale]]


def word_spans(text: str, limit: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the words of `text`, at most `limit` of them."""
    spans = [m.span() for m in WORD.finditer(text)]
    return spans[:limit] if limit is not None else spans


def delete_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`text` without the given character spans, whitespace left single."""
    pieces, pos = [], 0
    for s, e in sorted(spans):
        pieces.append(text[pos:s])
        pos = max(pos, e)
    pieces.append(text[pos:])
    return re.sub(r"\s{2,}", " ", "".join(pieces)).strip()


def keep_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Only the given spans of `text`, in order, joined by spaces (ERASER's sufficiency input)."""
    return " ".join(text[s:e] for s, e in sorted(spans))


def score_fast(clf: EventClassifier, texts: Sequence[str]) -> np.ndarray:
    """Scores from the classifier's fast engine alone (int8 without the fp32 recheck), calibrated like predict_proba's."""
    engine = clf.backend.fast if isinstance(clf.backend, CheckedBackend) else clf.backend
    # the classifier's own batching (length-sorted, a short input cut in two), minus the recheck
    out = np.zeros((len(texts), len(clf.labels)), dtype=np.float32)
    clf._score(engine, list(texts), np.arange(len(texts)), out, BATCH_SIZE)
    # on the scale of clf.thresholds and of the scores every output shows
    return clf.calibration.apply(out) if clf.calibration is not None else out


def explain_labels(clf: EventClassifier, texts: Sequence[str], labels: Sequence[Sequence[str]],
                   threshold: float | None = None) -> list[dict[str, list[Rationale]]]:
    """For each text, a rationale for each of its given labels (usually the assigned ones)."""
    if len(labels) != len(texts):
        raise ModelError(f"explain: {len(texts)} texts but {len(labels)} label lists")
    col = {lab: j for j, lab in enumerate(clf.labels)}
    unknown = sorted({lab for labs in labels for lab in labs} - set(col))
    if unknown:
        raise ModelError(f"explain: unknown label {unknown[0]!r} (this model knows: {', '.join(clf.labels)})")
    cut = clf.thresholds if threshold is None else np.full(len(clf.labels), threshold)
    jobs = [_Job(text, [col[lab] for lab in labs], clf.labels, clf.max_length) for text, labs in zip(texts, labels)]
    jobs_live = [j for j in jobs if j.cols and j.words]
    # round 1: the sentence itself, each window deleted, each word alone
    _run_round(clf, jobs_live, lambda j: j.search_units())
    for j in jobs_live:
        j.rank_words()
    # rounds 2 and 3: delete each label's best k words together, for a few k
    for first in (True, False):
        _run_round(clf, jobs_live, lambda j: j.prefix_units(first))
        for j in jobs_live:
            j.read_prefixes(cut)
    live = {id(j) for j in jobs_live}
    return [j.rationales() if id(j) in live else {clf.labels[c]: [] for c in j.cols} for j in jobs]


def explain(clf: EventClassifier, texts: Sequence[str], threshold: float | None = None) -> list[Explanation]:
    """Predictions (with the classifier's usual, rechecked scores) plus a rationale per label."""
    preds = clf.predict(texts, threshold=threshold)
    found = explain_labels(clf, texts, [p.labels for p in preds], threshold)
    return [Explanation(p.labels, p.scores, r) for p, r in zip(preds, found)]


def _run_round(clf: EventClassifier, jobs: list[_Job], units_of) -> None:
    """Score every job's variants in one pass. A unit is a list of word indices to delete,
    or ("keep", indices) for the sentence cut down to those words. A variant asked for
    twice (two labels ranking the same words first) is scored once."""
    row_of: dict[str, int] = {}
    rows_per_job = []
    for j in jobs:
        j.units = units_of(j)
        texts = [keep_spans(j.text, [j.words[i] for i in u[1]]) if isinstance(u, tuple)
                 else delete_spans(j.text, [j.words[i] for i in u]) for u in j.units]
        rows_per_job.append([row_of.setdefault(t, len(row_of)) for t in texts])
    probs = score_fast(clf, list(row_of)) if row_of else np.zeros((0, len(clf.labels)))
    for j, rows in zip(jobs, rows_per_job):
        j.scores = probs[rows] if rows else np.zeros((0, len(clf.labels)))


class _Job:
    """One sentence's occlusion state across the two rounds.

    A word's evidence for a label: the score lost when its window is deleted, shared
    among the window's words by what each scores alone, plus what it scores alone.
    Deletion alone misses evidence stated twice ("fired rockets ..., killing two":
    deleting either leaves the other); the word alone catches it. Inputs of one word
    or one window are a few tokens long, so they cost a fraction of a sentence's pass.
    """

    def __init__(self, text: str, cols: list[int], names: list[str], max_length: int) -> None:
        self.text, self.cols, self.names = text, cols, names
        # a word past the model's input length cannot matter (every word is 1+ tokens)
        self.words = word_spans(text, max_length)
        n = len(self.words)
        self.max_words = max(1, min(MAX_WORDS, math.ceil(MAX_SHARE * n)))
        width = 1 if n <= SHORT_SENTENCE else WINDOW
        self.windows = [list(range(s, min(n, s + width))) for s in range(0, n, width)]
        self.units: list = []
        self.scores = np.zeros((0, 0))
        self.base = np.zeros(0)
        self.order: dict[int, list[int]] = {}
        self.evidence: dict[int, np.ndarray] = {}
        self.asked: list[tuple[int, int]] = []  # (label column, k) of each prefix unit
        self.after: dict[int, dict[int, float]] = {}  # label column -> k -> score without its best k words
        self.cut = np.zeros(0)

    def search_units(self) -> list:
        n = len(self.words)
        return [[]] + self.windows + [("keep", [i]) for i in range(n)]

    def rank_words(self) -> None:
        """Each label's best words, by evidence (see the class docstring)."""
        m, n = len(self.windows), len(self.words)
        self.base = self.scores[0]
        drop = self.base - self.scores[1:m + 1]
        alone = self.scores[m + 1:m + 1 + n]
        for c in self.cols:
            ev = np.zeros(n)
            for w, idx in enumerate(self.windows):
                share = alone[idx, c] / max(float(alone[idx, c].sum()), 1e-6)
                ev[idx] = drop[w, c] * share + alone[idx, c]
            best = np.argsort(-ev, kind="stable")[:self.max_words]
            # a word far weaker than the best one is noise, however many slots are left
            self.order[c] = [int(i) for i in best if ev[i] > 0 and ev[i] >= MIN_RELATIVE_EVIDENCE * ev[best[0]]] \
                or [int(best[0])]
            self.evidence[c] = ev

    def prefix_units(self, first: bool) -> list:
        """Deletions of a label's best k words: first k = 1, 2 and the most allowed; then,
        where only the most flipped the label, every k in between."""
        self.asked, units = [], []
        for c in self.cols:
            most = len(self.order[c])
            if first:
                ks = sorted({1, min(2, most), most})
            elif self._first_flip(c) == most and most > 3:
                ks = list(range(3, most))
            else:
                ks = []
            for k in ks:
                units.append(self.order[c][:k])
                self.asked.append((c, k))
        return units

    def read_prefixes(self, cut: np.ndarray) -> None:
        self.cut = cut
        for (c, k), row in zip(self.asked, self.scores):
            self.after.setdefault(c, {})[k] = float(row[c])

    def _first_flip(self, c: int) -> int | None:
        tried = self.after.get(c, {})
        flips = [k for k, p in tried.items() if p < self.cut[c]]
        return min(flips) if flips else None

    def rationales(self) -> dict[str, list[Rationale]]:
        """The shortest tried deletion that flips the label, else the one that drops it most;
        its total drop shared among its words by their evidence."""
        found: dict[str, list[Rationale]] = {}
        for c in self.cols:
            tried = self.after.get(c, {})
            if not tried:
                found[self.names[c]] = []
                continue
            k = self._first_flip(c) or min(tried, key=lambda k: (tried[k], k))
            chosen = self.order[c][:k]
            ev = np.clip(self.evidence[c][chosen], 0.0, None)
            share = ev / ev.sum() if ev.sum() > 0 else np.full(k, 1.0 / k)
            total = float(self.base[c]) - tried[k]
            found[self.names[c]] = self._spans({i: total * float(f) for i, f in zip(chosen, share)})
        return found

    def _spans(self, weight_of: dict[int, float]) -> list[Rationale]:
        """Chosen words in reading order, adjacent ones merged into one span."""
        out: list[Rationale] = []
        run: list[int] = []
        for i in [*sorted(weight_of), None]:
            if run and (i is None or i != run[-1] + 1):
                s, e = self.words[run[0]][0], self.words[run[-1]][1]
                out.append(Rationale(s, e, self.text[s:e], round(sum(weight_of[x] for x in run), 4)))
                run = []
            if i is not None:
                run.append(i)
        return out
