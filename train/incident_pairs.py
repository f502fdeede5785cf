"""Fit the incident pair model (conflictclf.model.events.pairs) on events whose incidents are known.

Each training pair is two events that merging could join (different articles, the same
kind, anchor days within the merge window), labelled by whether annotators put them in
one incident. Logistic regression (scikit-learn) over the pair features: few weights,
readable, and nothing to unpickle when it ships.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from conflictclf.data.errors import DataError

from conflictclf.model.events.grouping import Event
from conflictclf.model.events.incidents import IncidentConfig, event_reports
from conflictclf.model.events.pairs import PairModel, pair_features

# Weak regularisation: the features are few and mostly 0/1; C=0.3 and C=3 gave the same
# held-out-writer scores within 0.02 (docs/incidents.md).
DEFAULT_C = 1.0


def candidate_pairs(events: Sequence[Event], gold: Sequence[str | None],
                    config: IncidentConfig = IncidentConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(features, same-incident 0/1) for every pair merging could join; events without a
    known incident (`gold` None) are left out."""
    reports = event_reports(events)
    rows, ys = [], []
    for i, j in itertools.combinations(range(len(events)), 2):
        a, b = events[i], events[j]
        if a.article == b.article or a.kind != b.kind or gold[i] is None or gold[j] is None:
            continue
        da, db = reports[i].day, reports[j].day
        if da and db and abs((da - db).days) > config.window_days:
            continue
        rows.append(pair_features(reports[i], reports[j]))
        ys.append(int(gold[i] == gold[j]))
    width = len(rows[0]) if rows else 0
    return np.array(rows).reshape(len(rows), width), np.array(ys, dtype=int)


def fit_pair_model(x: np.ndarray, y: np.ndarray, c: float = DEFAULT_C) -> PairModel:
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        raise DataError("the pairs need both same-incident and different-incident examples")
    lr = LogisticRegression(C=c, max_iter=2000).fit(x, y)
    return PairModel(tuple(float(w) for w in lr.coef_[0]), float(lr.intercept_[0]))
