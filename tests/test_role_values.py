"""Normalised role values: counts, times against the article's date, places, datelines."""

from __future__ import annotations

import datetime as dt

import pytest

from conflictclf.data.errors import InputError
from conflictclf.data.roles import Span
from conflictclf.model.events.counts import parse_count, parse_number
from conflictclf.model.events.dates import dateline_date, parse_article_date, resolve_time
from conflictclf.model.events.places import resolve_place
from conflictclf.model.events.roles import normalise


@pytest.mark.parametrize("phrase, low, high", [
    ("three", 3, 3), ("Thirty-four soldiers", 34, 34), ("1,200 people", 1200, 1200), ("at least 12 people", 12, None),
    ("more than a hundred fighters", 100, None), ("nearly 200", None, 200), ("about 20", 20, 20),
    ("between 15 and 20 militants", 15, 20), ("10-15 militants", 10, 15), ("a dozen", 12, 12),
    ("two dozen villagers", 24, 24), ("an officer and two soldiers", 3, 3), ("a sailor", 1, 1),
    ("the commander of the brigade", 1, 1), ("dozens", None, None), ("several others", None, None),
    ("hundreds of civilians", None, None), ("the dead", None, None), ("many people", None, None),
])
def test_counts(phrase, low, high):
    c = parse_count(phrase)
    assert (c.low, c.high) == (low, high)
    assert c.known == (low is not None or high is not None)


def test_numbers_in_words():
    assert parse_number("one hundred and twenty-five") == 125
    assert parse_number("two thousand three hundred") == 2300
    assert parse_number("soldiers") is None


TUESDAY = dt.date(2025, 3, 18)


@pytest.mark.parametrize("expression, value, precision", [
    ("Monday", "2025-03-17", "day"), ("Tuesday", "2025-03-18", "day"),  # the paper's own day
    ("Sunday's", "2025-03-16", "day"), ("early Saturday", "2025-03-15", "day"),
    ("overnight", "2025-03-18", "day"), ("two days ago", "2025-03-16", "day"), ("14 March", "2025-03-14", "day"),
    ("29 and 30 October", "2024-10-29", "day"), ("last week", "2025-03-10", "week"),
    ("this month", "2025-03-01", "month"), ("October", "2024-10-01", "month"), ("early July", "2024-07-01", "month"),
    ("2021", "2021-01-01", "year"), ("last year", "2024-01-01", "year"),
    # the paper's own weekday inside a longer phrase is still that day, not a week back
    ("the early hours of Tuesday", "2025-03-18", "day"), ("the night of Sunday", "2025-03-16", "day"),
])
def test_times_resolve_against_the_article_date(expression, value, precision):
    t = resolve_time(expression, TUESDAY)
    assert (t.value, t.precision) == (value, precision)


@pytest.mark.parametrize("expression", ["recent weeks", "for two hours", "the past"])
def test_vague_times_stay_unresolved(expression):
    assert not resolve_time(expression, TUESDAY).resolved


def test_a_relative_time_without_an_article_date_is_unresolved_but_a_full_date_is_not():
    assert not resolve_time("Monday", None).resolved
    assert resolve_time("14 March 2024", None).value == "2024-03-14"


def test_a_date_after_the_article_is_a_misreading():
    assert not resolve_time("December 2025", TUESDAY).resolved


def test_article_dates_and_datelines():
    assert parse_article_date("2025-03-18") == TUESDAY
    assert parse_article_date("18 March 2025") == TUESDAY
    with pytest.raises(InputError, match="cannot read"):
        parse_article_date("not a date")
    assert dateline_date("GAO, Mali, March 3, 2025 (Reuters) - Gunmen attacked") == dt.date(2025, 3, 3)
    assert dateline_date("KYIV, 14 March 2025 — Russia launched") == dt.date(2025, 3, 14)
    assert dateline_date("Rebels attacked on March 3, 2025 - a source said") is None
    assert dateline_date("BAMAKO (AFP) - no date here") is None


def test_places():
    gao = resolve_place("Gao")
    assert (gao.country, gao.precision, gao.region) == ("ML", "town", "ML.09")
    assert resolve_place("village of Intahaka, near Gao").country == "ML"
    mali = resolve_place("Kidal and Anefis in northern Mali")
    assert mali.country == "ML" and mali.precision == "town"
    assert resolve_place("eastern Ukraine").to_dict() == {"country": "UA", "region": None, "name": "Ukraine",
                                                          "precision": "country"}
    assert resolve_place("Kiev").name == "Kyiv"  # an alternate name of a large city
    for nowhere in ("the north", "Red Sea", "Est region"):
        assert not resolve_place(nowhere).resolved, nowhere
    # a region is its country's, never a namesake town elsewhere (there is a Borno in Italy)
    assert resolve_place("Borno state").to_dict() == {"country": "NG", "region": None, "name": "Borno",
                                                      "precision": "region"}
    # named bare, a region beats a small namesake town abroad; a city keeps its name ("Kano")
    assert resolve_place("Borno").to_dict()["precision"] == "region" and resolve_place("Borno").country == "NG"
    assert resolve_place("Kano").to_dict()["precision"] == "town"
    assert resolve_place("central Nigeria's Plateau state").country == "NG"
    assert resolve_place("Tillabéri region").country == "NE"  # accents folded
    # a region named by a common word counts only where the article names its country
    assert not resolve_place("Plateau state").resolved
    assert resolve_place("Plateau state", ["NG"]).country == "NG"


def test_the_country_named_settles_a_town_name_shared_by_countries():
    assert resolve_place("Gao").country == "ML"  # the largest Gao
    assert resolve_place("Gao", ["BF"]).country == "BF"
    assert resolve_place("Gao, Burkina Faso").country == "BF"


def test_normalise_puts_the_value_beside_the_text():
    r = normalise(Span("killed", 10, 22, "at least two"), TUESDAY)
    assert r.to_dict() == {"role": "killed", "start": 10, "end": 22, "text": "at least two",
                           "value": {"low": 2, "high": None, "resolved": True}}
    assert normalise(Span("time", 0, 6, "Monday"), None).value == {"value": None, "precision": None,
                                                                   "resolved": False}
    assert "value" not in normalise(Span("perpetrator", 0, 6, "Rebels"), TUESDAY).to_dict()
