"""Whole articles in, one labelled row per sentence out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from conflictclf.data.segment import html_to_text, looks_like_html, segment
from conflictclf.model.classifier import EventClassifier
from conflictclf.model.errors import InputError


@dataclass(frozen=True)
class SentenceResult:
    source: str
    index: int
    start: int
    end: int
    text: str
    labels: list[str]
    scores: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def read_article(path: str | Path) -> str:
    """Text of an article file; HTML is reduced to its visible text. Binary files are refused."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{p}: is a folder, not an article file") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None
    return decode_article(raw, str(p), html=p.suffix.lower() in (".html", ".htm"))


def decode_article(raw: bytes, name: str, html: bool = False) -> str:
    if b"\x00" in raw[:8192]:
        raise InputError(f"{name}: looks like a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    return html_to_text(text) if html or looks_like_html(text) else text


def classify_articles(clf: EventClassifier, articles: Sequence[tuple[str, str]],
                      threshold: float | None = None) -> list[SentenceResult]:
    """Segment every (source, text) pair and classify all sentences in one batched pass."""
    units = [(src, s) for src, text in articles for s in segment(text)]
    preds = clf.predict([s.text for _, s in units], threshold)
    return [SentenceResult(src, s.index, s.start, s.end, s.text, p.labels, p.scores)
            for (src, s), p in zip(units, preds)]
