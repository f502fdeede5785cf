"""Exact and near-duplicate detection between sentences (TF-IDF cosine on normalised words)."""

from __future__ import annotations

import re
from collections.abc import Sequence


# Cosine on word 1-2-grams above which two sentences count as near-duplicates:
# a swapped name or number stays above it, a rewritten sentence falls well below.
NEAR_DUPLICATE_COSINE = 0.85
_CHUNK = 2048


def normalise(text: str) -> str:
    """Lowercase, digits to 0, punctuation dropped: 'Killed 12.' == 'killed 13'."""
    text = re.sub(r"\d", "0", text.lower())
    return " ".join(re.findall(r"\w+", text))


def near_duplicate_pairs(texts: Sequence[str], threshold: float = NEAR_DUPLICATE_COSINE) -> list[tuple[int, int, float]]:
    """All pairs (i, j, cosine) with i < j whose normalised texts are near-identical."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    norm = [normalise(t) for t in texts]
    if len(norm) < 2:
        return []
    try:
        x = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\b\w+\b").fit_transform(norm)
    except ValueError:  # every text empty after normalisation
        return []
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, x.shape[0], _CHUNK):
        sims = (x[start:start + _CHUNK] @ x.T).tocoo()
        for i, j, v in zip(sims.row + start, sims.col, sims.data):
            if i < j and v >= threshold:
                pairs.append((int(i), int(j), float(v)))
    # Identical normalised strings are duplicates even when TF-IDF drops all their words.
    first: dict[str, int] = {}
    have = {(i, j) for i, j, _ in pairs}
    for j, n in enumerate(norm):
        i = first.setdefault(n, j)
        if i != j and (i, j) not in have:
            pairs.append((i, j, 1.0))
    return sorted(pairs)
