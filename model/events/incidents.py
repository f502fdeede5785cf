"""Events from many articles merged into incidents: one record per real-world act.

Events are taken in order of the day they happened (their own resolved day, else the day
the article appeared), and each joins the open incident it most likely belongs to, or starts
one. How likely comes from the pair model (pairs.py: days, places, actors, tolls, shared
words, datelines, weighed by weights fitted on written incident articles), against the
incident's report most like the new one. A conflict (facets.compare: another country, days
apart) rules a pair out whatever the words share, and two events of one article never join
one incident: the article told them apart. An incident stays open for
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

from conflictclf.model.events.facets import Facets
from conflictclf.model.events.grouping import Event
from conflictclf.model.events.pairs import (PairModel, Report, default_pair_model, min_gap, pair_features,
                                           periods_overlap, sparse_row)


@dataclass(frozen=True)
class IncidentConfig:
    """Every merging default in one place."""

    # Chosen on the incident probe's writers 1-3, each held out in turn (docs/incidents.md).
    join_probability: float = 0.4  # the pair model's probability, against the incident's likest report, needed to join
    window_days: int = 3  # how far apart two reports' days may be and still be one act
    pair_model: PairModel | None = None  # None: the shipped weights (pair_weights.json)


@dataclass
class Incident:
    id: str
    kind: str
    events: list[Event] = field(default_factory=list)
    facets: Facets = field(default_factory=Facets)
    first_day: dt.date | None = None
    reports: list[Report] = field(default_factory=list)  # one per event, in step with `events`
    # pooled from its reports, for the conflict check
    exact: set[dt.date] = field(default_factory=set)
    spans: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    countries: set[str] = field(default_factory=set)
    sure_country: bool = False

    def add(self, event: Event, report: Report, facets: Facets) -> None:
        self.events.append(event)
        self.reports.append(report)
        self.facets.merge(facets)
        self.exact |= report.exact
        self.spans.extend(report.spans)
        self.countries |= report.countries
        self.sure_country = self.sure_country or report.sure_country

    def conflicts(self, r: Report) -> bool:
        """Never one act, whatever the words share: days two or more apart (or periods that do
        not meet), or other countries where both name a country or region. This is
        facets.compare's verdict on the pooled facets, computed from the reports' sets."""
        if self.exact and r.exact:
            if min_gap(self.exact, r.exact) >= 2:
                return True
        elif self.spans and r.spans and not periods_overlap(self.spans, r.spans):
            return True
        return bool(self.countries and r.countries and not self.countries & r.countries
                    and self.sure_country and r.sure_country)

    def articles(self) -> set[str]:
        return {e.article for e in self.events}


def anchor_day(event: Event, facets: Facets | None = None) -> dt.date | None:
    """The day the act happened as its own report best says: its exact day, else the day
    the article appeared; None when neither is known. `facets`: the event's, if at hand."""
    days = [d for d, p in (facets or event.facets()).days if p == "day"]
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


def report_of(e: Event, vector: Any, facets: Facets | None = None) -> Report:
    """What `e` brings to a comparison (`vector`: its words' row from _vectorizer)."""
    f = facets or e.facets()
    return Report.build(f, anchor_day(e, f), frozenset({e.filed_in} - {None}), frozenset({e.outlet} - {None}),
                        e.retaliation, e.background, sparse_row(vector))


def event_reports(events: list[Event]) -> list[Report]:
    rows = _vectorizer().transform([event_text(e) for e in events]).tocsr()
    return [report_of(e, rows[k]) for k, e in enumerate(events)]


def _place(e: Event, day: dt.date | None, v: Any, open_: list[Incident], config: IncidentConfig) -> None:
    model = config.pair_model or default_pair_model()
    facets = e.facets()
    rep = report_of(e, v, facets)
    best, best_p = None, config.join_probability
    for inc in open_:
        if inc.kind != e.kind or e.article in inc.articles():
            continue
        if inc.conflicts(rep):
            continue
        # The report joins through the incident's report most like it (single linkage):
        # outlets tell one act differently, and a follow-up often matches one earlier
        # report (its town, its toll) and not the first wire flash.
        p = float(model.probability(np.vstack([pair_features(r, rep) for r in inc.reports])).max())
        if p >= best_p:
            best, best_p = inc, p
    if best is None:
        best = Incident(_incident_id(e), e.kind, first_day=day)
        open_.append(best)
    best.add(e, rep, facets)


def _incident_id(first: Event) -> str:
    """Stable across runs on the same input: named after its first event."""
    return "inc-" + hashlib.sha1(first.id.encode("utf-8")).hexdigest()[:12]
