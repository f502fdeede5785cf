"""Why a label was given: the few words of a sentence that drove it, found by occlusion.

No gradients and no second model: words are deleted from the sentence and the
sentence is scored again on the fast inference path (the int8 ONNX session where
there is one, *without* the fp32 recheck: the recheck exists to protect decisions,
and an occluded variant decides nothing; see `score_fast`). Three batched rounds:

1. coarse: delete each window of `WINDOW` words (stride `STRIDE`); a short sentence
   deletes single words instead and skips round 2;
2. fine: for each label, delete each word of its best `TOP_WINDOWS` windows alone;
3. check: delete the label's best 1, 2, ... `max_words` words together. The
   rationale is the shortest such prefix whose deletion takes the label below its
   threshold (ERASER's comprehensiveness, asked of every rationale), or failing
   that, the prefix whose deletion drops the score most.

Every variant of every sentence in a round goes through one batched pass, and the
variants of a sentence have nearly equal lengths, so they share batches (dynamic
int8 scales a batch by its largest activation; like inputs keep that scale alike).

A rationale word's weight is how much the label's score fell when it was deleted
after the words ranked above it: a label's weights sum to the score drop when its
whole rationale is deleted. Adjacent words are reported as one span.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from conflictclf.model.backends import CheckedBackend
from conflictclf.model.errors import ModelError

if TYPE_CHECKING:
    from conflictclf.model.classifier import EventClassifier

# Word = letters/digits with inner apostrophes or hyphens ("group's", "al-Shabaab");
# punctuation is never a rationale on its own and stays in every variant.
WORD = re.compile(r"\w+(?:['’\-]\w+)*")
WINDOW = 3
STRIDE = 2
# Sentences of at most this many words are occluded word by word in round 1.
SHORT_SENTENCE = 10
TOP_WINDOWS = 2
# "The few words": at most this many, and at most this share of the sentence's words.
MAX_WORDS = 5
MAX_SHARE = 0.34
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
    """Scores from the classifier's fast engine alone (int8 without the fp32 recheck)."""
    engine = clf.backend.fast if isinstance(clf.backend, CheckedBackend) else clf.backend
    out = np.zeros((len(texts), len(clf.labels)), dtype=np.float32)
    clf._score(engine, list(texts), np.arange(len(texts)), out, BATCH_SIZE)
    return out


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
    # round 1: the sentence itself, each window deleted, each window alone
    _run_round(clf, jobs_live, lambda j: j.coarse_units())
    for j in jobs_live:
        j.read_coarse()
    # round 2: single words of each label's best windows, deleted and alone
    _run_round(clf, jobs_live, lambda j: j.fine_units())
    for j in jobs_live:
        j.rank_words()
    # round 3: delete each label's top 1..k words together
    _run_round(clf, jobs_live, lambda j: j.prefix_units())
    live = {id(j) for j in jobs_live}
    return [j.rationales(cut) if id(j) in live else {clf.labels[c]: [] for c in j.cols} for j in jobs]


def explain(clf: EventClassifier, texts: Sequence[str], threshold: float | None = None) -> list[Explanation]:
    """Predictions (with the classifier's usual, rechecked scores) plus a rationale per label."""
    preds = clf.predict(texts, threshold=threshold)
    found = explain_labels(clf, texts, [p.labels for p in preds], threshold)
    return [Explanation(p.labels, p.scores, r) for p, r in zip(preds, found)]


def _run_round(clf: EventClassifier, jobs: list[_Job], units_of) -> None:
    """Score every job's variants in one pass. A unit is a list of word indices to delete,
    or ("keep", indices) for the sentence cut down to those words."""
    variants = []
    for j in jobs:
        j.units = units_of(j)
        variants += [keep_spans(j.text, [j.words[i] for i in u[1]]) if isinstance(u, tuple)
                     else delete_spans(j.text, [j.words[i] for i in u]) for u in j.units]
    probs = score_fast(clf, variants) if variants else np.zeros((0, len(clf.labels)))
    pos = 0
    for j in jobs:
        j.scores = probs[pos:pos + len(j.units)]
        pos += len(j.units)


class _Job:
    """One sentence's occlusion state across the three rounds.

    A span's evidence for a label is the score lost when it is deleted plus the score
    it earns alone. Deletion alone misses evidence stated twice ("fired rockets ...,
    killing two": deleting either leaves the other); the span alone catches it, and
    costs little, since a transformer runs a 3-word input far faster than a sentence.
    """

    def __init__(self, text: str, cols: list[int], names: list[str], max_length: int) -> None:
        self.text, self.cols, self.names = text, cols, names
        # a word past the model's input length cannot matter (every word is 1+ tokens)
        self.words = word_spans(text, max_length)
        n = len(self.words)
        self.short = n <= SHORT_SENTENCE
        self.max_words = max(1, min(MAX_WORDS, math.ceil(MAX_SHARE * n)))
        self.units: list = []
        self.scores = np.zeros((0, 0))
        self.base = np.zeros(0)
        self.windows: list[list[int]] = []
        self.window_evidence = np.zeros((0, 0))
        self.fine_words: list[int] = []
        self.order: dict[int, list[int]] = {}
        self.prefix_of: list[int] = []  # label column of each round-3 unit

    def coarse_units(self) -> list:
        n = len(self.words)
        if self.short:
            self.windows = [[i] for i in range(n)]
        else:
            starts = list(range(0, max(1, n - WINDOW + 1), STRIDE))
            if starts[-1] + WINDOW < n:
                starts.append(n - WINDOW)  # the last words get a window too
            self.windows = [list(range(s, min(n, s + WINDOW))) for s in starts]
        return [[]] + self.windows + [("keep", w) for w in self.windows]

    def read_coarse(self) -> None:
        m = len(self.windows)
        self.base = self.scores[0]
        self.window_evidence = (self.base - self.scores[1:m + 1]) + self.scores[m + 1:]

    def best_windows(self, c: int) -> list[int]:
        return list(np.argsort(-self.window_evidence[:, c], kind="stable")[:TOP_WINDOWS])

    def fine_units(self) -> list:
        if self.short:
            return []
        wanted: dict[int, None] = {}
        for c in self.cols:
            for w in self.best_windows(c):
                wanted.update(dict.fromkeys(self.windows[w]))
        self.fine_words = list(wanted)
        return [[i] for i in self.fine_words] + [("keep", [i]) for i in self.fine_words]

    def rank_words(self) -> None:
        """Each label's candidate words: by window (best first), within it by own evidence."""
        for c in self.cols:
            if self.short:
                ev = {i: float(self.window_evidence[i, c]) for i in range(len(self.words))}
                ranked = sorted(ev, key=lambda i: -ev[i])
            else:
                m = len(self.fine_words)
                ev = {i: float(self.base[c] - self.scores[k, c] + self.scores[m + k, c])
                      for k, i in enumerate(self.fine_words)}
                ranked = []
                for w in self.best_windows(c):
                    ranked += sorted((i for i in self.windows[w] if i not in ranked), key=lambda i: -ev[i])
            self.order[c] = ranked[:self.max_words]

    def prefix_units(self) -> list:
        self.prefix_of, units = [], []
        for c in self.cols:
            for k in range(1, len(self.order[c]) + 1):
                units.append(self.order[c][:k])
                self.prefix_of.append(c)
        return units

    def rationales(self, cut: np.ndarray) -> dict[str, list[Rationale]]:
        found: dict[str, list[Rationale]] = {}
        for c in self.cols:
            after = np.array([float(p[c]) for p, cc in zip(self.scores, self.prefix_of) if cc == c])
            if not len(after):
                found[self.names[c]] = []
                continue
            flipped = np.flatnonzero(after < cut[c])
            k = int(flipped[0]) + 1 if len(flipped) else int(np.argmin(after)) + 1
            before = np.concatenate([[float(self.base[c])], after[:k - 1]])
            found[self.names[c]] = self._spans({self.order[c][i]: float(before[i] - after[i]) for i in range(k)})
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
