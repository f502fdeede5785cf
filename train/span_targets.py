"""Token targets for role spans: what a token head learns, for the role tagger
(train/roles.py) and for joint training (train/joint.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from conflictclf.data.roles import ROLES, Span

IGNORE = -100.0  # a target no loss sees: special tokens, padding, sentences without spans


def token_targets(offsets: Sequence[tuple[int, int]], special: Sequence[int], spans: Sequence[Span],
                  roles: Sequence[str] = ROLES) -> np.ndarray:
    """(tokens x 2*roles) targets: 1 where a token begins (B) or continues (I) a span of the
    role, IGNORE on special tokens, 0 elsewhere."""
    y = np.zeros((len(offsets), 2 * len(roles)), dtype=np.float32)
    for t, flag in enumerate(special):
        if flag:
            y[t] = IGNORE
    for span in spans:
        k = roles.index(span.role)
        first = True
        for t, (a, b) in enumerate(offsets):
            if special[t] or b <= a or b <= span.start or a >= span.end:
                continue
            y[t, 2 * k + (0 if first else 1)] = 1.0
            first = False
    return y
