"""Each label's colour, once, for the terminal table and the HTML report alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Colour(NamedTuple):
    terminal: str  # a rich colour name
    html: str  # the same hue, darkened to read on white


LABEL_COLOURS = {
    "attack": Colour("red", "#c62828"),
    "retaliation": Colour("magenta", "#8e24aa"),
    "claim": Colour("yellow", "#b26a00"),
    "threat": Colour("cyan", "#00838f"),
}
# Labels a retrained model adds take these in turn on the page (green in the terminal).
FALLBACK_HTML = ("#2e7d32", "#1565c0", "#6d4c41", "#ad1457", "#455a64", "#558b2f")
# The terminal table's view of the same table (unknown labels there print green).
TERMINAL_COLOURS = {lab: c.terminal for lab, c in LABEL_COLOURS.items()}


def html_colours(labels: Sequence[str]) -> dict[str, str]:
    """A colour per label, a known label's own or else the next fallback by position."""
    return {lab: LABEL_COLOURS[lab].html if lab in LABEL_COLOURS else FALLBACK_HTML[i % len(FALLBACK_HTML)]
            for i, lab in enumerate(labels)}
