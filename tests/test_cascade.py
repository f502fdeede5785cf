"""The cascade: a distilled student decides the sentences it is sure of, the model the rest."""

import json

import numpy as np
import pytest

from conflictclf.model import EventClassifier
from conflictclf.model.cascade import STUDENT_DIR, FirstStage, decided_rows, load_cascade
from conflictclf.train.distill import pick_margin
from tests.conftest import tiny_config

TEXTS = ["militia fired rockets at the base", "minister held ceasefire talks", "the group vowed revenge " * 5,
         "rebels claimed the attack on the convoy", "talks resumed in the capital"]


def test_decided_rows_need_every_label_outside_the_margin():
    thr = np.array([0.0, 1.0])
    logits = np.array([[3.0, 4.0], [3.0, 1.5], [-2.5, -3.0], [0.1, 5.0]])
    assert decided_rows(logits, thr, 2.0).tolist() == [0, 2]
    assert decided_rows(logits, thr, 0.05).tolist() == [0, 1, 2, 3]
    assert decided_rows(np.zeros((0, 2)), thr, 1.0).tolist() == []


def test_pick_margin_is_the_smallest_exact_one():
    thr = np.zeros(1)
    teacher = np.array([[2.0], [-2.0], [0.5], [-3.0]])
    # the student is wrong on row 2 at logit -0.8: margins up to 0.75 let it decide that row
    student = np.array([[2.5], [-1.5], [-0.8], [-4.0]])
    assert pick_margin(student, teacher, thr) == 1.0
    assert pick_margin(student, student, thr) == 0.5  # an exact student: the smallest margin tried
    never = np.array([[-9.0], [9.0], [-9.0], [9.0]])  # wrong everywhere, far from the threshold
    assert pick_margin(never, teacher, thr) is None


class _Student:
    def __init__(self, probs):
        self.probs = np.asarray(probs, dtype=np.float32)

    def predict_proba(self, texts, batch_size=32):
        return self.probs[: len(texts)]


def test_first_stage_fills_only_the_rows_it_is_sure_of():
    stage = FirstStage(_Student([[0.99, 0.01], [0.6, 0.01], [0.01, 0.99]]), np.zeros(2), 2.0)
    out = np.full((3, 2), -1.0, dtype=np.float32)
    rest = stage.score(["a", "b", "c"], out, 32)
    assert rest.tolist() == [1]
    assert out[0].tolist() == pytest.approx([0.99, 0.01]) and out[1].tolist() == [-1.0, -1.0]


@pytest.fixture(scope="module")
def tiny_cascade(tiny_base, tiny_corpus, tmp_path_factory):
    from conflictclf.train.trainer import train

    out = tmp_path_factory.mktemp("cascade") / "m"
    cfg = tiny_config(tiny_base, cascade=True, student_model=str(tiny_base), student_epochs=2)
    train(cfg, [tiny_corpus], out, log=lambda m: None, progress=False)
    return out


def test_train_builds_and_records_the_cascade(tiny_cascade):
    meta = json.loads((tiny_cascade / "conflictclf.json").read_text())
    info = meta["cascade"]
    assert info["student"] == STUDENT_DIR and info["sentences"] == meta["data_counts"]["test"]
    student_meta = json.loads((tiny_cascade / STUDENT_DIR / "conflictclf.json").read_text())
    assert student_meta["thresholds"] == meta["thresholds"]  # the student estimates the model's logits
    assert (tiny_cascade / STUDENT_DIR / "onnx" / "model-int8.onnx").is_file()
    expected = "cascade+onnx-int8" if info["used"] else "onnx-int8"
    assert EventClassifier.from_pretrained(tiny_cascade).backend_name == expected


def test_cascade_margin_decides_who_scores(tiny_cascade):
    alone = EventClassifier.from_pretrained(tiny_cascade, backend="onnx-int8").predict_proba(TEXTS)
    # a margin no logit reaches: the student decides nothing, so scores are the model's own
    assert np.array_equal(load_cascade(tiny_cascade, margin=1e9).predict_proba(TEXTS), alone)
    # margin 0: the student decides everything, so scores are the student's
    student = load_cascade(tiny_cascade, margin=0.0)
    assert np.array_equal(student.predict_proba(TEXTS), student.first_stage.student.predict_proba(TEXTS))
    assert student.backend_name == "cascade+onnx-int8"


def test_cascade_backend_refused_without_a_student(tiny_model):
    from conflictclf.model.errors import ModelError

    with pytest.raises(ModelError, match="no checked cascade student"):
        EventClassifier.from_pretrained(tiny_model, backend="cascade")
