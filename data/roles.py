"""Role spans inside a sentence: who did what to whom, where, when, how many.

A record carries them in a `roles` field, a list of
`{"role": "place", "start": 61, "end": 68, "text": "Mae Sot"}`, offsets in characters
(Python string indices) into the record's `text`. A record without the field is not
annotated for roles; an empty list says it was, and holds none. The rules for each role
are in data/GUIDELINES.md ("Roles").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conflictclf.data.corpus import Record
from conflictclf.data.errors import DataError

# Column order of the role tagger's outputs and of every per-role table.
ROLES: tuple[str, ...] = ("perpetrator", "target", "speaker", "place", "time", "killed", "injured", "means")
ROLES_FIELD = "roles"


@dataclass(frozen=True)
class Span:
    """One role span; `text` is always `sentence[start:end]`."""

    role: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, object]:
        return {"role": self.role, "start": self.start, "end": self.end, "text": self.text}


def parse_spans(value: object, text: str, where: str, roles: Sequence[str] = ROLES) -> tuple[Span, ...]:
    """The `roles` field of a record, checked against its text; DataError('where: reason') if wrong."""
    if not isinstance(value, list):
        raise DataError(f"{where}: 'roles' must be a list of spans")
    spans: list[Span] = []
    for i, item in enumerate(value):
        at = f"{where}: roles[{i}]"
        if not isinstance(item, dict):
            raise DataError(f"{at}: expected an object with role, start, end")
        role, start, end = item.get("role"), item.get("start"), item.get("end")
        if role not in roles:
            raise DataError(f"{at}: unknown role {role!r} (known: {', '.join(roles)})")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            raise DataError(f"{at}: start and end must be integers")
        if not 0 <= start < end <= len(text):
            raise DataError(f"{at}: offsets {start}-{end} fall outside the sentence (length {len(text)})")
        piece = text[start:end]
        if piece != piece.strip():
            raise DataError(f"{at}: span {piece!r} starts or ends with a space")
        if "text" in item and item["text"] != piece:
            raise DataError(f"{at}: text {item['text']!r} is not the sentence's {piece!r} at {start}-{end}")
        spans.append(Span(role, start, end, piece))
    if len(set(spans)) != len(spans):
        raise DataError(f"{where}: the same span is given twice with the same role")
    return tuple(sorted(spans, key=lambda s: (s.start, s.end, roles.index(s.role))))


def record_spans(rec: Record, roles: Sequence[str] = ROLES) -> tuple[Span, ...] | None:
    """A record's role spans, or None when it is not annotated for roles."""
    if ROLES_FIELD not in rec.extra:
        return None
    return parse_spans(rec.extra[ROLES_FIELD], rec.text, rec.where, roles)


def annotated(records: Iterable[Record], roles: Sequence[str] = ROLES) -> list[tuple[Record, tuple[Span, ...]]]:
    """The records that carry role annotations, with their checked spans."""
    out = []
    for rec in records:
        spans = record_spans(rec, roles)
        if spans is not None:
            out.append((rec, spans))
    return out
