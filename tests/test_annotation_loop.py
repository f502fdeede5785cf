"""Review -> annotate -> import -> validate -> continue training -> compare, on the tiny model."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.data.annotations import assign_splits, import_export
from conflictclf.data.review import Candidate, select_uncertain
from conflictclf.data.validate import validate
from conflictclf.model.errors import DataError
from tests.conftest import LABELS, tiny_records, write_jsonl

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures"


def ok(result):
    assert result.exit_code == 0, result.output + result.stderr
    return result


def test_label_studio_fixture_imports_and_reports_each_problem(tmp_path):
    res = import_export([FIXTURES / "label_studio_export.json"], LABELS)
    assert res.tasks == 14 and len(res.records) == 10
    text = "\n".join(res.problems)
    assert len(res.problems) == 4, text
    assert "annotators disagree (1: attack+claim; 2: claim" in text
    assert "unknown label 'sports'" in text
    assert sum("unlabelled" in p for p in res.problems) == 2  # nobody labelled, and a cancelled task
    by_id = {r["id"]: r for r in res.records}
    assert by_id["brief-04-001"]["labels"] == ["attack", "claim"]  # settled by the ground-truth annotation
    assert by_id["brief-01-003"]["labels"] == []  # "none" is a label-free sentence
    assert {r["doc"] for r in res.records} == {"brief-01", "brief-02", "brief-03", "brief-04"}
    assert all(r["source"] == "annotated" and isinstance(r["order"], int) for r in res.records)
    # whole documents go to one split
    for d in {r["doc"] for r in res.records}:
        assert len({r["split"] for r in res.records if r["doc"] == d}) == 1
    assert {r["split"] for r in res.records} == {"train", "dev", "test"}


@pytest.mark.parametrize("as_zip", [False, True])
def test_doccano_fixture_imports_from_folder_or_zip(tmp_path, as_zip):
    src = FIXTURES / "doccano_export"
    if as_zip:
        src = Path(shutil.make_archive(str(tmp_path / "export"), "zip", src))
    res = import_export([src], LABELS, "doccano")
    text = "\n".join(res.problems)
    assert res.tasks == 14 and len(res.records) == 9, text
    assert "annotators disagree (alice: attack+claim; bob: claim)" in text
    assert "annotators disagree (alice: attack+claim; bob: attack)" in text
    assert "unknown label 'sports'" in text and sum("unlabelled" in p for p in res.problems) == 2


def test_import_cli_output_passes_validate(tmp_path):
    for fmt, src in (("label-studio", FIXTURES / "label_studio_export.json"), ("doccano", FIXTURES / "doccano_export")):
        out = tmp_path / f"{fmt}.jsonl"
        r = ok(runner.invoke(app, ["data", "import", str(src), "--from", fmt, "-o", str(out)]))
        assert "imported" in r.stdout and "left out" in r.stdout
        assert "annotators disagree" in r.stderr and "unknown label 'sports'" in r.stderr
        assert "Traceback" not in r.stderr
        problems, _ = validate([out])
        assert problems == []
        ok(runner.invoke(app, ["data", "validate", str(out)]))


def test_import_errors_are_one_line(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    r = runner.invoke(app, ["data", "import", str(bad), "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code != 0 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    with pytest.raises(DataError, match="cannot tell the export format"):
        import_export([FIXTURES / "README.md"], LABELS)


def test_split_by_document_is_stable_and_covers_every_split():
    recs = [{"doc": f"d{i % 9}", "id": str(i)} for i in range(40)]
    assign_splits(recs)
    first = [r["split"] for r in recs]
    assign_splits(recs)
    assert first == [r["split"] for r in recs]
    assert set(first) == {"train", "dev", "test"}


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


def test_review_import_continue_compare_loop(tiny_model, tiny_corpus, tmp_path, monkeypatch):
    # 1. classify some "news" with the current model
    news = tmp_path / "news.jsonl"
    write_jsonl(news, [{"id": f"s{i}", "doc": f"art{i // 6}", "index": i % 6, "body": r["text"]}
                       for i, r in enumerate(tiny_records()[:40])])
    batch_out = tmp_path / "labelled.jsonl"
    ok(runner.invoke(app, ["batch", str(news), str(batch_out), "--text-field", "body", "-q",
                           "--model", str(tiny_model)]))
    # 2. review: Label Studio tasks plus labelling config, and doccano tasks
    ls_tasks = tmp_path / "review.json"
    r = ok(runner.invoke(app, ["review", str(batch_out), "--n", "20", "--text-field", "body", "-o", str(ls_tasks)]))
    assert "wrote 20 uncertain sentences" in r.stdout
    config = (tmp_path / "review.label-config.xml").read_text()
    assert '<Choices name="labels" toName="text" choice="multiple"' in config and '<Choice value="none"/>' in config
    tasks = json.loads(ls_tasks.read_text())
    assert len(tasks) == 20 and all(t["predictions"][0]["result"][0]["value"]["choices"] for t in tasks)
    assert all(t["data"]["doc"].startswith("art") and isinstance(t["data"]["order"], int) for t in tasks)
    dc_tasks = tmp_path / "review.jsonl"
    ok(runner.invoke(app, ["review", str(batch_out), "--n", "20", "--text-field", "body", "--format", "doccano",
                           "--strategy", "random", "-o", str(dc_tasks)]))
    assert all("label" in json.loads(x) for x in dc_tasks.read_text().splitlines())

    # 3. an annotator labels the tasks in Label Studio: the true labels of these sentences
    truth = {r["text"]: r["labels"] for r in tiny_records()}
    for k, t in enumerate(tasks):
        t["id"] = k + 1
        t["annotations"] = [{"id": 900 + k, "completed_by": 1, "was_cancelled": False, "ground_truth": False,
                             "result": [{"from_name": "labels", "to_name": "text", "type": "choices",
                                         "value": {"choices": truth[t["data"]["text"]] or ["none"]}}]}]
    export = tmp_path / "project-1-at-2026.json"
    export.write_text(json.dumps(tasks))

    # 4. import, validate
    mine = tmp_path / "mine.jsonl"
    r = ok(runner.invoke(app, ["data", "import", str(export), "-o", str(mine)]))
    assert "imported 20 of 20 tasks" in r.stdout
    ok(runner.invoke(app, ["data", "validate", str(mine)]))

    # 5. continue training from the tiny model on it (the tiny corpus stands in for the bundled one)
    monkeypatch.setattr("conflictclf.train.continued.load_records", lambda paths=None: _load(tiny_corpus))
    new = tmp_path / "new"
    args = ["train", "--init-from", str(tiny_model), "--data", str(mine), "--output", str(new), "--quiet",
            "--epochs", "1", "--batch-size", "8", "--learning-rate", "5e-3", "--export", "false"]
    r = ok(runner.invoke(app, args))
    meta = json.loads((new / "conflictclf.json").read_text())
    assert meta["config"]["base_model"] == str(tiny_model) and meta["labels"] == LABELS
    n_mine = sum(json.loads(x)["split"] == "train" for x in mine.read_text().splitlines())
    # bundled_share (default 3) bundled training sentences join each new one
    assert meta["data_counts"]["train"] == n_mine + 3 * n_mine
    assert "calibration" in meta
    # seeded: the same command gives the same weights
    again = tmp_path / "again"
    ok(runner.invoke(app, args[:6] + [str(again)] + args[7:]))
    assert (new / "model.safetensors").read_bytes() == (again / "model.safetensors").read_bytes()

    # 6. compare old and new per label
    r = ok(runner.invoke(app, ["evaluate", str(mine), "--model", str(tiny_model), "--model", str(new),
                               "--split", "all", "-o", str(tmp_path / "cmp")]))
    assert "ΔF1" in r.stdout and "macro" in r.stdout and "all (20 sentences)" in r.stdout
    assert len(list((tmp_path / "cmp").glob("*/metrics.json"))) == 2


def _load(path):
    from conflictclf.data.corpus import load_records

    return load_records([path])


def test_init_from_needs_own_data(tiny_model, tmp_path):
    r = runner.invoke(app, ["train", "--init-from", str(tiny_model), "--output", str(tmp_path / "x"), "--quiet"])
    assert r.exit_code != 0 and "needs your own annotated data" in r.stderr


def test_results_of_classify_keep_article_and_offsets(tmp_path):
    from conflictclf.data.review import read_results

    rows = [{"source": "a.txt", "index": 3, "start": 40, "end": 71, "text": "Rebels shelled the town.",
             "labels": ["attack"], "scores": {"attack": 0.9}}]
    c = read_results(write_jsonl(tmp_path / "r.jsonl", rows))[0]
    assert (c.ref, c.doc, c.order, c.start, c.end) == ("a.txt-003", "a.txt", 3, 40, 71)
    (tmp_path / "bad.jsonl").write_text('{"text": "x"}\n')
    r = runner.invoke(app, ["review", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "o.json")])
    assert r.exit_code != 0 and "no 'labels' and 'scores'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_disagree_queue_ranks_by_labels_changed():
    from conflictclf.data.review import select_disagree

    cands = [Candidate(f"r{i}", t, "d", i, None, None, labs, {}) for i, (t, labs) in enumerate(
        [("rockets hit the base", ["attack"]), ("the group claimed it", ["claim"]),
         ("talks resumed in the capital", []), ("they vowed revenge for the raid", ["threat"])])]
    other = [["attack"], ["attack", "claim"], [], ["attack", "retaliation"]]
    picked = select_disagree(cands, other, 5, names=("old", "new"))
    assert [c.ref for c in picked] == ["r3", "r1"]
    assert picked[0].reason == "disagree: old threat / new attack+retaliation"
    assert picked[0].extra["labels_b"] == ["attack", "retaliation"]


def test_review_disagree_needs_two_models(tmp_path):
    rows = [{"text": "Rebels shelled the town.", "labels": [], "scores": {"attack": 0.4}}]
    r = runner.invoke(app, ["review", str(write_jsonl(tmp_path / "r.jsonl", rows)), "--strategy", "disagree",
                            "-o", str(tmp_path / "o.json")])
    assert r.exit_code != 0 and "needs two models" in r.stderr


def test_user_example_set_validates_and_is_split_by_document():
    path = Path(__file__).parent.parent / "data" / "user_example" / "communiques.jsonl"
    problems, st = validate([path])
    assert problems == [] and st.n == 153
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    for d in {r["doc"] for r in rows}:
        assert len({r["split"] for r in rows if r["doc"] == d}) == 1


def test_mix_bundled_is_seeded_and_keeps_the_whole_bundled_dev():
    from conflictclf.data.corpus import parse_line
    from conflictclf.train.continued import mix_bundled

    def recs(prefix, n):
        return [parse_line(json.dumps({"id": f"{prefix}{i}", "text": f"{prefix} sentence {i}", "labels": [],
                                       "split": ("train", "dev", "test")[i % 3]}), "x", i) for i in range(n)]

    user, bundled = recs("u", 30), recs("b", 300)
    a, b = mix_bundled(user, bundled, 1.0, 42), mix_bundled(user, bundled, 1.0, 42)
    assert [r.id for r in a] == [r.id for r in b]
    added = a[len(user):]
    assert sum(r.split == "train" for r in added) == 10  # one per user training sentence
    assert sum(r.split == "dev" for r in added) == 100  # the whole bundled dev split
    assert not any(r.split == "test" for r in added)
    assert [r.id for r in mix_bundled(user, bundled, 1.0, 7)] != [r.id for r in a]
    assert sum(r.split == "train" for r in mix_bundled(user, bundled, 0.0, 42)[len(user):]) == 0
