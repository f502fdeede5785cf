"""Time expressions ("on Tuesday", "last week", "early July") resolved against the article's date.

dateparser (in the `roles` extra) reads the expression relative to the article's date,
preferring the past (news reports what happened). The value is the first day of the period
the expression names, with its precision: "Tuesday" is that day; "last week" the Monday of
the week before, precision week; "October" the 1st, precision month. An expression that
cannot be placed (no article date for a relative one, "recent weeks", "for two hours")
stays unresolved: no value, never a guess.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from conflictclf.data.errors import InputError

PRECISIONS = ("day", "week", "month", "year")
# Words that narrow a period without moving its start ("early July" is July, precision month).
_HEDGES = re.compile(r"^(?:early|late|mid|the|start of|end of|beginning of|earlier|later|so far|since|"
                     r"until|by|from|on|in|at|during)\b[\s-]*", re.I)
_NIGHT = re.compile(r"^(?:overnight|last night|tonight|this morning|this afternoon|this evening|today)\b", re.I)
_PART_OF_DAY = re.compile(r"\s+(?:morning|afternoon|evening|night)$", re.I)
# "the early hours of Sunday", "the night of Saturday": the day named, not a weekday that
# dateparser would otherwise place a week back (it does not read the phrase as a whole)
_PART_OF = re.compile(r"^(?:(?:early|small|wee|late)\s+)?(?:hours|morning|afternoon|evening|night)\s+of\s+", re.I)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A resolved date further than this from the article's is a misreading, not news.
MAX_YEARS_BACK = 30


@dataclass(frozen=True)
class TimeValue:
    value: str | None  # ISO date of the period's first day
    precision: str | None  # day, week, month or year

    @property
    def resolved(self) -> bool:
        return self.value is not None

    def to_dict(self) -> dict[str, str | None]:
        return {"value": self.value, "precision": self.precision}


UNRESOLVED = TimeValue(None, None)


def parse_article_date(text: str) -> dt.date:
    """A date given by the user (`--date`, a `date` field): ISO or anything dateparser reads
    without ambiguity; InputError if it reads none."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        pass
    found = _parser(None).get_date_data(text)
    if found.date_obj is None:
        raise InputError(f"cannot read {text!r} as a date (give it as YYYY-MM-DD)")
    return found.date_obj.date()


def resolve_time(expression: str, article_date: dt.date | None) -> TimeValue:
    """The date and precision `expression` names, relative to `article_date`."""
    text = expression.strip().rstrip(".,;")
    text = re.sub(r"['’]s$", "", text)  # "Sunday's ambush"
    if _NIGHT.match(text):
        return TimeValue(article_date.isoformat(), "day") if article_date else UNRESOLVED
    while _HEDGES.match(text):
        text = _HEDGES.sub("", text, count=1)
    text = _PART_OF.sub("", text)
    while _HEDGES.match(text):
        text = _HEDGES.sub("", text, count=1)
    text = _PART_OF_DAY.sub("", text)
    # "29 and 30 October": the period starts on the first day
    text = re.sub(r"^(\d{1,2})(?:\s*(?:and|-|–|to)\s*\d{1,2})(\s+[A-Za-z]+)", r"\1\2", text)
    if not text or (article_date is None and not re.search(r"\b\d{4}\b", text)):
        return UNRESOLVED
    found = _parser(article_date).get_date_data(text)
    if found.date_obj is None or found.period not in PRECISIONS:
        return UNRESOLVED
    day, period = found.date_obj.date(), found.period
    if article_date is not None:
        if text.lower() in _WEEKDAYS and (article_date - day).days == 7:
            day = article_date  # "on Tuesday" in Tuesday's paper is that day
        if day > article_date or article_date.year - day.year > MAX_YEARS_BACK:
            return UNRESOLVED
    return TimeValue(_period_start(day, period).isoformat(), period)


def _period_start(day: dt.date, period: str) -> dt.date:
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return day


@lru_cache(maxsize=64)
def _parser(article_date: dt.date | None):
    try:
        from dateparser.date import DateDataParser
    except ImportError:
        raise InputError("resolving dates needs the roles extra: pip install \"conflictclf[roles]\"") from None
    settings: dict = {"PREFER_DATES_FROM": "past", "RETURN_TIME_AS_PERIOD": True, "STRICT_PARSING": False}
    if article_date is not None:
        settings["RELATIVE_BASE"] = dt.datetime.combine(article_date, dt.time(12))
    return DateDataParser(languages=["en"], settings=settings)


# "GAO, Mali, March 3, 2025 (Reuters) -", "KYIV, 14 March 2025 —", "March 3, 2025 -": a place
# in capitals (optional), then a date with its year, then a dash or an agency in brackets.
_DATELINE = re.compile(
    r"^\s*(?:[A-Z][A-Z .'’-]+(?:,\s*[A-Z][A-Za-z .'’-]+)?,\s*)?"
    r"((?:\d{1,2}\s+[A-Z][a-z]+\.?,?\s+\d{4})|(?:[A-Z][a-z]+\.?\s+\d{1,2},?\s+\d{4}))"
    r"\s*(?:\([^)]{1,40}\)\s*)?[-–—:]")


def dateline_date(article: str) -> dt.date | None:
    """The date of a dateline opening the article, when it has one with a year; else None."""
    m = _DATELINE.match(article[:200])
    if not m:
        return None
    found = _parser(None).get_date_data(m.group(1))
    return found.date_obj.date() if found.date_obj is not None and found.period == "day" else None


def check_date_options(roles: bool, date: str | None, date_field: str | None) -> None:
    """batch's --date and --date-field: only with --roles, not both, and a readable date."""
    if (date or date_field) and not roles:
        raise InputError("--date and --date-field resolve times in roles: add --roles")
    if date and date_field:
        raise InputError("give --date or --date-field, not both")
    if date:
        parse_article_date(date)
