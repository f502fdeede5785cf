"""Roles with their values: the tagger's spans, each with a normalised value where its kind has one.

`time` spans get a date and precision (resolved against the article's date), `place` spans
a country and region, `killed`/`injured` spans low and high counts. Each value sits beside
the raw text with `resolved` saying whether anything was found; nothing is guessed.
Only sentences that carry a label are tagged: roles describe the act a label reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conflictclf.data.roles import Span
from conflictclf.model.events.counts import parse_count
from conflictclf.model.events.tagger import RoleTagger

NORMALISED = ("time", "place", "killed", "injured")


@dataclass(frozen=True)
class Role:
    """A role span in a sentence (offsets into the sentence) and its normalised value."""

    role: str
    start: int
    end: int
    text: str
    value: dict[str, Any] | None = field(default=None)  # None for roles with no value (perpetrator...)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"role": self.role, "start": self.start, "end": self.end, "text": self.text}
        if self.value is not None:
            d["value"] = self.value
        return d


def normalise(span: Span, article_date: dt.date | None, countries: Sequence[str] = ()) -> Role:
    """The span with its value: `countries` (those the article names) settle which town a
    place name means when several countries have one."""
    value: dict[str, Any] | None = None
    if span.role == "time":
        from conflictclf.model.events.dates import resolve_time

        t = resolve_time(span.text, article_date)
        value = t.to_dict() | {"resolved": t.resolved}
    elif span.role == "place":
        from conflictclf.model.events.places import resolve_place

        p = resolve_place(span.text, countries)
        value = p.to_dict() | {"resolved": p.resolved}
    elif span.role in ("killed", "injured"):
        c = parse_count(span.text)
        value = c.to_dict() | {"resolved": c.known}
    return Role(span.role, span.start, span.end, span.text, value)


def article_roles(tagger: RoleTagger, texts: Sequence[str], labelled: Sequence[bool],
                  article_date: dt.date | None = None) -> list[list[Role]]:
    """Roles for one article's sentences (in order); sentences without a label get none."""
    picked = [i for i, hit in enumerate(labelled) if hit]
    spans: list[list[Span]] = [[] for _ in texts]
    for i, found in zip(picked, tagger.tag([texts[i] for i in picked])):
        spans[i] = found
    return with_values(spans, article_date)


def with_values(spans: Sequence[Sequence[Span]], article_date: dt.date | None = None) -> list[list[Role]]:
    """One article's spans (per sentence) with their values; the countries the article's
    places name settle which town a shared name means."""
    countries = _named_countries(s for found in spans for s in found if s.role == "place")
    return [[normalise(s, article_date, countries) for s in found] for found in spans]


def _named_countries(places) -> list[str]:
    """Countries the article's place spans name on their own or contain ("northern Mali")."""
    from conflictclf.model.events.places import resolve_place

    out: list[str] = []
    for span in places:
        p = resolve_place(span.text)
        if p.precision == "country" and p.country not in out:
            out.append(p.country)
    return out


def classifier_roles(clf: Any, texts: Sequence[str], article_date: dt.date | None = None,
                     labelled: Sequence[bool] | None = None) -> list[list[Role]]:
    """`EventClassifier.roles`: the tagger of the classifier's model directory, loaded once."""
    from conflictclf.data.errors import ModelError
    from conflictclf.model.events.tagger import cached_tagger

    tagger = cached_tagger(clf.path)
    if labelled is None:
        labelled = [bool(p.labels) for p in clf.predict(texts)]
    elif len(labelled) != len(texts):
        raise ModelError(f"roles: {len(texts)} texts but {len(labelled)} labelled flags")
    return article_roles(tagger, texts, labelled, article_date)
