"""The two maps between scores and logits, used by every room (numpy only, cheap to import).

Scores are per-label sigmoids of the model's logits (multi-label, not softmax). Thresholds,
the int8 recheck margin and calibration all work on logits, so both directions are needed;
each is defined here once so that all of them round alike.
"""

from __future__ import annotations

import numpy as np

# Probabilities are clipped this far from 0 and 1 before taking logits: float32 sigmoid
# outputs reach exactly 1.0 from a logit of ~17, and log(0) must not appear.
EPS = 1e-7


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Scores in [0, 1] from logits, computed in float64 (float32 overflows in exp)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def logit(p: np.ndarray) -> np.ndarray:
    """Logits from scores, in float64; 0 and 1 map to about -16 and 16, never infinity."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))
