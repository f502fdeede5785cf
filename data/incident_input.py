"""Sentence rows from `batch --segment --roles` (or `classify --roles --format jsonl`) read
back as articles, for `conflictclf incidents`.

Rows are streamed: an article's rows are gathered while they come one after another (as
batch writes them) and handed on when the next article starts, so the file is never held
whole. A row that cannot be used is rejected with its place and a reason, never dropped;
a file that holds no role spans at all is an error (it was classified without --roles).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conflictclf.data import tabular
from conflictclf.data.errors import InputError
from conflictclf.data.results import GROUP_FIELDS

ORDER_FIELDS = ("sentence_index", "index")


@dataclass
class ArticleSentences:
    name: str
    published: str | None  # ISO date
    outlet: str | None
    sentences: list[dict[str, Any]] = field(default_factory=list)  # text, labels, roles, index, start, end


@dataclass
class RowFields:
    """Which input fields hold what (the CLI's --id-field, --date-field, --outlet-field, --text-field)."""

    id: str = "id"
    date: str | None = "date"
    outlet: str | None = "outlet"
    text: str = "text"


def looks_like_results(path: Path) -> bool:
    """Whether a record file holds classified sentences (labels and scores) rather than articles."""
    for _, rec, _ in tabular.read_rows(path):
        if rec is not None:
            return "labels" in rec and "scores" in rec
    return False


def read_articles(files: list[Path], fields: RowFields, reject: Callable[[str, int, str, Any], None],
                  parse_date: Callable[[str], dt.date]) -> Iterator[ArticleSentences]:
    """Articles from sentence-row files, in file order. `reject(file, row, reason, id)` is told
    of every row left out."""
    done: set[str] = set()
    current: ArticleSentences | None = None
    roles_seen = False
    for f in files:
        for n, rec, problem in tabular.read_rows(f):
            if rec is None:
                reject(str(f), n, problem or "unreadable row", None)
                continue
            roles_seen = roles_seen or "roles" in rec
            row, why = _sentence(rec, fields)
            name = _article_name(rec, fields)
            if why is None and (name is None or isinstance(name, (dict, list))):
                why = f"no {fields.id!r} field naming the row's article (set --id-field)"
            if why is None and str(name) in done:
                why = f"article {name!r} continues after other articles' rows (keep an article's rows together)"
            if why is not None:
                reject(str(f), n, why, name)
                continue
            name = str(name)
            if current is None or current.name != name:
                if current is not None:
                    done.add(current.name)
                    yield current
                published, why = _published(rec, fields, parse_date)
                if why is not None:
                    reject(str(f), n, why, name)
                    current = None
                    continue
                outlet = rec.get(fields.outlet) if fields.outlet else None
                current = ArticleSentences(name, published, str(outlet) if outlet not in (None, "") else None)
            current.sentences.append(row)
    if current is not None:
        yield current
    if not roles_seen:
        raise InputError(f"{files[0]}: no row has `roles`: classify with `batch --segment --roles` "
                         "(or `classify --roles --format jsonl`) first")


def _article_name(rec: dict[str, Any], fields: RowFields) -> Any:
    """The row's article: the --id-field when one is named; with the default, the same rule
    as `report` and `review` (data/results.py), so `classify`'s rows go by their `source`."""
    if fields.id != RowFields.id:
        return rec.get(fields.id)
    return next((rec[f] for f in GROUP_FIELDS if rec.get(f) is not None), None)


def _sentence(rec: dict[str, Any], fields: RowFields) -> tuple[dict[str, Any], str | None]:
    text = rec.get(fields.text)
    if not isinstance(text, str):
        return {}, f"text field {fields.text!r} is missing or not a string (set --text-field)"
    labels = rec.get("labels")
    if isinstance(labels, str):  # CSV output joins them with ';'
        labels = [x for x in labels.split(";") if x]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return {}, "no `labels` list: give the output of batch --segment --roles"
    roles = rec.get("roles", [])
    if isinstance(roles, str):  # Parquet output holds them as JSON text
        try:
            roles = json.loads(roles) if roles else []
        except ValueError:
            return {}, "`roles` is not valid JSON"
    if not isinstance(roles, list) or not all(_span_ok(r, len(text)) for r in roles):
        return {}, "`roles` must be a list of spans with role, start, end and text inside the sentence"
    index = next((rec[k] for k in ORDER_FIELDS if isinstance(rec.get(k), int)), 0)
    start = rec.get("start") if isinstance(rec.get("start"), int) else 0
    end = rec.get("end") if isinstance(rec.get("end"), int) else start + len(text)
    return {"text": text, "labels": labels, "roles": roles, "index": index, "start": start, "end": end}, None


def _span_ok(r: Any, length: int) -> bool:
    return (isinstance(r, dict) and isinstance(r.get("role"), str) and isinstance(r.get("start"), int)
            and isinstance(r.get("end"), int) and 0 <= r["start"] < r["end"] <= length)


def _published(rec: dict[str, Any], fields: RowFields, parse_date: Callable[[str], dt.date]) -> tuple[str | None, str | None]:
    raw = rec.get(fields.date) if fields.date else None
    if raw in (None, ""):
        return None, None
    try:
        return parse_date(str(raw)).isoformat(), None
    except InputError:
        return None, f"date field {fields.date!r}: cannot read {str(raw)[:40]!r} as a date"
