"""Batch keeps every field of every record: fields that vary row to row, fields named like output
columns, and texts longer than the model reads."""

import json

import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.model.engines import BatchOptions, run_batch
from tests.conftest import check_mixed, make_mixed, read_output

runner = CliRunner()
LABELS = ["attack", "claim", "retaliation", "threat"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_fields_that_vary_row_to_row_keep_their_columns(tiny_model, tmp_path, fmt):
    recs = make_mixed(tmp_path / "in.jsonl")
    out = tmp_path / f"out.{fmt}"
    s = run_batch(tmp_path / "in.jsonl", out, tiny_model, BatchOptions(backend="torch", chunk_size=4))
    assert (s.read, s.classified, s.rejected, s.output_rows) == (30, 30, 0, 30)
    check_mixed(recs, read_output(out), fmt)
    if fmt == "csv":  # one header, input fields first in first-seen order, ours last
        header = out.read_text(encoding="utf-8").splitlines()[0]
        assert header == "id,text,a,b,c,d,labels," + ",".join(f"score_{lab}" for lab in LABELS)


@pytest.mark.parametrize("field", ["labels", "scores"])
def test_a_field_named_like_an_output_column_is_refused_not_overwritten(tiny_model, tmp_path, field):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": f"army shelled the village {i}", field: ["gold"]}) + "\n"
                           for i in range(3)), encoding="utf-8")
    out = tmp_path / "out" / "o.jsonl"
    out.parent.mkdir()
    result = runner.invoke(app, ["batch", str(src), str(out), "--model", str(tiny_model), "--quiet"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and f"'{field}'" in result.stderr and "rename" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and list(out.parent.iterdir()) == []


def test_a_late_record_with_an_output_field_is_rejected_with_its_reason(tiny_model, tmp_path):
    """Past the records checked up front, a clashing record goes to the rejects, never overwritten."""
    src = tmp_path / "in.jsonl"
    recs = [{"id": i, "text": f"army shelled the village {i}"} for i in range(260)]
    recs[250]["labels"] = ["attack"]
    recs[255]["start"] = 3  # an output column with --segment
    src.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    s = run_batch(src, tmp_path / "o.jsonl", tiny_model, BatchOptions(backend="torch", segment=True))
    assert (s.read, s.classified, s.rejected) == (260, 258, 2)
    rejects = [json.loads(x) for x in (tmp_path / "o.jsonl.rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["id"]) for r in rejects] == [(251, 250), (256, 255)]
    assert "'labels'" in rejects[0]["reason"] and "'start'" in rejects[1]["reason"]


def test_a_csv_header_with_a_score_column_is_refused(tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,text,score_attack\n1,army shelled the village,0.3\n", encoding="utf-8")
    result = runner.invoke(app, ["batch", str(src), str(tmp_path / "o.csv"), "--model", str(tiny_model), "--quiet"])
    assert result.exit_code == 1 and "'score_attack'" in result.stderr
    # JSONL output keeps scores in one `scores` object, so the same input is fine there
    s = run_batch(src, tmp_path / "o.jsonl", tiny_model, BatchOptions(backend="torch"))
    assert s.classified == 1 and json.loads((tmp_path / "o.jsonl").read_text())["score_attack"] == "0.3"


LONG = " ".join(f"Militia fired rockets at the base {i}." for i in range(8))  # ~64 tokens, max_length 32


def long_input(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "long", "text": LONG}) + "\n"
                   + json.dumps({"id": "short", "text": "army shelled the village"}) + "\n", encoding="utf-8")
    return src


def test_long_records_are_classified_sentence_by_sentence_by_default(tiny_model, tmp_path):
    from conflictclf.data.segment import segment
    from conflictclf.model.classifier import EventClassifier

    s = run_batch(long_input(tmp_path), tmp_path / "o.jsonl", tiny_model, BatchOptions(backend="torch"))
    assert (s.classified, s.split, s.truncated, s.output_rows) == (2, 1, 0, 2)
    row = json.loads((tmp_path / "o.jsonl").read_text().splitlines()[0])
    clf = EventClassifier.from_pretrained(tiny_model, backend="torch")
    sentences = [x.text for x in segment(LONG)]
    assert len(sentences) == 8 and clf.tokenizer.overflows([LONG]) == [True]
    preds = clf.predict(sentences)
    assert row["scores"] == pytest.approx({lab: max(p.scores[lab] for p in preds) for lab in clf.labels}, abs=1e-5)
    assert row["labels"] == [lab for lab in clf.labels if any(lab in p.labels for p in preds)]
    assert row["text"] == LONG  # the record keeps its whole text
    manifest = json.loads((tmp_path / "o.jsonl.manifest.json").read_text())
    assert manifest["counts"]["split"] == 1 and manifest["counts"]["truncated"] == 0


def test_long_records_truncated_are_counted(tiny_model, tmp_path):
    src = long_input(tmp_path)
    result = runner.invoke(app, ["batch", str(src), str(tmp_path / "o.jsonl"), "--model", str(tiny_model),
                                 "--backend", "torch", "--long", "truncate", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "rejected 0, truncated 1 -> 2 output rows" in result.stdout
    manifest = json.loads((tmp_path / "o.jsonl.manifest.json").read_text())
    assert manifest["counts"]["truncated"] == 1 and manifest["counts"]["split"] == 0
    assert manifest["options"]["long"] == "truncate" and manifest["model"]["max_length"] == 32


def test_long_records_rejected_on_request(tiny_model, tmp_path):
    s = run_batch(long_input(tmp_path), tmp_path / "o.jsonl", tiny_model, BatchOptions(backend="torch", long="reject"))
    assert (s.read, s.classified, s.rejected, s.truncated) == (2, 1, 1, 0)
    (rej,) = [json.loads(x) for x in (tmp_path / "o.jsonl.rejects.jsonl").read_text().splitlines()]
    assert rej["id"] == "long" and "longer than the model's 32 tokens" in rej["reason"]


def test_segment_mode_counts_an_over_long_sentence(tiny_model, tmp_path):
    src = tmp_path / "in.jsonl"
    one_sentence = "militia fired rockets at the base " * 8  # no sentence end: cannot be split further
    src.write_text(json.dumps({"id": 1, "text": "Talks resumed. " + one_sentence}) + "\n", encoding="utf-8")
    s = run_batch(src, tmp_path / "o.jsonl", tiny_model, BatchOptions(backend="torch", segment=True))
    assert (s.classified, s.truncated, s.output_rows) == (1, 1, 2)
    s = run_batch(src, tmp_path / "r.jsonl", tiny_model, BatchOptions(backend="torch", segment=True, long="reject"))
    assert (s.classified, s.rejected, s.output_rows) == (0, 1, 0)


def test_markup_in_articles_is_stripped_and_counted(tiny_model, tmp_path):
    """Web text carries stray tags: the prose stays, and what was stripped is counted, not hidden."""
    src = tmp_path / "in.jsonl"
    body = ("Rebels shelled the <b>airbase</b> at dawn. <img src=x onerror=alert(1)>The army said two soldiers "
            "were wounded. <script>var x = {a: 1};</script>The group vowed more attacks.")
    src.write_text(json.dumps({"id": 1, "text": body}) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["batch", str(src), str(out), "--model", str(tiny_model), "--segment",
                                 "--backend", "torch", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["Rebels shelled the airbase at dawn.", "The army said two soldiers were wounded.",
                                         "The group vowed more attacks."]
    manifest = json.loads((tmp_path / "o.jsonl.manifest.json").read_text())
    assert manifest["counts"]["markup"] == 4  # <b>, </b>, <img>, and the script block as one piece
    assert "4 pieces of markup stripped" in result.output
