"""Events from many articles merged into incidents: one record per real-world act.

Events are taken in order of the day they happened (their own resolved day, else the day
the article appeared), and each joins the open incident it agrees with best, or starts one.
Agreement is facets.compare (same day, same place, actors named alike; a conflict such as
another country or days apart rules a pair out) plus the likeness of the reports' words
(a hashed bag of words, so no vocabulary has to be learnt first). Two events of one article
never join one incident: the article told them apart. An incident stays open for
`IncidentConfig.window_days` after its first day, so the work is a sliding window over time.

Every source is kept: an incident lists its events, and through them its articles, outlets
and sentences; conflicting values (three killed here, five there) stay a range with the
values each source gave.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

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
    kind: str
    events: list[Event] = field(default_factory=list)
    facets: Facets = field(default_factory=Facets)
    first_day: dt.date | None = None
    vector: Any = None  # its reports' word counts summed (a sparse row)

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


def _cosine(a: Any, b: Any) -> float:
    """Cosine of two sparse rows (b is l2-normalised)."""
    if a is None or b is None:
        return 0.0
    norm = float(np.sqrt(a.multiply(a).sum()))
    return float(a.multiply(b).sum()) / norm if norm else 0.0


def merge_events(events: Iterable[Event], config: IncidentConfig = IncidentConfig(),
                 presorted: bool = False) -> Iterator[Incident]:
    """Incidents from events, yielded as they close (in order of their first days). An
    incident takes reports for `window_days` after its first day and then closes, so the
    work is a window sliding over time, and a run of similar reports (daily shelling of one
    town) cannot chain into one endless incident. Events with no known day are merged among
    themselves after the dated ones.

    `presorted`: `events` already come dated first, by (day, id), then the undated ones; they
    are then streamed, never held (pipeline.py reads them back from disk that way)."""
    if not presorted:
        keyed = sorted(((anchor_day(e), e) for e in events), key=lambda x: (x[0] is None, x[0] or dt.date.min, x[1].id))
        events = (e for _, e in keyed)
    vec = _vectorizer()
    open_: list[Incident] = []
    undated = False
    for block in _blocks(events, VECTOR_BLOCK):  # word vectors a block at a time
        rows = vec.transform([event_text(e) for e in block]).tocsr()
        for k, e in enumerate(block):
            day = anchor_day(e)
            if day is None and not undated:  # the dated ones are done: close them all
                undated = True
                yield from open_
                open_ = []
            still = []
            for inc in open_:
                if day is not None and inc.first_day is not None and (day - inc.first_day).days > config.window_days:
                    yield inc  # closed: nothing later can be within its window
                else:
                    still.append(inc)
            open_ = still
            _place(e, day, rows[k], open_, config)
    yield from open_


def _blocks(items: Iterable[Event], size: int) -> Iterator[list[Event]]:
    block: list[Event] = []
    for x in items:
        block.append(x)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


VECTOR_BLOCK = 2048  # events whose word vectors are computed together


def _place(e: Event, day: dt.date | None, v: Any, open_: list[Incident], config: IncidentConfig) -> None:
    f = e.facets()
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
        best = Incident(_incident_id(e), e.kind, first_day=day)
        open_.append(best)
    best.events.append(e)
    best.facets.merge(f)
    best.vector = v if best.vector is None else best.vector + v


def _incident_id(first: Event) -> str:
    """Stable across runs on the same input: named after its first event."""
    return "inc-" + hashlib.sha1(first.id.encode("utf-8")).hexdigest()[:12]
