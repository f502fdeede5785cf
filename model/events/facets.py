"""What a report says about an act (when, where, who, to whom, how many), and whether two
reports can be about the same act.

Events inside one article and incidents across articles are both built by comparing
facets. The comparison gives a conflict (the two cannot be one act: different days,
different countries, within an article different towns) or a score, the sum of what agrees
and what disagrees; the callers decide what score is enough. Facets come from the role
spans with their normalised values (model/events/roles.py), so only what the text says is
compared; an unresolved value neither agrees nor disagrees.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Words that say an actor is armed or unknown without naming who: "suspected militants"
# and "gunmen" do not disagree with "JNIM fighters".
GENERIC_ACTOR = frozenset(
    "a an the of and or in on at from by with its their his her suspected unknown unidentified armed "
    "gunmen gunman militants militant attackers attacker fighters fighter rebels rebel insurgents insurgent "
    "jihadists jihadist assailants assailant terrorists terrorist men man group groups forces force troops "
    "soldiers soldier army military members member elements element people persons person some several "
    "two three four five dozens dozen many alleged presumed so-called local security".split())
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*", re.U)


def content_words(text: str) -> frozenset[str]:
    """The words of an actor phrase that name someone (folded, generic words dropped)."""
    return frozenset(w for w in (m.group().lower().replace("\u2019", "'") for m in _WORD.finditer(text))
                     if w not in GENERIC_ACTOR and len(w) > 1)


@dataclass(frozen=True)
class Place:
    text: str
    country: str | None
    region: str | None
    name: str | None
    precision: str | None  # town, region or country; None: unresolved


@dataclass
class Facets:
    """Everything the reports of one act say, pooled (several sentences or several articles)."""

    days: list[tuple[dt.date, str]] = field(default_factory=list)  # (first day, precision)
    places: list[Place] = field(default_factory=list)
    perpetrators: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    killed: list[tuple[int | None, int | None]] = field(default_factory=list)
    injured: list[tuple[int | None, int | None]] = field(default_factory=list)

    def add_roles(self, roles: Iterable[dict[str, Any]]) -> None:
        for r in roles:
            role, value = r.get("role"), r.get("value") or {}
            if role == "time" and value.get("value") and value.get("precision"):
                try:
                    self.days.append((dt.date.fromisoformat(value["value"]), value["precision"]))
                except ValueError:
                    continue
            elif role == "place":
                self.places.append(Place(r.get("text", ""), value.get("country"), value.get("region"),
                                         value.get("name"), value.get("precision")))
            elif role == "perpetrator":
                self.perpetrators.append(r.get("text", ""))
            elif role == "target":
                self.targets.append(r.get("text", ""))
            elif role in ("killed", "injured") and value.get("resolved"):
                getattr(self, role).append((value.get("low"), value.get("high")))

    def merge(self, other: Facets) -> None:
        for name in ("days", "places", "perpetrators", "targets", "killed", "injured"):
            getattr(self, name).extend(getattr(other, name))

    @property
    def empty(self) -> bool:
        return not (self.days or self.places or self.perpetrators or self.targets)


@dataclass(frozen=True)
class Verdict:
    conflict: bool
    score: float
    why: tuple[str, ...] = ()


def period_span(day: dt.date, precision: str) -> tuple[dt.date, dt.date]:
    """The days a resolved time covers."""
    if precision == "week":
        return day, day + dt.timedelta(days=6)
    if precision == "month":
        nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return day, nxt - dt.timedelta(days=1)
    if precision == "year":
        return day, day.replace(month=12, day=31)
    return day, day


def compare_days(a: Sequence[tuple[dt.date, str]], b: Sequence[tuple[dt.date, str]], strict: bool) -> Verdict:
    """Same day: agreement. Days apart: two acts (within an article, or across articles two
    or more days apart); one day apart across articles is a penalty, not a conflict, since
    "overnight" and "late on Monday" put one act on two days."""
    if not a or not b:
        return Verdict(False, 0.0)
    exact = [(x, y) for x, p in a if p == "day" for y, q in b if q == "day"]
    if exact:
        gap = min(abs((x - y).days) for x, y in exact)
        if gap == 0:
            return Verdict(False, 1.5, ("same day",))
        if gap == 1 and not strict:
            return Verdict(False, -1.5, ("a day apart",))
        return Verdict(True, 0.0, (f"{gap} days apart",))
    overlap = any(period_span(x, p)[0] <= period_span(y, q)[1] and period_span(y, q)[0] <= period_span(x, p)[1] for x, p in a for y, q in b)
    return Verdict(not overlap, 0.3 if overlap else 0.0, ("same period",) if overlap else ("different periods",))


def compare_places(a: Sequence[Place], b: Sequence[Place], strict: bool) -> Verdict:
    """Same town: agreement; a town and its country: compatible; two countries: two acts;
    two towns of one country: two acts within an article, a penalty across articles
    (reports place one act "near" different towns)."""
    ra = [p for p in a if p.precision]
    rb = [p for p in b if p.precision]
    if ra and rb:
        ca, cb = {p.country for p in ra}, {p.country for p in rb}
        if not ca & cb:
            # A bare town name can resolve to a namesake abroad ("Borno", a village in Italy);
            # only a named country or region on both sides rules the pair out.
            sure = any(p.precision != "town" for p in ra) and any(p.precision != "town" for p in rb)
            if sure or strict:
                return Verdict(True, 0.0, ("different countries",))
            return Verdict(False, -1.5, ("different countries by town names",))
        na = {p.name for p in ra if p.precision != "country"}
        nb = {p.name for p in rb if p.precision != "country"}
        if na & nb:
            return Verdict(False, 2.0, ("same place",))
        if na and nb:
            regions = {p.region for p in ra if p.region} & {p.region for p in rb if p.region}
            if strict and not regions:
                return Verdict(True, 0.0, ("different places",))
            return Verdict(False, -0.5 if regions else -1.5, ("nearby places" if regions else "different places",))
        return Verdict(False, 0.3, ("same country",))
    wa = frozenset().union(*(content_words(p.text) for p in a)) if a else frozenset()
    wb = frozenset().union(*(content_words(p.text) for p in b)) if b else frozenset()
    if wa & wb:
        return Verdict(False, 1.0, ("place words shared",))
    return Verdict(False, 0.0)


def compare_actors(a: Sequence[str], b: Sequence[str], weight: float) -> Verdict:
    wa = frozenset().union(*map(content_words, a)) if a else frozenset()
    wb = frozenset().union(*map(content_words, b)) if b else frozenset()
    if not wa or not wb:
        return Verdict(False, 0.0)
    if wa & wb:
        return Verdict(False, weight, ("actor named alike",))
    return Verdict(False, -0.5 * weight, ("actors named differently",))


def compare(a: Facets, b: Facets, strict: bool) -> Verdict:
    """`strict`: the two come from one article, where a writer who moves to another day or
    town is telling of another act."""
    parts = [compare_days(a.days, b.days, strict), compare_places(a.places, b.places, strict),
             compare_actors(a.perpetrators, b.perpetrators, 1.0), compare_actors(a.targets, b.targets, 0.5)]
    if any(p.conflict for p in parts):
        return Verdict(True, 0.0, tuple(w for p in parts if p.conflict for w in p.why))
    return Verdict(False, sum(p.score for p in parts), tuple(w for p in parts for w in p.why))
