"""`conflictclf review`: the queue strategies, the results it reads, and the articles it shares with `report`."""

import json

import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.data.results import read_articles
from conflictclf.data.tasks import Candidate, candidates
from conflictclf.train.review import select_disagree, select_uncertain
from tests.conftest import HOSTILE_FILES, LABELS, Page, ok, one_line_error, write_jsonl

runner = CliRunner()


def with_manifest(results, thresholds=None):
    """A batch manifest next to RESULTS, so review knows the thresholds without a model."""
    doc = {"model": {"path": "batch-model", "thresholds": thresholds or dict.fromkeys(LABELS, 0.5)}}
    (results.parent / (results.name + ".manifest.json")).write_text(json.dumps(doc))
    return results


def test_uncertain_queue_is_stratified_and_skips_near_duplicates():
    def cand(i, text, scores):
        return Candidate(f"r{i}", text, "doc", i, 0, 1, [], scores)

    th = {"attack": 0.5, "claim": 0.5}
    cands = [cand(0, "rockets hit the base", {"attack": 0.51, "claim": 0.01}),
             cand(1, "rockets hit the base", {"attack": 0.52, "claim": 0.01}),  # duplicate of 0
             cand(2, "drones hit the port", {"attack": 0.55, "claim": 0.02}),
             cand(3, "the group said it did it", {"attack": 0.01, "claim": 0.30})]
    picked = select_uncertain(cands, th, 3)
    assert [c.ref for c in picked] == ["r0", "r3", "r2"]  # claim gets its turn despite a larger distance
    assert picked[1].reason.startswith("uncertain claim")


def test_disagree_queue_ranks_by_labels_changed():
    cands = [Candidate(f"r{i}", t, "d", i, None, None, labs, {}) for i, (t, labs) in enumerate(
        [("rockets hit the base", ["attack"]), ("the group claimed it", ["claim"]),
         ("talks resumed in the capital", []), ("they vowed revenge for the raid", ["threat"])])]
    other = [["attack"], ["attack", "claim"], [], ["attack", "retaliation"]]
    picked = select_disagree(cands, other, 5, names=("old", "new"))
    assert [c.ref for c in picked] == ["r3", "r1"]
    assert picked[0].reason == "disagree: old threat / new attack+retaliation"
    assert picked[0].extra["labels_b"] == ["attack", "retaliation"]


def test_results_of_classify_keep_article_and_offsets(tmp_path):
    rows = [{"source": "a.txt", "index": 3, "start": 40, "end": 71, "text": "Rebels shelled the town.",
             "labels": ["attack"], "scores": {"attack": 0.9}},
            {"source": "b.txt", "index": 0, "start": 0, "end": 9, "text": "Talks.", "labels": [], "scores": {}}]
    c = candidates(read_articles(write_jsonl(tmp_path / "r.jsonl", rows)), "r")
    assert [(x.ref, x.doc, x.order, x.start, x.end) for x in c] == [("a.txt-003", "a.txt", 3, 40, 71),
                                                                    ("b.txt-000", "b.txt", 0, 0, 9)]
    # a file where no field names the article of every row is one article, named after the file;
    # a row without an order is referred to by its id, else by its line
    rows = [{"id": "x7", "text": "One.", "labels": [], "scores": {}}, {"text": "Two.", "labels": [], "scores": {}}]
    c = candidates(read_articles(write_jsonl(tmp_path / "plain.jsonl", rows)), "plain")
    assert [(x.ref, x.doc, x.order, x.start) for x in c] == [("x7", "plain.jsonl", None, None),
                                                             ("plain-2", "plain.jsonl", None, None)]
    (tmp_path / "bad.jsonl").write_text('{"text": "x"}\n')
    one_line_error(runner.invoke(app, ["review", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "o.json")]),
                   "no 'labels' and 'scores'")


def test_review_on_non_numeric_scores_is_one_error_line(tmp_path):
    rows = [{"id": "s1", "text": "Rebels shelled the town.", "labels": ["attack"], "scores": {"attack": 0.9}},
            {"id": "s2", "text": "Talks went on.", "labels": [], "scores": {"attack": "high"}}]
    results = with_manifest(write_jsonl(tmp_path / "r.jsonl", rows))
    out = tmp_path / "o.json"
    for strategy in ("uncertain", "random"):
        r = runner.invoke(app, ["review", str(results), "--strategy", strategy, "-o", str(out)])
        one_line_error(r, f"{results}:2: `scores` must map labels to numbers")
        assert not out.exists()


@pytest.mark.parametrize("kind", HOSTILE_FILES)
def test_review_on_hostile_input_is_one_error_line(tmp_path, hostile_file, kind):
    out = tmp_path / "o.json"
    one_line_error(runner.invoke(app, ["review", str(hostile_file(kind, ".jsonl")), "-o", str(out)]), "hostile.jsonl")
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["label-studio", "jsonl"])
def test_review_to_a_path_that_cannot_be_written(tmp_path, fmt):
    rows = [{"text": "Rebels shelled the town.", "labels": [], "scores": dict.fromkeys(LABELS, 0.4)}]
    results = with_manifest(write_jsonl(tmp_path / "r.jsonl", rows))
    (tmp_path / "taken.json").mkdir()
    r = runner.invoke(app, ["review", str(results), "--format", fmt, "-o", str(tmp_path / "taken.json")])
    one_line_error(r, "taken.json: cannot write")
    assert not list((tmp_path / "taken.json").iterdir()) and not any(p.suffix == ".tmp" for p in tmp_path.iterdir())


def test_review_disagree_needs_two_models(tmp_path):
    rows = [{"text": "Rebels shelled the town.", "labels": [], "scores": {"attack": 0.4}}]
    r = runner.invoke(app, ["review", str(write_jsonl(tmp_path / "r.jsonl", rows)), "--strategy", "disagree",
                            "-o", str(tmp_path / "o.json")])
    one_line_error(r, "needs two models")


def test_report_and_review_group_the_same_output_into_the_same_articles(tmp_path):
    # batch output over corpus-like records: `source` names the collection, `doc` the article,
    # `id` the sentence; rows arrive out of reading order and articles interleave
    rows = [{"id": f"s{i}", "doc": f"art{i % 3}", "source": "written", "sentence_index": 9 - i,
             "text": f"Sentence {i} of article {i % 3}.", "labels": ["attack"] if i % 2 else [],
             "scores": dict.fromkeys(LABELS, 0.1 * (i % 9) + 0.05)} for i in range(10)]
    results = with_manifest(write_jsonl(tmp_path / "r.jsonl", rows))
    ok(runner.invoke(app, ["report", str(results), "-o", str(tmp_path / "r.html")]))
    page = Page((tmp_path / "r.html").read_text(encoding="utf-8"))
    in_report = {a["name"]: [s["text"] for s in a["sentences"]] for a in page.articles}
    tasks = tmp_path / "tasks.jsonl"
    ok(runner.invoke(app, ["review", str(results), "--strategy", "random", "--n", "100", "--format", "jsonl",
                           "-o", str(tasks)]))
    in_review: dict[str, list[str]] = {}
    for t in sorted((json.loads(x) for x in tasks.read_text().splitlines()), key=lambda t: (t["doc"], t["order"])):
        in_review.setdefault(t["doc"], []).append(t["text"])
    assert set(in_report) == {"art0", "art1", "art2"}
    assert in_review == in_report  # same articles, same sentences, same reading order
    assert in_report["art0"] == ["Sentence 9 of article 0.", "Sentence 6 of article 0.",
                                 "Sentence 3 of article 0.", "Sentence 0 of article 0."]
