"""Occlusion rationales on the tiny model: valid spans, honest weights, bounded cost."""

import numpy as np
import pytest

from conflictclf.model.classifier import EventClassifier
from conflictclf.data.errors import ModelError
from conflictclf.model.explain import MAX_WORDS, delete_spans, explain_labels, keep_spans, word_spans
from tests.conftest import LABELS

SENTENCES = [
    "The militia fired rockets at the base and the group claimed responsibility, a spokesman said.",
    "Rebels vowed revenge in retaliation for the strikes and warned it will strike the convoy.",
    "The museum and the market were quiet.",
    "army shelled the village",
    "",
]


@pytest.fixture(scope="module")
def clf(tiny_exported_model):
    return EventClassifier.from_pretrained(tiny_exported_model)


def test_word_helpers():
    text = "Al-Shabaab's fighters, it said, fired."
    spans = word_spans(text)
    assert [text[s:e] for s, e in spans] == ["Al-Shabaab's", "fighters", "it", "said", "fired"]
    assert delete_spans(text, [spans[2], spans[3]]) == "Al-Shabaab's fighters, , fired."
    assert keep_spans(text, [spans[4], spans[0]]) == "Al-Shabaab's fired"
    assert word_spans(text, 2) == spans[:2]


def test_explain_gives_valid_rationales_for_every_label(clf):
    # threshold 0: every label is assigned, so every label must get a rationale
    found = clf.explain(SENTENCES, threshold=0.0)
    preds = clf.predict(SENTENCES, threshold=0.0)
    assert [e.labels for e in found] == [p.labels for p in preds]
    assert [e.scores for e in found] == [p.scores for p in preds]
    for text, e in zip(SENTENCES, found):
        for lab in e.labels:
            spans = e.rationales[lab]
            if not word_spans(text):
                assert spans == []  # nothing to point at
                continue
            assert spans, (text, lab)
            words = sum(len(word_spans(r.text)) for r in spans)
            assert 1 <= words <= MAX_WORDS
            for r in spans:
                assert 0 <= r.start < r.end <= len(text) and text[r.start:r.end] == r.text
            assert [r.start for r in spans] == sorted(r.start for r in spans)


CUES = {"attack": {"fired": 0.4, "rockets": 0.4}, "claim": {"claimed": 0.8}, "threat": {"vowed": 0.5, "revenge": 0.3}}


def cue_scores(text: str) -> list[float]:
    """A scorer whose every answer is known: 0.1 plus each cue word's share, per label."""
    words = set(text.replace(",", " ").split())
    return [0.1 + sum(w for cue, w in CUES.get(lab, {}).items() if cue in words) for lab in LABELS]


def test_rationales_are_the_cue_words_and_weights_sum_to_their_drop(clf, monkeypatch):
    # the tiny model's scores barely move when words go (drops near 1e-5), which would let
    # any weights pass; a scorer with known cues makes both the words and the weights checkable
    import conflictclf.model.explain as ex

    assert clf.labels == LABELS
    monkeypatch.setattr(ex, "score_fast", lambda c, texts: np.array([cue_scores(t) for t in texts]))
    found = explain_labels(clf, SENTENCES[:2], [["attack", "claim"], ["threat"]], threshold=0.5)
    assert {lab: [r.text for r in spans] for lab, spans in found[0].items()} == {"attack": ["fired rockets"],
                                                                                "claim": ["claimed"]}
    # deleting "vowed" alone takes threat below 0.5: the shortest deletion that flips it wins
    assert [(r.text, r.weight) for r in found[1]["threat"]] == [("vowed", pytest.approx(0.5, abs=1e-3))]
    for text, rats in zip(SENTENCES[:2], found):
        for lab, spans in rats.items():
            j = LABELS.index(lab)
            drop = cue_scores(text)[j] - cue_scores(delete_spans(text, [(r.start, r.end) for r in spans]))[j]
            assert sum(r.weight for r in spans) == pytest.approx(drop, abs=1e-3) and drop >= 0.5
    # the weight is shared by evidence: two cues of equal weight share it equally
    assert [r.weight for r in found[0]["attack"]] == [pytest.approx(0.8, abs=1e-3)]


def test_default_thresholds_explain_only_assigned_labels(tiny_model):
    # thresholds at each label's median score on these sentences: some labels assigned,
    # some not, so "only the assigned ones" is put to the test (the tuned ones may assign none)
    mixed = EventClassifier.from_pretrained(tiny_model, backend="torch")
    mixed.calibration = None  # raw scores, so the thresholds below are on their scale
    mixed.raw_thresholds = np.median(mixed.predict_proba(SENTENCES[:4]), axis=0)
    assigned = [set(p.labels) for p in mixed.predict(SENTENCES)]
    assert any(assigned) and any(len(a) < len(LABELS) for a in assigned[:4])
    found = mixed.explain(SENTENCES)
    assert [set(e.rationales) for e in found] == assigned
    assert all(e.rationales[lab] for e in found[:4] for lab in e.labels)


def test_bad_arguments(clf):
    with pytest.raises(ModelError, match="unknown label 'protest'"):
        explain_labels(clf, ["x"], [["protest"]])
    with pytest.raises(ModelError, match="2 texts but 1 label lists"):
        explain_labels(clf, ["x", "y"], [[]])
    with pytest.raises(ModelError, match="contexts"):
        clf.explain(["x", "y"], contexts=["only one"])


def test_a_huge_sentence_costs_no_more_than_the_model_reads(clf, monkeypatch):
    import conflictclf.model.explain as ex

    calls = []
    real = ex.score_fast
    monkeypatch.setattr(ex, "score_fast", lambda c, texts: calls.append(len(texts)) or real(c, texts))
    huge = " ".join(["militia fired rockets at the base"] * 4000)  # 24,000 words, one "sentence"
    found = clf.explain([huge], threshold=0.0)
    assert all(found[0].rationales[lab] for lab in found[0].labels)
    # words past the model's input length are never occluded: variants stay in the hundreds
    assert sum(calls) < 400
    assert all(r.end <= len(huge) for spans in found[0].rationales.values() for r in spans)
    assert np.isfinite([r.weight for spans in found[0].rationales.values() for r in spans]).all()
