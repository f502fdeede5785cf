"""Calibrated scores: a per-label monotone map from raw sigmoid scores to probabilities.

Each label gets `p' = sigmoid(scale * logit(p) + bias)` with `scale > 0` (Platt scaling on
the logit; temperature scaling is the special case `bias = 0`, `scale = 1 / T`). The map is
strictly increasing, so mapping every threshold through it leaves every decision as it was:
only the numbers change, to ones that can be read as "how often a sentence scored like this
carries the label". The parameters are fitted on the dev split (conflictclf.train.calibration)
and stored under "calibration" in conflictclf.json; a model without that key is served raw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from conflictclf.data.errors import ModelError
from conflictclf.model.scores import logit, sigmoid

META_KEY = "calibration"


@dataclass(frozen=True)
class Calibration:
    """Per-label scale and bias on the logit, in the model's label order."""

    method: str
    scale: np.ndarray
    bias: np.ndarray

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, same shape and dtype as `probs`."""
        probs = np.asarray(probs)
        return sigmoid(logit(probs) * self.scale + self.bias).astype(probs.dtype, copy=False)

    def map_thresholds(self, thresholds: Sequence[float] | np.ndarray) -> np.ndarray:
        """The raw thresholds moved through the same map, so `p >= t` keeps its verdict."""
        return sigmoid(logit(np.asarray(thresholds, dtype=np.float64)) * self.scale + self.bias)

    def unmap_thresholds(self, thresholds: Sequence[float] | np.ndarray) -> np.ndarray:
        """The raw scores that the map takes to `thresholds` (the inverse of map_thresholds)."""
        return sigmoid((logit(np.asarray(thresholds, dtype=np.float64)) - self.bias) / self.scale)

    def same_map(self, other: Calibration) -> bool:
        return (self.method == other.method and np.array_equal(self.scale, other.scale)
                and np.array_equal(self.bias, other.bias))

    def to_meta(self, labels: Sequence[str]) -> dict[str, Any]:
        return {"method": self.method,
                "labels": {lab: {"scale": float(s), "bias": float(b)}
                           for lab, s, b in zip(labels, self.scale, self.bias)}}

    @classmethod
    def identity(cls, n: int) -> Calibration:
        return cls("none", np.ones(n), np.zeros(n))

    @classmethod
    def from_meta(cls, meta: dict[str, Any], labels: Sequence[str]) -> Calibration | None:
        """The calibration stored in a model's metadata, or None for a model without one."""
        block = meta.get(META_KEY)
        if block is None:
            return None
        try:
            params = block["labels"]
            scale = np.array([float(params[lab]["scale"]) for lab in labels])
            bias = np.array([float(params[lab]["bias"]) for lab in labels])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"corrupt calibration in model metadata ({exc.__class__.__name__}: {exc})") from None
        if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(bias)) and np.all(scale > 0)):
            # a non-positive scale would reverse the order of scores and break the decisions
            raise ModelError("corrupt calibration in model metadata (scales must be positive and finite)")
        return cls(str(block.get("method", "platt")), scale, bias)
