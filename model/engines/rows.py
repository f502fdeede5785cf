"""Rows of one part -> output rows and rejects, the same for both engines.

A record longer than the model's `max_length` tokens would be classified on its
start alone. `BatchOptions.long` says what happens instead: "segment" (the default)
classifies each sentence of the record and gives the row every label any sentence
has and, per label, the highest sentence score, so a label stated late in an
article is not lost; "truncate" keeps the old behaviour; "reject" sends the record to
the rejects with its length. Whatever the policy, a text the model sees only part of
is counted (`truncated`, in the summary and the manifest), never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conflictclf.data import tabular
from conflictclf.data.records import clash_message, clashing_fields, reject, text_problem
from conflictclf.data.segment import segment_text
from conflictclf.model.classifier import EventClassifier, Prediction
from conflictclf.model.engines.common import BatchOptions, reserved_fields, sample_records
from conflictclf.data.errors import InputError

if TYPE_CHECKING:
    from conflictclf.model.events.tagger import RoleTagger

Row = tuple[str, int, dict[str, Any]]  # (file, row number, record)
# Texts this short in ASCII cannot overflow: a token covers at least one character, and
# [CLS]/[SEP]-style special tokens take at most 4; so most sentences skip a second tokenizing.
SPECIAL_TOKENS = 4


@dataclass
class Part:
    """A part's output: rows (for Parquet, tables), rejects, and its counts."""
    rows: Any
    rejects: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    texts: list[str] = field(default_factory=list)
    # where each text starts in its row's text field (a long record's sentences; None: not verbatim)
    starts: list[int | None] = field(default_factory=list)
    dates: list[Any] = field(default_factory=list)  # per row: the article date for roles' times
    rows: list[tuple[dict[str, Any], list[int]]] = field(default_factory=list)  # (columns, text indices)
    origin: list[tuple[str, int]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"classified": 0, "truncated": 0, "split": 0, "markup": 0})

    def add(self, columns: dict[str, Any], texts: list[str], where: tuple[str, int],
            starts: list[int | None] | None = None, date: Any = None) -> None:
        self.rows.append((columns, list(range(len(self.texts), len(self.texts) + len(texts)))))
        self.texts.extend(texts)
        self.starts.extend(starts if starts is not None else [0] * len(texts))
        self.dates.append(date)
        self.origin.append(where)


def check_fields(files: list[Path], opts: BatchOptions, fmt: str, labels: list[str]) -> None:
    """Refuse up front an input whose fields batch output would overwrite, where the fields are visible:
    CSV and Parquet declare theirs, JSONL shows them in its first records. A later JSONL record with
    such a field is rejected with the same reason, so none is overwritten."""
    reserved = reserved_fields(opts.segment, fmt, labels, opts.roles)
    for f in files:
        clash = clashing_fields(tabular.fields(f) or [], reserved)
        if clash:
            raise InputError(f"{f}: {clash_message(clash)}")
    for rec in sample_records(files):
        clash = clashing_fields(rec, reserved)
        if clash:
            raise InputError(f"{files[0].parent if len(files) > 1 else files[0]}: {clash_message(clash)}")


def classify_part(clf: EventClassifier, good: list[Row], opts: BatchOptions, out_fmt: str,
                  tagger: RoleTagger | None = None) -> Part:
    """Classify (file, row number, record) rows; for Parquet, fit them into one schema (`parquet_fit`).

    `tagger` (with `opts.roles`): each row also gets `roles`, its labelled texts' spans and values."""
    reserved = reserved_fields(opts.segment, out_fmt, clf.labels, opts.roles)
    pending = _Pending()
    # one tokenizer call for the whole part, not one per record
    texts = [i for i, (_, _, rec) in enumerate(good) if text_problem(rec.get(opts.text_field), opts.text_field) is None]
    long = {} if opts.segment else dict(zip(texts, overflowing(clf, [good[i][2][opts.text_field] for i in texts])))
    for i, (file, n, rec) in enumerate(good):
        reason = text_problem(rec.get(opts.text_field), opts.text_field)
        clash = clashing_fields(rec, reserved)
        if reason is None and clash:
            reason = clash_message(clash)
        date, date_problem = _article_date(rec, opts)
        reason = reason or date_problem
        if reason is None and opts.segment:
            reason = _add_sentences(clf, rec, opts, pending, (file, n), date)
        elif reason is None:
            reason = _add_record(clf, rec, opts, pending, (file, n), long[i], date)
        if reason is None:
            pending.counts["classified"] += 1
        else:
            pending.rejects.append(reject(file, n, reason, rec.get(opts.id_field)))
    preds = clf.predict(pending.texts, threshold=opts.threshold, batch_size=opts.batch_size)
    rows = [cols | _merge(clf.labels, [preds[i] for i in idx]) for cols, idx in pending.rows]
    if opts.roles:
        from conflictclf.model.events.tagger import cached_tagger

        _add_roles(tagger or cached_tagger(clf.path), rows, pending, preds, out_fmt)
    counts = pending.counts | {"output_rows": len(rows)}
    if out_fmt != "parquet":
        return Part(rows, pending.rejects, counts)
    from conflictclf.data import parquet_fit  # pyarrow: only for Parquet output, not at start-up
    tables, misfits = parquet_fit.rows_to_tables(rows, pending.origin, opts.id_field)
    counts["classified"] -= len(misfits)
    counts["output_rows"] = sum(t.num_rows for t in tables)
    return Part(tables, pending.rejects + misfits, counts)


def _article_date(rec: dict[str, Any], opts: BatchOptions) -> tuple[Any, str | None]:
    """(the record's article date for roles, or a reason to reject the record)."""
    if not opts.roles or not (opts.date or opts.date_field):
        return None, None
    from conflictclf.model.events.dates import parse_article_date

    raw = opts.date if opts.date else rec.get(opts.date_field)  # type: ignore[arg-type]
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None  # no date: relative times stay unresolved, and say so in their values
    try:
        return parse_article_date(str(raw)), None
    except InputError:
        return None, f"date field {opts.date_field!r}: cannot read {str(raw)[:40]!r} as a date"


def _add_roles(tagger: RoleTagger, rows: list[dict[str, Any]], pending: _Pending, preds: list[Prediction],
               out_fmt: str) -> None:
    """Every row's `roles`: spans of its labelled texts, offsets into the row's text field
    (a long record's sentences shifted by where each starts; one not found verbatim keeps
    offsets into itself and says which sentence with `sentence`)."""
    import json

    from conflictclf.model.events.roles import with_values

    # one tagging pass over the part's labelled texts (batched), then values row by row
    labelled = [i for i, p in enumerate(preds) if p.labels]
    spans: dict[int, list] = dict(zip(labelled, tagger.tag([pending.texts[i] for i in labelled])))
    for row, (_, idx), date in zip(rows, pending.rows, pending.dates):
        found = with_values([spans.get(i, []) for i in idx], date)
        out = []
        for k, (i, roles) in enumerate(zip(idx, found)):
            for r in roles:
                d = r.to_dict()
                start = pending.starts[i]
                if start is None:
                    d["sentence"] = k
                else:
                    d["start"], d["end"] = d["start"] + start, d["end"] + start
                out.append(d)
        # Parquet needs one schema per column, and each role kind's value has its own shape
        row["roles"] = json.dumps(out, ensure_ascii=False) if out_fmt == "parquet" else out


def _add_record(clf: EventClassifier, rec: dict[str, Any], opts: BatchOptions, pending: _Pending,
                where: tuple[str, int], too_long: bool, date: Any = None) -> str | None:
    """One output row for the record; returns a reject reason instead where --long reject says so."""
    text = rec[opts.text_field]
    if not too_long:
        pending.add(rec, [text], where, date=date)
        return None
    if opts.long == "reject":
        return f"text is longer than the model's {clf.max_length} tokens (--long reject)"
    sentences, starts = [], []
    if opts.long == "segment":
        seg = segment_text(text)
        sentences = [s.text for s in seg.sentences]
        starts = [s.start if text[s.start:s.end] == s.text else None for s in seg.sentences]
        pending.counts["markup"] += seg.markup if sentences else 0
    if sentences:
        pending.counts["split"] += 1
        pending.counts["truncated"] += any(overflowing(clf, sentences))
        pending.add(rec, sentences, where, starts, date)
    else:  # --long truncate, or no sentence left to split into: the start only, counted
        pending.counts["truncated"] += 1
        pending.add(rec, [text], where, date=date)
    return None


def _add_sentences(clf: EventClassifier, rec: dict[str, Any], opts: BatchOptions, pending: _Pending,
                   where: tuple[str, int], date: Any = None) -> str | None:
    """--segment: one output row per sentence, with its index and character offsets."""
    seg = segment_text(rec[opts.text_field])
    sentences = seg.sentences
    if not sentences:
        return "no sentences left after segmentation"
    pending.counts["markup"] += seg.markup
    long = overflowing(clf, [s.text for s in sentences])
    if any(long) and opts.long == "reject":
        first = long.index(True)
        return f"sentence {first} is longer than the model's {clf.max_length} tokens (--long reject)"
    pending.counts["truncated"] += any(long)
    base = {k: v for k, v in rec.items() if k != opts.text_field}
    for s in sentences:
        extra = {"sentence_index": s.index, "start": s.start, "end": s.end, opts.text_field: s.text}
        pending.add(base | extra, [s.text], where, date=date)
    return None


def overflowing(clf: EventClassifier, texts: list[str]) -> list[bool]:
    """Whether each text is longer than the model's max_length tokens."""
    limit = clf.max_length - SPECIAL_TOKENS
    check = [i for i, t in enumerate(texts) if not (t.isascii() and len(t) <= limit)]
    flags = [False] * len(texts)
    for i, over in zip(check, clf.tokenizer.overflows([texts[i] for i in check]) if check else []):
        flags[i] = over
    return flags


def _merge(labels: list[str], preds: list[Prediction]) -> dict[str, Any]:
    """One row's labels and scores from its texts: any text's labels, each label's highest score."""
    if len(preds) == 1:
        return {"labels": preds[0].labels, "scores": preds[0].scores}
    hit = {lab for p in preds for lab in p.labels}
    return {"labels": [lab for lab in labels if lab in hit],
            "scores": {lab: max(p.scores[lab] for p in preds) for lab in labels}}
