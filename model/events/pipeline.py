"""Articles in, incident records out: the library under `conflictclf incidents`.

Two ways in. Article texts are classified here (labels, then roles with values), which is
right for a folder of files. An archive goes through `batch --segment --roles` first (the
resumable job, on one machine or Ray) and its sentence rows come here already labelled
(data/incident_input.py). Either way each article becomes events (grouping.py), the events
become incidents (incidents.py), and each incident a record (records.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conflictclf.data.incident_input import ArticleSentences
from conflictclf.model.events.grouping import Event, article_events
from conflictclf.model.events.incidents import IncidentConfig, anchor_day, merge_events
from conflictclf.model.events.records import incident_record
from conflictclf.model.events.spool import Spool, Workspace


@dataclass
class IncidentsResult:
    """Counts, and the records on disk: `records()` reads them back in date order, each with
    its links, as often as needed (one pass per output format) until `close()`."""

    articles: int
    sentences: int  # labelled sentences read
    events: int
    incidents: int
    several_sources: int  # incidents reported by more than one article
    spool: Spool
    links: dict[str, list[str]]
    workspace: Workspace

    def records(self) -> Iterator[dict[str, Any]]:
        for rec in self.spool.sorted():
            rec["link"] = [{"type": "answers", "id": x} for x in self.links.get(rec["id"], [])]
            yield rec

    def close(self) -> None:
        self.spool.close()
        self.workspace.close()


def events_of(articles: Iterable[ArticleSentences], counts: dict[str, int] | None = None,
              on_article: Callable[[], None] | None = None) -> Iterator[Event]:
    """Every article's events; `counts` (if given) is kept up to date with articles and
    labelled sentences seen."""
    for a in articles:
        if counts is not None:
            counts["articles"] = counts.get("articles", 0) + 1
            counts["sentences"] = counts.get("sentences", 0) + sum(1 for s in a.sentences if s.get("labels"))
        yield from article_events(a.name, a.sentences, a.published, a.outlet)
        if on_article is not None:
            on_article()


def build_incidents(articles: Iterable[ArticleSentences], config: IncidentConfig = IncidentConfig(),
                    on_article: Callable[[], None] | None = None) -> IncidentsResult:
    """Incidents from articles' labelled sentences with roles. Events and records wait on
    disk (spool.py): memory holds the articles of the moment, the open incidents and
    small indexes, not the archive. Call `close()` on the result when done with it."""
    counts: dict[str, int] = {}
    workspace = Workspace()
    folder = workspace.folder
    events = Spool(folder, "events")
    for e in events_of(articles, counts, on_article):
        day = anchor_day(e)
        events.add((day is None, day or dt.date.min, e.id), e.to_dict())
    records = Spool(folder, "records")
    where: dict[str, str] = {}  # event id -> incident id
    answers: dict[str, set[str]] = {}  # incident id -> the events it answers
    several = 0
    for inc in merge_events((Event.from_dict(d) for d in events.sorted()), config, presorted=True):
        for e in inc.events:
            where[e.id] = inc.id
        answers[inc.id] = {e.answers for e in inc.events if e.answers}
        rec = incident_record(inc)
        several += rec["source_count"] > 1
        records.add((rec["date"] or "9999", rec["id"]), rec)
    events.close()
    links = {i: sorted({where[a] for a in ids if a in where} - {i}) for i, ids in answers.items()}
    return IncidentsResult(counts.get("articles", 0), counts.get("sentences", 0), len(events), len(records),
                           several, records, {i: x for i, x in links.items() if x}, workspace)


def incident_records(articles: Iterable[ArticleSentences], config: IncidentConfig = IncidentConfig()
                     ) -> list[dict[str, Any]]:
    """Every record in a list: for a few hundred articles (tests, the probe), not an archive."""
    result = build_incidents(articles, config)
    try:
        return list(result.records())
    finally:
        result.close()


def classify_for_incidents(clf: Any, articles: Sequence[tuple[str, str]],
                           dates: Mapping[str, dt.date | None] | None = None,
                           outlets: Mapping[str, str] | None = None) -> list[ArticleSentences]:
    """Article texts -> their labelled sentences with roles and values (one batched pass
    each for labels and roles). `dates`: each source's publication date, else its dateline."""
    from conflictclf.model.articles import article_date, classify_texts
    from conflictclf.model.events.tagger import cached_tagger

    tagger = cached_tagger(clf.path)
    result = classify_texts(clf, articles, roles=tagger, dates=dates)
    published = {src: (dates or {}).get(src) or article_date(text) for src, text in articles}
    out: dict[str, ArticleSentences] = {}
    for src, _ in articles:
        day = published.get(src)
        out.setdefault(src, ArticleSentences(src, day.isoformat() if day else None, (outlets or {}).get(src)))
    for rec in result.records:
        d = rec.to_dict()
        out[rec.source].sentences.append({k: d[k] for k in ("text", "labels", "index", "start", "end")}
                                         | {"roles": d.get("roles") or []})
    return list(out.values())
