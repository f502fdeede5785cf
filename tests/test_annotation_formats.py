"""Annotation tool exports in (`data import`): Label Studio and doccano, problems reported per task."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.data.annotations import assign_splits, import_export
from conflictclf.data.validate import validate
from conflictclf.data.errors import DataError
from tests.conftest import HOSTILE_FILES, LABELS, ok, one_line_error

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures"


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


def test_an_export_without_tasks_says_so(tmp_path):
    for name, text in (("empty.json", "[]"), ("empty.jsonl", "\n")):
        (tmp_path / name).write_text(text)
        one_line_error(runner.invoke(app, ["data", "import", str(tmp_path / name), "-o", str(tmp_path / "o.jsonl")]),
                       f"{name}: holds no tasks")


def test_import_errors_are_one_line(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    one_line_error(runner.invoke(app, ["data", "import", str(bad), "-o", str(tmp_path / "o.jsonl")]),
                   "not a Label Studio JSON export")
    with pytest.raises(DataError, match="cannot tell the export format"):
        import_export([FIXTURES / "README.md"], LABELS)


@pytest.mark.parametrize("kind, suffix", [(k, s) for k in HOSTILE_FILES for s in (".json", ".jsonl")  # LS, doccano
                                          if (k, s) != ("JSON array", ".json")])  # a list of tasks is an LS export
def test_import_of_hostile_input_is_one_error_line(tmp_path, hostile_file, kind, suffix):
    out = tmp_path / "o.jsonl"
    one_line_error(runner.invoke(app, ["data", "import", str(hostile_file(kind, suffix)), "-o", str(out)]), "hostile")
    assert not out.exists()


def test_import_to_a_path_that_cannot_be_written(tmp_path):
    (tmp_path / "taken").mkdir()
    r = runner.invoke(app, ["data", "import", str(FIXTURES / "label_studio_export.json"), "-o", str(tmp_path / "taken")])
    assert "taken: cannot write" in r.stderr.strip().splitlines()[-1] and r.exit_code != 0
    assert not list((tmp_path / "taken").iterdir())


def _choices(value):
    return [{"from_name": "labels", "to_name": "text", "type": "choices", "value": value}]


@pytest.mark.parametrize("annotations, message", [
    ("attack", "`annotations` must be a list"),
    ({"result": []}, "`annotations` must be a list"),
    (["attack"], "annotation 1: expected a JSON object, got str"),
    ([{"completed_by": 1, "result": "attack"}], "annotation 1: `result` must be a list of objects"),
    ([{"completed_by": 1, "result": ["attack"]}], "annotation 1: `result` must be a list of objects"),
    ([{"completed_by": 1, "result": _choices(["attack"])}], "needs value.choices, a list of label names"),
    ([{"completed_by": 1, "result": _choices({"choices": "attack"})}], "needs value.choices, a list of label names"),
    ([{"completed_by": 1, "result": _choices({"choices": [{"label": "attack"}]})}], "needs value.choices"),
    ([{"completed_by": 1, "result": _choices({"choices": ["attack"]})},
      {"completed_by": 2, "result": _choices({"choices": [3]})}], "annotation 2: a choices result needs"),
])
def test_malformed_label_studio_annotation_is_one_error_line(tmp_path, annotations, message):
    export = tmp_path / "project.json"
    export.write_text(json.dumps([{"id": 7, "data": {"text": "Rebels shelled the town."}, "annotations": annotations}]))
    out = tmp_path / "o.jsonl"
    one_line_error(runner.invoke(app, ["data", "import", str(export), "-o", str(out)]), "project.json: task 7: ")
    r = runner.invoke(app, ["data", "import", str(export), "-o", str(out)])
    assert message in r.stderr and not out.exists()


def test_split_by_document_is_stable_and_covers_every_split():
    recs = [{"doc": f"d{i % 9}", "id": str(i)} for i in range(40)]
    assign_splits(recs)
    first = [r["split"] for r in recs]
    assign_splits(recs)
    assert first == [r["split"] for r in recs]
    assert set(first) == {"train", "dev", "test"}


def test_user_example_set_validates_and_is_split_by_document():
    path = Path(__file__).parent.parent / "data" / "user_example" / "communiques.jsonl"
    problems, st = validate([path])
    assert problems == [] and st.n == 153
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    for d in {r["doc"] for r in rows}:
        assert len({r["split"] for r in rows if r["doc"] == d}) == 1
