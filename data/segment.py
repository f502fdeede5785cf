"""Article text -> sentences with character offsets, page furniture dropped.

pysbd does the sentence splitting (abbreviations, quotes, numbers); this module adds
what news pages need on top: each line is its own unit (headlines stand alone),
sentences glued by a missing space ("on October 7.Iranian media") are split, and
store links, share lines, "Source » ..." and script fragments are dropped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

_GLUED = re.compile(r"(?<=[a-z0-9%)\]])[.!?](?=[A-Z][a-z])")
# pysbd keeps "... drones.’ Iraqi militias announced" together; split after the closing quote.
_QUOTE_END = re.compile(r"(?<=[.!?][’”\"'])\s+(?=[“‘\"']?[A-Z])")
_ONLY_CLOSERS = re.compile(r"^[’”\"')\]\s]+$")
_FURNITURE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^source\s*[»>:|]",                       # "Source » jpost"
        r"^[\w .'’-]{0,40}\b(store|shop|newsletter|podcasts?)$",  # "Jerusalem Post Store"
        r"^(share|tweet|email|print|advertisement|sponsored|subscribe|sign up|log in|read more|"
        r"related( articles| stories)?|click here|follow us|recommended|most read|comments?)\b.{0,60}$",
        r"document\.|getElementById|innerHTML|function\s*\(|\bvar\s+\w+\s*=|window\.|=>|!==|===",
        r"^(https?://|www\.)\S+$",
        r"^(©|copyright\b|all rights reserved)",
        r"^(photo|image|video|credit)\s*:",
    )
]
_HAS_WORD = re.compile(r"[^\W\d_]{2,}")
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]+>", re.IGNORECASE | re.DOTALL)
_BLOCK = re.compile(r"</?(p|div|br|h[1-6]|li|tr|article|section|header|footer|title)\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Sentence:
    index: int
    start: int
    end: int
    text: str


def is_furniture(text: str) -> bool:
    """Page chrome or markup rather than article prose."""
    t = text.strip()
    if not _HAS_WORD.search(t):
        return True
    if sum(c in "{};<>=" for c in t) >= 3:  # code or markup, not prose
        return True
    return any(p.search(t) for p in _FURNITURE)


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def segment(text: str) -> list[Sentence]:
    """Sentences of `text` in order; `text[s.start:s.end] == s.text` for each."""
    out: list[Sentence] = []
    for line in re.finditer(r"[^\n]+", text):
        if not line.group().strip() or is_furniture(line.group()):
            continue
        for span in _segmenter().segment(line.group()):
            base = line.start() + span.start
            for start, end in _split_glued(span.sent):
                piece = span.sent[start:end]
                if out and _ONLY_CLOSERS.match(piece):
                    # a closing quote pysbd cut off belongs to the sentence before it
                    prev = out[-1]
                    new_end = base + start + len(piece.rstrip())
                    out[-1] = Sentence(prev.index, prev.start, new_end, text[prev.start:new_end])
                    continue
                lead = len(piece) - len(piece.lstrip())
                piece = piece.strip()
                if piece and not is_furniture(piece):
                    s = base + start + lead
                    out.append(Sentence(len(out), s, s + len(piece), piece))
    return out


def _split_glued(sent: str) -> list[tuple[int, int]]:
    cuts = sorted({m.end() for m in _GLUED.finditer(sent)} | {m.start() for m in _QUOTE_END.finditer(sent)})
    bounds = [0, *cuts, len(sent)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if a < b]


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page, one block element per line (scripts and styles dropped)."""
    text = _BLOCK.sub("\n", re.sub(r"<(script|style)\b.*?</\1\s*>", "", markup, flags=re.IGNORECASE | re.DOTALL))
    text = html.unescape(_TAG.sub(" ", text))
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def looks_like_html(text: str) -> bool:
    head = text[:2000].lower()
    return "<html" in head or "<!doctype html" in head or len(re.findall(r"</?(p|div|span|a|br)\b", head)) >= 3
