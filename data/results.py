"""Classify/batch results read back, and the one rule for which article a row belongs to.

`conflictclf report` and `conflictclf review` both read these files. They share this module
so that one file splits into the same articles in both: the report's sections are the
documents that review tasks carry, and that `data import` later keeps together in one split.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conflictclf.data.errors import InputError

# Fields that name the article a row belongs to, most specific first. `doc` and `article`
# only ever name a document; `id` names the article in `batch --segment` output (the input
# record's id) and a row otherwise; `classify` writes `source` (the file), but in a corpus
# `source` names where the text came from, which holds many documents, so it comes after `id`.
GROUP_FIELDS = ("doc", "article", "id", "source", "url", "file")
# Fields giving a row's place in its article: `batch --segment` adds `sentence_index` beside
# whatever the record held (which may include its own `index`), `classify` writes `index`,
# and imported annotations carry `order`.
ORDER_FIELDS = ("sentence_index", "index", "order")
NEEDED = "no 'labels' and 'scores': give the output of classify or batch"


@dataclass
class ResultRow:
    """One classified sentence, checked, with the row it came from."""

    where: str  # "file:line" (or "row N" for records in memory), for messages
    line: int
    text: str
    labels: list[str]
    scores: dict[str, float]
    rationales: dict[str, list[dict[str, Any]]]
    fields: dict[str, Any]  # the row as read: ids, offsets and the user's own fields

    @property
    def order(self) -> int | None:
        return next((v for f in ORDER_FIELDS if _is_int(v := self.fields.get(f))), None)

    def offset(self, name: str) -> int | None:
        value = self.fields.get(name)
        return value if _is_int(value) else None


@dataclass
class Article:
    name: str
    rows: list[ResultRow] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(lab for r in self.rows for lab in r.labels)


def read_results(path: str | Path, text_field: str = "text") -> list[ResultRow]:
    """Rows of a `classify --format jsonl` or `batch ... out.jsonl` file, each checked; a bad
    line is an InputError naming file and line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder, not a results file") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{p}:{n}: invalid JSON ({exc.__class__.__name__}); "
                             "give the JSONL output of classify or batch") from None
        rows.append(parse_row(raw, text_field, f"{p}:{n}", n))
    if not rows:
        raise InputError(f"{p}: holds no results")
    return rows


def read_articles(path: str | Path, text_field: str = "text", group_by: str | None = None) -> list[Article]:
    """A results file as articles: what `report` shows and what `review` hands out, alike."""
    return group_articles(read_results(path, text_field), group_by, default_name=Path(path).name)


def rows_from_records(records: Iterable[dict[str, Any]], text_field: str = "text") -> list[ResultRow]:
    """Records held in memory (classify's own output) as checked rows."""
    return [parse_row(r, text_field, f"row {k}", k) for k, r in enumerate(records, 1)]


def parse_row(raw: Any, text_field: str, where: str, line: int) -> ResultRow:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    text = raw.get(text_field)
    if not isinstance(text, str):
        problem = "missing" if text is None else f"not a string ({type(text).__name__})"
        raise InputError(f"{where}: text field {text_field!r} is {problem} (set --text-field)")
    if "labels" not in raw or "scores" not in raw:
        raise InputError(f"{where}: {NEEDED}")
    labels = raw["labels"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise InputError(f"{where}: `labels` must be a list of label names")
    scores = raw["scores"]
    if not isinstance(scores, dict) or not all(_is_probability(v) for v in scores.values()):
        raise InputError(f"{where}: `scores` must map labels to numbers between 0 and 1")
    rationales = raw.get("rationales") or {}
    _check_rationales(rationales, len(text), where)
    return ResultRow(where, line, text, labels, {str(k): float(v) for k, v in scores.items()}, rationales, raw)


def _check_rationales(rationales: Any, length: int, where: str) -> None:
    if not isinstance(rationales, dict):
        raise InputError(f"{where}: `rationales` must map labels to lists of spans")
    for lab, spans in rationales.items():
        for r in spans if isinstance(spans, list) else [None]:
            ok = isinstance(r, dict) and _is_int(r.get("start")) and _is_int(r.get("end"))
            if not ok or not 0 <= r["start"] < r["end"] <= length:
                raise InputError(f"{where}: bad rationale span for {lab!r} (need start < end within the text)")


def article_field(rows: Sequence[ResultRow], group_by: str | None = None) -> str | None:
    """The field naming each row's article: `group_by` if given, else the first of
    GROUP_FIELDS that every row holds; None when no field does (one article for the file)."""
    if group_by is not None:
        for r in rows:
            if r.fields.get(group_by) is None:
                raise InputError(f"{r.where}: no {group_by!r} field to group by")
        return group_by
    return next((f for f in GROUP_FIELDS if rows and all(r.fields.get(f) is not None for r in rows)), None)


def group_articles(rows: Sequence[ResultRow], group_by: str | None = None,
                   default_name: str = "results") -> list[Article]:
    """Rows -> articles in first-seen order, each in reading order (its order field, then file
    order). Every row lands in exactly one article."""
    key = article_field(rows, group_by)
    articles: dict[str, list[tuple[int, int, ResultRow]]] = {}
    for k, row in enumerate(rows):
        name = str(row.fields[key]) if key else default_name
        order = row.order
        articles.setdefault(name, []).append((k if order is None else order, k, row))
    return [Article(name, [r for _, _, r in sorted(items, key=lambda x: (x[0], x[1]))])
            for name, items in articles.items()]


def label_order(articles: Sequence[Article], known: Sequence[str] = ()) -> list[str]:
    """Labels in a stable order: `known` first, then as they appear in scores and labels."""
    seen: dict[str, None] = dict.fromkeys(known)
    for a in articles:
        for r in a.rows:
            seen.update(dict.fromkeys(r.scores))
            seen.update(dict.fromkeys(r.labels))
    return list(seen)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_probability(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1
