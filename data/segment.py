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
# pysbd's cost grows with the square of a line's length (a 800-sentence line took 6 s), so
# lines longer than _MAX_SPAN are first cut where a sentence surely ends: after a lowercase
# word of 3+ letters and [.!?] (not "U.S." or "Gen."), before a capital. Shorter lines, which
# is nearly every news paragraph, go to pysbd whole, exactly as before.
_MAX_SPAN = 2000
_SAFE_END = re.compile(r"(?<=[a-z]{3}[.!?])[’”\"']?\s+(?=[“‘\"']?[A-Z])")
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
    # code or markup, not prose; semicolons alone are not a sign: long prose lines have them
    if sum(c in "{}<>=" for c in t) >= 3:
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
        for offset, sent in _pysbd(line.group()):
            base = line.start() + offset
            for start, end in _split_glued(sent):
                piece = sent[start:end]
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


def _pysbd(line: str) -> list[tuple[int, str]]:
    """(offset in line, sentence) from pysbd, run on safe pieces of a long line."""
    return [(offset + span.start, span.sent) for offset, chunk in _spans(line)
            for span in _segmenter().segment(chunk)]


def _spans(line: str) -> list[tuple[int, str]]:
    """(offset, text) pieces of a line, each at most about _MAX_SPAN characters when it can be cut safely."""
    if len(line) <= _MAX_SPAN:
        return [(0, line)]
    out, start = [], 0
    for m in _SAFE_END.finditer(line):
        if m.end() - start >= _MAX_SPAN // 2:
            out.append((start, line[start:m.end()]))
            start = m.end()
    out.append((start, line[start:]))
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
