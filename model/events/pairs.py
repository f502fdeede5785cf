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
from conflictclf.model.events.facets import Facets, Place, content_words

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


@dataclass
class Report:
    """What one event (or one incident so far) brings to a comparison, computed once."""

    facets: Facets
    day: dt.date | None  # the act's anchor day (its own exact day, else the article's date)
    filed_in: frozenset[str]
    outlets: frozenset[str]
    retaliation: bool
    background: bool
    vector: Any  # l2-normalised sparse word counts


def _words(texts: Sequence[str]) -> frozenset[str]:
    return frozenset().union(*map(content_words, texts)) if texts else frozenset()


def _day_features(a: Facets, b: Facets) -> dict[str, float]:
    ea = [d for d, p in a.days if p == "day"]
    eb = [d for d, p in b.days if p == "day"]
    if ea and eb:
        gap = min(abs((x - y).days) for x in ea for y in eb)
        return {"same_day": gap == 0, "day_apart_1": gap == 1, "days_apart_2plus": gap >= 2}
    if a.days and b.days:
        from conflictclf.model.events.facets import compare_days

        overlap = not compare_days(a.days, b.days, strict=False).conflict
        return {"period_overlap": overlap, "period_apart": not overlap}
    return {"day_unsaid": 1.0}


def _place_features(a: Sequence[Place], b: Sequence[Place]) -> dict[str, float]:
    ra = [p for p in a if p.precision]
    rb = [p for p in b if p.precision]
    if ra and rb:
        if not {p.country for p in ra} & {p.country for p in rb}:
            sure = any(p.precision != "town" for p in ra) and any(p.precision != "town" for p in rb)
            return {"other_country_sure" if sure else "other_country_by_town": 1.0}
        na = {p.name for p in ra if p.precision != "country"}
        nb = {p.name for p in rb if p.precision != "country"}
        if na & nb:
            return {"same_place": 1.0}
        if na and nb:
            regions = {p.region for p in ra if p.region} & {p.region for p in rb if p.region}
            return {"nearby_place" if regions else "other_place_same_country": 1.0}
        return {"same_country_only": 1.0}
    if _words([p.text for p in a]) & _words([p.text for p in b]):
        return {"place_words_shared": 1.0}
    return {"place_unsaid": 1.0}


def _agree(a: Sequence[str], b: Sequence[str], name: str) -> dict[str, float]:
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return {}
    return {f"{name}_shared": 1.0} if wa & wb else {f"{name}_other": 1.0}


def _killed(a: Sequence[tuple[int | None, int | None]], b: Sequence[tuple[int | None, int | None]]) -> dict[str, float]:
    def span(xs: Sequence[tuple[int | None, int | None]]) -> tuple[float, float] | None:
        lows = [lo for lo, _ in xs if lo is not None]
        if not lows:
            return None
        highs = [hi if hi is not None else math.inf for lo, hi in xs if lo is not None]
        return min(lows), max(highs)

    sa, sb = span(a), span(b)
    if sa is None or sb is None:
        return {}
    return {"killed_overlap": 1.0} if sa[0] <= sb[1] and sb[0] <= sa[1] else {"killed_apart": 1.0}


def cosine(a: Any, b: Any) -> float:
    if a is None or b is None:
        return 0.0
    na = math.sqrt(float(a.multiply(a).sum()))
    nb = math.sqrt(float(b.multiply(b).sum()))
    return float(a.multiply(b).sum()) / (na * nb) if na and nb else 0.0


def pair_features(a: Report, b: Report) -> np.ndarray:
    """The feature row of two reports, in the order of FEATURES."""
    fa, fb = a.facets, b.facets
    on: dict[str, float] = {}
    on.update(_day_features(fa, fb))
    on["anchor_gap"] = min(abs((a.day - b.day).days), 4) / 4 if a.day and b.day else 0.5
    on.update(_place_features(fa.places, fb.places))
    if a.filed_in and b.filed_in:
        on["same_dateline" if a.filed_in & b.filed_in else "other_dateline"] = 1.0
    on.update(_agree(fa.perpetrators, fb.perpetrators, "perp"))
    on.update(_agree(fa.targets, fb.targets, "target"))
    # one report's attacker is the other's target: an act and the reply to it, or one
    # clash told from each side
    on["sides_swapped"] = bool(_words(fa.perpetrators) & _words(fb.targets) or _words(fb.perpetrators) & _words(fa.targets))
    on.update(_killed(fa.killed, fb.killed))
    on["text_cosine"] = cosine(a.vector, b.vector)
    on["both_retaliation"] = a.retaliation and b.retaliation
    on["one_retaliation"] = a.retaliation != b.retaliation
    on["background"] = a.background or b.background
    on["same_outlet"] = bool(a.outlets & b.outlets)
    return np.array([float(on.get(name, 0.0)) for name in FEATURES])


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
