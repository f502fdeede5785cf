"""How likely two reports from different articles are about one act: features and a small
logistic model over them.

The features are what an analyst weighs when matching reports (the days they give, the
places, who did it to whom, the tolls, the words they share, the outlets' datelines), each
as agreement, disagreement or "not said", so a report that leaves a fact out neither wins
nor loses by it. The weights are fitted on written incident articles
(scripts/fit_incident_pairs.py) and ship as a small JSON file beside this module, so they
can be read, diffed and refitted; no pickles.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from conflictclf.data.errors import ModelError
from conflictclf.model.events.facets import Facets, content_words, period_span

WEIGHTS_FILE = Path(__file__).with_name("pair_weights.json")

FEATURES: tuple[str, ...] = (
    "same_day", "day_apart_1", "days_apart_2plus", "period_overlap", "period_apart", "day_unsaid",
    "anchor_gap",
    "same_place", "nearby_place", "other_place_same_country", "same_country_only", "other_country_sure",
    "other_country_by_town", "place_words_shared", "place_unsaid",
    "same_dateline", "other_dateline",
    "perp_shared", "perp_other", "target_shared", "target_other", "sides_swapped",
    "killed_overlap", "killed_apart",
    "text_cosine", "both_retaliation", "one_retaliation", "background", "same_outlet",
)


@dataclass(frozen=True)
class Report:
    """What one event brings to a comparison, computed once: merging compares each new
    event with many open incidents' reports, so nothing here is recomputed per pair."""

    day: dt.date | None  # the act's anchor day (its own exact day, else the article's date)
    exact: frozenset[dt.date]  # the days it gives to the day
    spans: tuple[tuple[dt.date, dt.date], ...]  # every period it gives (days, weeks, months, years)
    countries: frozenset[str]  # of its resolved places
    sure_country: bool  # one of them is a country or a region, not only a town (names can be abroad)
    names: frozenset[str]  # its resolved towns and regions
    regions: frozenset[str]
    place_words: frozenset[str]  # the words of its place phrases, resolved or not
    perpetrators: frozenset[str]  # naming words
    targets: frozenset[str]
    killed: tuple[float, float] | None  # lowest and highest toll given
    filed_in: frozenset[str]
    outlets: frozenset[str]
    retaliation: bool
    background: bool
    vector: dict[int, float]  # l2-normalised word counts, hashed

    @classmethod
    def build(cls, facets: Facets, day: dt.date | None, filed_in: frozenset[str], outlets: frozenset[str],
              retaliation: bool, background: bool, vector: dict[int, float]) -> Report:
        resolved = [p for p in facets.places if p.precision]
        return cls(day, frozenset(d for d, p in facets.days if p == "day"),
                   tuple(period_span(d, p) for d, p in facets.days),
                   frozenset(p.country for p in resolved), any(p.precision != "town" for p in resolved),
                   frozenset(p.name for p in resolved if p.precision != "country"),
                   frozenset(p.region for p in resolved if p.region), _words([p.text for p in facets.places]),
                   _words(facets.perpetrators), _words(facets.targets), _toll(facets.killed), filed_in, outlets,
                   retaliation, background, vector)


def _words(texts: Sequence[str]) -> frozenset[str]:
    return frozenset().union(*map(content_words, texts)) if texts else frozenset()


def _toll(counts: Sequence[tuple[int | None, int | None]]) -> tuple[float, float] | None:
    lows = [lo for lo, _ in counts if lo is not None]
    if not lows:
        return None
    return min(lows), max(hi if hi is not None else math.inf for lo, hi in counts if lo is not None)


def min_gap(a: frozenset[dt.date] | set[dt.date], b: frozenset[dt.date]) -> int:
    return min(abs((x - y).days) for x in a for y in b)


def periods_overlap(a: Sequence[tuple[dt.date, dt.date]], b: Sequence[tuple[dt.date, dt.date]]) -> bool:
    return any(sa <= eb and sb <= ea for sa, ea in a for sb, eb in b)


def _day_features(a: Report, b: Report) -> str:
    if a.exact and b.exact:
        gap = min_gap(a.exact, b.exact)
        return "same_day" if gap == 0 else "day_apart_1" if gap == 1 else "days_apart_2plus"
    if a.spans and b.spans:
        return "period_overlap" if periods_overlap(a.spans, b.spans) else "period_apart"
    return "day_unsaid"


def _place_features(a: Report, b: Report) -> str:
    if a.countries and b.countries:
        if not a.countries & b.countries:
            return "other_country_sure" if a.sure_country and b.sure_country else "other_country_by_town"
        if a.names & b.names:
            return "same_place"
        if a.names and b.names:
            return "nearby_place" if a.regions & b.regions else "other_place_same_country"
        return "same_country_only"
    return "place_words_shared" if a.place_words & b.place_words else "place_unsaid"


def _agree(a: frozenset[str], b: frozenset[str], name: str) -> str | None:
    if not a or not b:
        return None
    return f"{name}_shared" if a & b else f"{name}_other"


def cosine(a: dict[int, float], b: dict[int, float]) -> float:
    """Of two l2-normalised hashed word vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())


def sparse_row(row: Any) -> dict[int, float]:
    """A scipy sparse row as {column: value}."""
    return dict(zip(row.indices.tolist(), row.data.tolist()))


_INDEX = {name: k for k, name in enumerate(FEATURES)}


def pair_features(a: Report, b: Report) -> np.ndarray:
    """The feature row of two reports, in the order of FEATURES."""
    row = np.zeros(len(FEATURES))
    on = [_day_features(a, b), _place_features(a, b), _agree(a.perpetrators, b.perpetrators, "perp"),
          _agree(a.targets, b.targets, "target")]
    if a.filed_in and b.filed_in:
        on.append("same_dateline" if a.filed_in & b.filed_in else "other_dateline")
    # one report's attacker is the other's target: an act and the reply to it, or one
    # clash told from each side
    if a.perpetrators & b.targets or b.perpetrators & a.targets:
        on.append("sides_swapped")
    if a.killed is not None and b.killed is not None:
        on.append("killed_overlap" if a.killed[0] <= b.killed[1] and b.killed[0] <= a.killed[1] else "killed_apart")
    if a.retaliation and b.retaliation:
        on.append("both_retaliation")
    if a.retaliation != b.retaliation:
        on.append("one_retaliation")
    if a.background or b.background:
        on.append("background")
    if a.outlets & b.outlets:
        on.append("same_outlet")
    for name in on:
        if name is not None:
            row[_INDEX[name]] = 1.0
    row[_INDEX["anchor_gap"]] = min(abs((a.day - b.day).days), 4) / 4 if a.day and b.day else 0.5
    row[_INDEX["text_cosine"]] = cosine(a.vector, b.vector)
    return row


@dataclass(frozen=True)
class PairModel:
    """Logistic weights over FEATURES."""

    weights: tuple[float, ...]
    bias: float

    def probability(self, rows: np.ndarray) -> np.ndarray:
        z = np.asarray(rows, dtype=np.float64) @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self, about: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"features": list(FEATURES), "weights": list(self.weights), "bias": self.bias, **(about or {})}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PairModel:
        if list(d.get("features", ())) != list(FEATURES):
            raise ModelError("pair weights were fitted on other features: refit them "
                             "(python scripts/fit_incident_pairs.py)")
        return cls(tuple(float(w) for w in d["weights"]), float(d["bias"]))


@lru_cache(maxsize=1)
def default_pair_model() -> PairModel:
    return PairModel.from_dict(json.loads(WEIGHTS_FILE.read_text(encoding="utf-8")))
