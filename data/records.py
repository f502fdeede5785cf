"""Record-level helpers shared by the batch engines and the Parquet fitting: rejects and field checks.

Plain functions on dicts, with no model behind them, so that `data/` modules can
use them without reaching up into `model/`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def reject(file: str, line: int, reason: str, rid: Any = None) -> dict[str, Any]:
    """One line of a rejects file: where the row came from, its id if known, and why it is not in the output."""
    return {"file": file, "line": line, "id": rid, "reason": reason}


def jsonl_text(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)


def text_problem(text: Any, name: str) -> str | None:
    """Why `text` cannot be classified, or None when it can."""
    if text is None:
        return f"missing text field {name!r}"
    if not isinstance(text, str):
        return f"text field {name!r} is not a string ({type(text).__name__})"
    if not text.strip():
        return f"empty text in field {name!r}"
    bad = surrogate_problem(text)
    return f"text field {name!r} {bad}" if bad else None


def surrogate_problem(text: str) -> str | None:
    """Why `text` is not valid Unicode, or None. JSON may escape half of a UTF-16 pair
    ("\\ud800"), and undecodable bytes in a command-line argument arrive as lone surrogates;
    the tokenizer and every UTF-8 writer fail on them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"holds {text[exc.start]!a} at character {exc.start}, half of a UTF-16 surrogate pair or an "
                "undecodable byte (not valid Unicode text)")
    return None


def clash_message(names: Iterable[str]) -> str:
    """The one wording for input fields that batch output would overwrite."""
    listed = ", ".join(repr(n) for n in sorted(names))
    return (f"input field(s) {listed} would be overwritten by batch output columns of the same name; "
            "rename them in the input")


def clashing_fields(record: dict[str, Any] | Iterable[str], reserved: frozenset[str]) -> list[str]:
    """The record's fields (or the given field names) that batch writes its own output under."""
    return sorted(reserved.intersection(record))
