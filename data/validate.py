"""Corpus checks (`conflictclf data validate`) and statistics (`conflictclf data stats`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conflictclf.data.corpus import SPEC_LABELS, SPLITS, Record, bundled_corpus_files, expand_paths, parse_line
from conflictclf.data.dedup import near_duplicate_pairs, normalise
from conflictclf.data.errors import DataError

# "annotated": records made by `conflictclf data import` from annotation tool exports
# "annotated": records made by `conflictclf data import` from annotation tool exports
SOURCES = ("seed", "written", "annotated")
CORPUS_FIELDS = ("source", "doc", "split")


@dataclass
class Stats:
    n: int
    by_split: dict[str, Counter]  # split -> label -> count ("none" for the empty set, "_n" for sentences)
    combos: Counter  # "attack+claim" -> count
    sources: Counter

    @property
    def none_share(self) -> float:
        return sum(c["none"] for c in self.by_split.values()) / self.n if self.n else 0.0


def read_all(paths: Sequence[str | Path] | None) -> tuple[list[Record], list[str]]:
    """Every parseable record and a `file:line: reason` for every line that is not."""
    files = expand_paths(paths) if paths else bundled_corpus_files()
    records, problems = [], []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(f"{path}:0: cannot read ({exc.strerror})")
            continue
        # line by line, so one line in another encoding is reported where it is and the
        # others are still checked; bytes split on newlines only, as JSONL means
        for n, line in enumerate(data.splitlines(), start=1):
            try:
                raw = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(f"{path}:{n}: not UTF-8 text (byte {exc.start + 1} of the line)")
                continue
            if not raw.strip():
                problems.append(f"{path}:{n}: blank line")
                continue
            try:
                records.append(parse_line(raw, str(path), n))
            except DataError as exc:
                problems.append(str(exc))
    return records, problems


def validate(paths: Sequence[str | Path] | None = None, labels: Sequence[str] = SPEC_LABELS) -> tuple[list[str], Stats]:
    records, problems = read_all(paths)
    allowed = set(labels)
    first_id: dict[str, Record] = {}
    for r in records:
        for lab in r.labels:
            if lab not in allowed:
                problems.append(f"{r.where}: unknown label {lab!r} (known: {', '.join(labels)})")
        if r.id in first_id:
            problems.append(f"{r.where}: duplicate id {r.id!r} (first at {first_id[r.id].where})")
        first_id.setdefault(r.id, r)
        for key in CORPUS_FIELDS:
            value = r.split if key == "split" else r.doc if key == "doc" else r.source
            if value in (None, ""):
                problems.append(f"{r.where}: missing field {key!r}")
        if r.source is not None and r.source not in SOURCES:
            problems.append(f"{r.where}: unknown source {r.source!r} (expected {', '.join(SOURCES)})")
        problems.extend(_role_problems(r))
    problems.extend(_cross_split_duplicates(records))
    return sorted(set(problems), key=_sort_key), stats(records)


def _role_problems(r: Record) -> list[str]:
    """Role spans that do not fit the sentence, or spans on a sentence with no label (the
    guide annotates roles of labelled sentences only)."""
    from conflictclf.data.roles import record_spans

    try:
        spans = record_spans(r)
    except DataError as exc:
        return [str(exc)]
    if spans and not r.labels:
        return [f"{r.where}: role spans on a sentence with no label"]
    return []


def _cross_split_duplicates(records: list[Record]) -> list[str]:
    out = []
    for i, j, cos in near_duplicate_pairs([r.text for r in records]):
        a, b = records[i], records[j]
        if a.split and b.split and a.split != b.split:
            kind = "duplicate" if normalise(a.text) == normalise(b.text) else f"near-duplicate (cosine {cos:.2f})"
            out.append(f"{b.where}: {kind} of {a.where} crosses splits ({a.split} / {b.split})")
    return out


def _sort_key(problem: str) -> tuple[str, int]:
    path, _, rest = problem.partition(":")
    line = rest.partition(":")[0]
    return path, int(line) if line.isdigit() else 0


def stats(records: Sequence[Record]) -> Stats:
    by_split: dict[str, Counter] = {}
    for r in records:
        c = by_split.setdefault(r.split or "unsplit", Counter())
        c["_n"] += 1
        c.update(r.labels or ["none"])
    ordered = {s: by_split[s] for s in (*SPLITS, "unsplit") if s in by_split}
    combos = Counter("+".join(r.labels) if r.labels else "none" for r in records)
    return Stats(len(records), ordered, combos, Counter(r.source or "?" for r in records))
