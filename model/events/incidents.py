"""Events from many articles merged into incidents: one record per real-world act.

Events are taken in order of the day they happened (their own resolved day, else the day
the article appeared), and each joins the open incident it agrees with best, or starts one.
Agreement is facets.compare (same day, same place, actors named alike; a conflict such as
another country or days apart rules a pair out) plus the likeness of the reports' words
(a hashed bag of words, so no vocabulary has to be learnt first). Two events of one article
never join one incident: the article told them apart. An incident stays open for
`IncidentConfig.window_days` after its last day, so the work is a sliding window over time.

Every source is kept: an incident lists its events, and through them its articles, outlets
and sentences; conflicting values (three killed here, five there) stay a range with the
values each source gave.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from conflictclf.model.events.facets import Facets, compare
from conflictclf.model.events.grouping import Event


@dataclass(frozen=True)
class IncidentConfig:
    """Every merging default in one place."""

    # Measured on the incident probe's first writer's articles (docs/incidents.md); the other
    # two writers' articles scored it blind.
    min_score: float = 1.5  # facet agreement + text_weight * word likeness needed to join
    text_weight: float = 3.0  # the word likeness (cosine, 0-1) counts this much
    window_days: int = 3  # how far apart two reports' days may be and still be one act


@dataclass
class Incident:
    id: str
    kind: str  # attack or threat
    events: list[Event] = field(default_factory=list)
    facets: Facets = field(default_factory=Facets)
    last_day: dt.date | None = None
    vector: np.ndarray | None = None  # summed word vectors of its events

    def articles(self) -> set[str]:
        return {e.article for e in self.events}


def anchor_day(event: Event) -> dt.date | None:
    """The day the act happened as its own report best says: its exact day, else the day
    the article appeared; None when neither is known."""
    days = [d for d, p in event.facets().days if p == "day"]
    if days:
        return min(days)
    if event.published:
        try:
            return dt.date.fromisoformat(event.published[:10])
        except ValueError:
            return None
    return None


def event_text(event: Event) -> str:
    return " ".join(m.text for m in event.mentions + event.claims)


def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=2 ** 18, ngram_range=(1, 1), stop_words="english",
                             alternate_sign=False, norm="l2", token_pattern=r"(?u)\b[^\W\d_][\w'-]+\b")


def _cosine(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None:
        return 0.0
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na and nb else 0.0


def merge_events(events: Iterable[Event], config: IncidentConfig = IncidentConfig()) -> Iterator[Incident]:
    """Incidents from events, yielded as they close (in order of their days). Events with no
    known day are merged among themselves after the dated ones."""
    vec = _vectorizer()
    dated, undated = [], []
    for e in events:
        day = anchor_day(e)
        (dated if day is not None else undated).append((day or dt.date.min, e.id, e))
    dated.sort(key=lambda x: (x[0], x[1]))
    open_: list[Incident] = []
    for day, _, e in dated:
        still = []
        for inc in open_:
            if inc.last_day is not None and (day - inc.last_day).days > config.window_days:
                yield inc  # closed: nothing later can be within its window
            else:
                still.append(inc)
        open_ = still
        _place(e, day, open_, vec, config)
    yield from open_
    open_ = []
    for _, _, e in undated:
        _place(e, None, open_, vec, config)
    yield from open_


def _place(e: Event, day: dt.date | None, open_: list[Incident], vec, config: IncidentConfig) -> None:
    f = e.facets()
    v = vec.transform([event_text(e)]).toarray()[0]
    best, best_score = None, config.min_score
    for inc in open_:
        if inc.kind != e.kind or e.article in inc.articles():
            continue
        verdict = compare(inc.facets, f, strict=False)
        if verdict.conflict:
            continue
        score = verdict.score + config.text_weight * _cosine(inc.vector, v)
        if score >= best_score:
            best, best_score = inc, score
    if best is None:
        best = Incident(_incident_id(e), e.kind)
        open_.append(best)
    best.events.append(e)
    best.facets.merge(f)
    best.vector = v if best.vector is None else best.vector + v
    if day is not None:
        best.last_day = day if best.last_day is None else max(best.last_day, day)


def _incident_id(first: Event) -> str:
    """Stable across runs on the same input: named after its first event."""
    return "inc-" + hashlib.sha1(first.id.encode("utf-8")).hexdigest()[:12]


def resolve_links(incidents: Sequence[Incident]) -> dict[str, list[str]]:
    """Per incident id, the incidents it answers (its events' `answers`, mapped)."""
    where = {e.id: inc.id for inc in incidents for e in inc.events}
    out: dict[str, list[str]] = {}
    for inc in incidents:
        answered = {where[e.answers] for e in inc.events if e.answers and e.answers in where}
        answered.discard(inc.id)
        out[inc.id] = sorted(answered)
    return out
