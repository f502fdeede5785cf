"""Article text -> sentences with character offsets, page furniture dropped.

pysbd does the sentence splitting (abbreviations, quotes, numbers); this module adds
what news pages need on top: each line is its own unit (headlines stand alone),
sentences glued by a missing space ("on October 7.Iranian media") are split, and
store links, share lines, "Source » ..." and script fragments are dropped.

Markup pasted into plain text (`<b>airbase</b>`, an `<img ...>`, a `<script>` block) is
stripped before anything else, so the prose around it survives; `segment_text` counts
what was stripped and what was dropped, so a caller can say so instead of losing it silently.
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
# Markup in plain text: script/style blocks with their content (closed, or to the line's end
# when pasted without their end tag), comments, and tags. A tag must start with a letter or
# "/", so prose such as "a < b and c > d" is not taken for markup.
_MARKUP = re.compile(
    r"<(script|style)\b[^>]*>(?:.*?</\1\s*>|[^\n]*)|<!--.*?(?:-->|$)|</?[A-Za-z][\w:-]*(?:\s[^<>\n]*)?/?>",
    re.IGNORECASE | re.DOTALL)
# Tags that sit inside a word ("air<b>base</b>"): removed without leaving a space.
_INLINE = re.compile(r"</?(b|i|u|em|strong|span|a|font|sup|sub|small|mark|abbr)\b[^>]*>", re.IGNORECASE)
_BLOCK = re.compile(r"</?(p|div|br|h[1-6]|li|tr|article|section|header|footer|title)\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Sentence:
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Segmented:
    """An article's sentences, and what segmentation left out of them."""

    sentences: list[Sentence]
    markup: int  # tags, comments and script/style blocks stripped from the text
    dropped: int  # lines or pieces left out as page furniture or code


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
    """Sentences of `text` in order; `text[s.start:s.end] == s.text` for each (see `segment_text` for markup)."""
    return segment_text(text).sentences


def segment_text(text: str) -> Segmented:
    """Sentences of `text`, with counts of the markup stripped and the furniture dropped.

    Markup is blanked out with spaces before splitting, so offsets still index `text`:
    `text[s.start:s.end] == s.text` holds for every sentence without markup inside; a
    sentence with markup inside spans it in `text` and its `text` has the markup removed.
    """
    masked, markup = _mask_markup(text)
    out: list[Sentence] = []
    dropped = 0
    for line in re.finditer(r"[^\n]+", masked):
        if not line.group().strip():
            continue
        if is_furniture(line.group()):
            dropped += 1
            continue
        for offset, sent in _pysbd(line.group()):
            base = line.start() + offset
            for start, end in _split_glued(sent):
                piece = sent[start:end]
                if out and _ONLY_CLOSERS.match(piece):
                    # a closing quote pysbd cut off belongs to the sentence before it
                    prev = out[-1]
                    new_end = base + start + len(piece.rstrip())
                    out[-1] = Sentence(prev.index, prev.start, new_end, _clean(text, masked, prev.start, new_end))
                    continue
                lead = len(piece) - len(piece.lstrip())
                piece = piece.strip()
                if not piece:
                    continue
                if is_furniture(piece):
                    dropped += 1
                    continue
                s = base + start + lead
                out.append(Sentence(len(out), s, s + len(piece), _clean(text, masked, s, s + len(piece))))
    return Segmented(out, markup, dropped)


def _mask_markup(text: str) -> tuple[str, int]:
    """`text` with every piece of markup replaced by spaces (newlines kept), and how many pieces."""
    found = 0

    def blank(m: re.Match) -> str:
        nonlocal found
        found += 1
        return re.sub(r"[^\n]", " ", m.group())

    return _MARKUP.sub(blank, text), found


def _clean(text: str, masked: str, start: int, end: int) -> str:
    """The sentence at [start, end): as written when no markup was blanked inside it, else
    without the markup (inline tags glue their neighbours) and with spaces collapsed."""
    original = text[start:end]
    if masked[start:end] == original:
        return original
    return " ".join(_MARKUP.sub(" ", _INLINE.sub("", original)).split())


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
