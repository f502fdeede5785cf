"""Occlusion rationales on the tiny model: valid spans, honest weights, bounded cost."""

import numpy as np
import pytest

from conflictclf.model.classifier import EventClassifier
from conflictclf.model.errors import ModelError
from conflictclf.model.explain import (MAX_WORDS, delete_spans, explain_labels, keep_spans, score_fast,
                                       word_spans)
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
        assert set(e.rationales) == set(e.labels)
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


def test_weights_sum_to_the_drop_when_the_rationale_is_deleted(clf):
    found = explain_labels(clf, SENTENCES[:2], [LABELS, LABELS], threshold=0.0)
    for text, rats in zip(SENTENCES[:2], found):
        base = score_fast(clf, [text])[0]
        for j, lab in enumerate(clf.labels):
            without = delete_spans(text, [(r.start, r.end) for r in rats[lab]])
            drop = base[j] - score_fast(clf, [without])[0][j]
            assert sum(r.weight for r in rats[lab]) == pytest.approx(drop, abs=0.02)


def test_default_thresholds_explain_only_assigned_labels(clf):
    found = clf.explain(SENTENCES)
    for e in found:
        assert set(e.rationales) == set(e.labels)


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
