"""Count phrases ("at least 12 people", "Thirty-four soldiers", "between 15 and 20") as bounds.

A count is a low and a high bound, either unknown: "three" is 3-3, "at least 7" is 7 and
open above, "nearly 200" open below and 200, "dozens" unknown on both sides. Vague amounts
stay unknown: turning "dozens" into 24 would be a guess an analyst cannot tell from a figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen").split()
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
_WORDS = {w: i for i, w in enumerate(_UNITS)} | _TENS | {"a": 1, "an": 1, "single": 1, "dozen": 12}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
# Lower bound as written: "more than 100" is 100 and open above (the figure the source gave).
_AT_LEAST = ("at least", "more than", "over", "upwards of", "in excess of", "no fewer than", "no less than")
_AT_MOST = ("nearly", "almost", "up to", "fewer than", "less than", "under", "at most", "as many as")
_ABOUT = ("about", "around", "some", "approximately", "roughly", "an estimated", "estimated", "close to")
_NUMBER = r"(?:\d[\d,.]*|(?:[a-z]+(?:[- ](?:and[- ])?[a-z]+)*))"


@dataclass(frozen=True)
class Count:
    low: int | None
    high: int | None

    @property
    def known(self) -> bool:
        return self.low is not None or self.high is not None

    def to_dict(self) -> dict[str, int | None]:
        return {"low": self.low, "high": self.high}


def parse_number(words: str) -> int | None:
    """'1,200' -> 1200, 'Thirty-four' -> 34, 'a hundred' -> 100, 'two dozen' -> 24; None if not a number."""
    w = words.strip().lower()
    if re.fullmatch(r"\d{1,3}(,\d{3})+|\d+", w):
        return int(w.replace(",", ""))
    tokens = [t for t in re.split(r"[\s-]+", w) if t and t != "and"]
    if not tokens:
        return None
    total, current, seen = 0, 0, False
    for tok in tokens:
        if tok in _WORDS:
            value = _WORDS[tok]
            current = current * value if tok == "dozen" and current else current + value
            seen = True
        elif tok in _SCALES and seen:
            current = max(current, 1) * _SCALES[tok]
            if _SCALES[tok] >= 1000:
                total, current = total + current, 0
        elif re.fullmatch(r"\d+", tok) and not seen:
            current, seen = int(tok), True
        else:
            return None
    return total + current if seen else None


def parse_count(phrase: str) -> Count:
    """The bounds a count phrase gives; Count(None, None) when it gives none."""
    text = re.sub(r"\s+", " ", phrase.strip().lower())
    m = re.search(rf"\bbetween ({_NUMBER}) and ({_NUMBER})\b", text) or \
        re.search(r"(?<![\w,])(\d[\d,]*) ?(?:-|–|to) ?(\d[\d,]*)\b", text)
    if m:
        low, high = parse_number(m.group(1)), parse_number(m.group(2))
        if low is not None and high is not None and low <= high:
            return Count(low, high)
    for qualifiers, kind in ((_AT_LEAST, "low"), (_AT_MOST, "high"), (_ABOUT, "both")):
        for q in qualifiers:
            if text.startswith(q + " "):
                n = _leading_number(text[len(q) + 1:])
                if n is not None:
                    return Count(n if kind != "high" else None, n if kind != "low" else None)
    whole = parse_number(text)
    if whole is not None:  # "one hundred and twenty"
        return Count(whole, whole)
    parts = re.split(r",? and |, ", text)
    if len(parts) > 1:  # "an officer and two soldiers": the parts add up when each is a count
        values = [parse_count(p) for p in parts]
        if all(v.low is not None and v.low == v.high for v in values):
            return Count(sum(v.low for v in values), sum(v.low for v in values))  # type: ignore[misc]
        return Count(None, None)
    n = _leading_number(text)
    if n is not None:
        return Count(n, n)
    return Count(1, 1) if _one_person(text) else Count(None, None)


# Plural heads that do not end in -s, and words that make a phrase a vague amount.
_PLURALS = {"people", "men", "women", "children", "police", "personnel", "staff", "troops", "crew", "youth",
            "others", "them", "those", "dead", "wounded", "injured", "casualties", "civilians"}
_VAGUE = {"dozens", "hundreds", "thousands", "scores", "several", "many", "some", "few", "number", "numerous",
          "multiple", "most", "all", "unknown", "unspecified", "others", "more"}


def _one_person(text: str) -> bool:
    """A phrase naming one person with no number: "a sailor", "the village head", "an IRGC
    general", "the commander of the brigade" (the head noun is before "of")."""
    words = re.findall(r"[a-z][a-z'-]*", text.split(" of ")[0])
    if not words or _VAGUE & set(re.findall(r"[a-z]+", text)):
        return False
    head = words[-1]
    return head not in _PLURALS and not (head.endswith("s") and not head.endswith("ss"))


def _leading_number(text: str) -> int | None:
    """The number a phrase starts with ('34 soldiers', 'a dozen people'): the longest run of
    words that still reads as one number."""
    words = text.split()
    for n in range(min(len(words), 6), 0, -1):
        head = " ".join(words[:n])
        if n == 1 and head in ("a", "an"):  # "a soldier" alone is one, but not "a number of"
            return 1 if len(words) > 1 and words[1] not in ("number", "few", "lot", "handful") else None
        value = parse_number(head)
        if value is not None:
            return value
    return None
