"""The incident pair model: its features, its weights file, fitting it, and merging with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conflictclf.data.errors import DataError, ModelError
from conflictclf.model.events.grouping import article_events
from conflictclf.model.events.incidents import IncidentConfig, event_reports, merge_events
from conflictclf.model.events.pairs import FEATURES, WEIGHTS_FILE, PairModel, default_pair_model, pair_features
from conflictclf.train.incident_pairs import candidate_pairs, fit_pair_model
from tests.test_incidents import AMBUSH, AMBUSH_ROLES, _three_reports, article, sent


def _events(articles):
    return [e for a in articles for e in article_events(a.name, a.sentences, a.published, a.outlet)]


def _row(a, b) -> dict[str, float]:
    ra, rb = event_reports([a, b])
    return dict(zip(FEATURES, pair_features(ra, rb)))


def test_features_say_what_two_reports_share_and_where_they_differ():
    wire, radio, nextday = _events(_three_reports())
    same = _row(wire, radio)
    # "Anefis" is under the gazetteer's floor: the place words agree, not a resolved town
    assert same["same_day"] == 1 and same["place_words_shared"] == 1 and same["day_unsaid"] == 0
    assert same["target_shared"] == 1 and same["killed_overlap"] == 1  # "convoy"; 12 or more, and 14
    assert same["perp_shared"] == 0 and same["perp_other"] == 0  # "its fighters" names no one to compare
    assert 0 < same["text_cosine"] < 1
    other = _row(wire, nextday)
    assert other["day_apart_1"] == 1 and other["same_day"] == 0 and other["place_words_shared"] == 1
    assert other["killed_apart"] == 1  # 12 or more against three
    mosul = article("m", "2025-03-04", [sent("Gunmen ambushed a convoy near Mosul in Iraq on Monday.", ["attack"],
                                             [("perpetrator", "Gunmen"), ("place", "Mosul"), ("place", "Iraq"),
                                              ("time", "Monday")])])
    far = _row(wire, _events([mosul])[0])
    assert far["other_country_sure"] == 1 and far["same_day"] == 1


def test_identical_reports_have_cosine_one_and_unrelated_words_zero():
    a = article("a", "2025-03-04", [sent(AMBUSH, ["attack"], AMBUSH_ROLES)])
    b = article("b", "2025-03-04", [sent(AMBUSH, ["attack"], AMBUSH_ROLES)])
    c = article("c", "2025-03-04", [sent("Drones hit a refinery.", ["attack"], [])])
    ea, eb, ec = _events([a, b, c])
    assert _row(ea, eb)["text_cosine"] == pytest.approx(1.0)
    assert _row(ea, ec)["text_cosine"] == 0.0


def test_the_shipped_weights_load_and_part_one_act_from_the_next_days_act():
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    assert data["features"] == list(FEATURES) and len(data["weights"]) == len(FEATURES)
    model = default_pair_model()
    wire, radio, nextday = event_reports(_events(_three_reports()))
    p_same, p_other = model.probability(np.vstack([pair_features(wire, radio), pair_features(wire, nextday)]))
    assert p_same > IncidentConfig().join_probability > p_other


def test_weights_fitted_on_other_features_are_refused():
    data = PairModel(tuple([0.0] * len(FEATURES)), 0.0).to_dict()
    data["features"] = data["features"][:-1]
    data["weights"] = data["weights"][:-1]
    with pytest.raises(ModelError, match="refit"):
        PairModel.from_dict(data)


def test_merging_follows_the_pair_model_it_is_given_but_never_past_a_conflict():
    events = _events(_three_reports())
    eager = IncidentConfig(pair_model=PairModel(tuple([0.0] * len(FEATURES)), 10.0))
    shy = IncidentConfig(pair_model=PairModel(tuple([0.0] * len(FEATURES)), -10.0))
    assert len(list(merge_events(events, eager))) == 1  # a day apart is a penalty, not a conflict
    assert len(list(merge_events(events, shy))) == 3
    mosul = article("m", "2025-03-04", [sent("Gunmen ambushed a convoy near Mosul in Iraq on Monday.", ["attack"],
                                             [("place", "Mosul"), ("place", "Iraq"), ("time", "Monday")])])
    # another country is a conflict: even a model that joins everything keeps it apart
    assert len(list(merge_events(events[:1] + _events([mosul]), eager))) == 2


def test_fitting_learns_the_feature_that_separates_the_pairs():
    events = _events(_three_reports())
    x, y = candidate_pairs(events, ["I1", "I1", "I2"])
    assert x.shape == (3, len(FEATURES)) and y.tolist() == [1, 0, 0]
    model = fit_pair_model(np.vstack([x] * 5), np.concatenate([y] * 5))
    p = model.probability(x)
    assert p[0] > 0.5 > max(p[1], p[2])
    # an event with no known incident is left out, and one class alone cannot be fitted
    assert candidate_pairs(events, ["I1", None, "I2"])[0].shape == (1, len(FEATURES))
    with pytest.raises(DataError, match="both"):
        fit_pair_model(x[:1], y[:1])
