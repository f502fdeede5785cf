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
from conflictclf.model.events.incidents import IncidentConfig, merge_events, resolve_links
from conflictclf.model.events.records import incident_record


@dataclass
class IncidentsResult:
    records: list[dict[str, Any]]
    articles: int
    sentences: int  # labelled sentences read
    events: int


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
    """Incident records, in order of their dates, from articles' labelled sentences with roles."""
    counts: dict[str, int] = {}
    events = list(events_of(articles, counts, on_article))
    incidents = list(merge_events(events, config))
    links = resolve_links(incidents)
    records = [incident_record(inc, links[inc.id]) for inc in incidents]
    records.sort(key=lambda r: (r["date"] or "9999", r["id"]))
    return IncidentsResult(records, counts.get("articles", 0), counts.get("sentences", 0), len(events))


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
