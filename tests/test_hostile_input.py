"""Every command, fed hostile input, answers with one `error:` line and a non-zero exit:
no traceback, no "unexpected" (a bug caught by the last-resort handler), and nothing
left under the output's final name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app

runner = CliRunner()

RESULT = {"source": "a.txt", "index": 0, "start": 0, "end": 5, "text": "Rebels shelled the town.",
          "labels": ["attack"], "scores": {"attack": 0.9, "claim": 0.1, "retaliation": 0.1, "threat": 0.1}}
RECORD = {"id": "1", "text": "Rebels shelled the town.", "labels": ["attack"], "split": "train", "doc": "d1",
          "source": "written"}
LS_TASK = {"id": 1, "data": {"text": "Rebels shelled the town."},
           "annotations": [{"id": 2, "completed_by": 1, "result": "attack", "was_cancelled": False}]}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """One file (or folder) per kind of hostile input."""
    d = tmp_path_factory.mktemp("hostile")
    files = {
        "missing": d / "missing.jsonl",
        "empty": d / "empty.jsonl",
        "binary": d / "binary.jsonl",
        "latin1": d / "latin1.jsonl",
        "folder": d / "folder",
        "array": d / "array.jsonl",
        "csv": d / "broken.csv",
        "unknown_label": d / "unknown.jsonl",
        "bad_key": d / "bad_key.toml",
        "bad_toml": d / "bad_syntax.toml",
        "nan_scores": d / "nan_scores.jsonl",
        "ls_bad": d / "label_studio_bad.json",
        "ls_array_of_strings": d / "label_studio_strings.json",
        "not_a_model": d / "not_a_model",
        "bad_meta": d / "bad_meta",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(b"\x00\x01\x02\xff binary \x00" * 20)
    files["latin1"].write_bytes(json.dumps({"id": "1", "text": "caf\u00e9 attack", "labels": []},
                                           ensure_ascii=False).encode("latin-1") + b"\n")
    files["folder"].mkdir()
    files["array"].write_text(json.dumps([RECORD, RECORD | {"id": "2"}]) + "\n")
    files["csv"].write_text('id,text\n1,"Rebels shelled the town.\n2,"unterminated, "quote\n')
    files["unknown_label"].write_text(json.dumps(RECORD | {"labels": ["protest"]}) + "\n")
    files["bad_key"].write_text("epochz = 2\n")
    files["bad_toml"].write_text("epochs = = 2\n[train\n")
    files["nan_scores"].write_text(json.dumps(RESULT | {"scores": {"attack": "high", "claim": None}}) + "\n")
    files["ls_bad"].write_text(json.dumps([LS_TASK]))
    files["ls_array_of_strings"].write_text(json.dumps(["attack", "claim"]))
    good_task = LS_TASK | {"annotations": [{"id": 2, "completed_by": 1, "was_cancelled": False, "result": [
        {"type": "choices", "from_name": "labels", "to_name": "text", "value": {"choices": ["attack"]}}]}]}
    files["ls_good"] = d / "label_studio_good.json"
    files["ls_good"].write_text(json.dumps([good_task]))
    files["not_a_model"].mkdir()
    (files["not_a_model"] / "notes.txt").write_text("not a model")
    files["bad_meta"].mkdir()
    (files["bad_meta"] / "conflictclf.json").write_bytes(b"{\x00 not json")
    (d / "a_file").write_text("a file, not a folder")
    files["unwritable"] = d / "a_file" / "out"  # under a file: no folder can be made there
    files["results"] = d / "results.jsonl"
    files["results"].write_text(json.dumps(RESULT) + "\n")
    files["results_roles"] = d / "results_roles.jsonl"
    files["results_roles"].write_text(json.dumps(RESULT | {"roles": [{"role": "perpetrator", "start": 0, "end": 6,
                                                                      "text": "Rebels"}]}) + "\n")
    files["records"] = d / "records.jsonl"
    files["records"].write_text(json.dumps(RECORD) + "\n")
    return files


# a case that wrongly gets as far as training trains the tiny model, in seconds
TINY = ["--base-model", "{base}", "--max-length", "32", "--epochs", "1"]

# (case id, argv with {placeholders}, output the command must not leave behind)
CASES = [
    # classify: articles
    ("classify-missing", ["classify", "{missing}", "-m", "{model}"], None),
    ("classify-empty", ["classify", "{empty}", "-m", "{model}"], None),
    ("classify-binary", ["classify", "{binary}", "-m", "{model}"], None),
    ("classify-latin1", ["classify", "{latin1}", "-m", "{model}"], None),
    ("classify-folder", ["classify", "{folder}", "-m", "{model}"], None),
    ("classify-bad-format", ["classify", "--text", "x", "-m", "{model}", "--format", "xml"], None),
    ("classify-threshold-2", ["classify", "--text", "x", "-m", "{model}", "--threshold", "2"], None),
    ("classify-threshold-nan", ["classify", "--text", "x", "-m", "{model}", "--threshold", "nan"], None),
    ("classify-unknown-label", ["classify", "--text", "x", "-m", "{model}", "--labels", "protest"], None),
    ("classify-bad-backend", ["classify", "--text", "x", "-m", "{model}", "--backend", "gpu9"], None),
    ("classify-not-a-model", ["classify", "--text", "x", "-m", "{not_a_model}"], None),
    ("classify-bad-meta", ["classify", "--text", "x", "-m", "{bad_meta}"], None),
    ("classify-model-is-a-file", ["classify", "--text", "x", "-m", "{records}"], None),
    # batch: record files in, a file out
    ("batch-missing", ["batch", "{missing}", "{out}/o.jsonl", "-m", "{model}", "-q"], "o.jsonl"),
    ("batch-empty", ["batch", "{empty}", "{out}/o.jsonl", "-m", "{model}", "-q"], "o.jsonl"),
    ("batch-binary", ["batch", "{binary}", "{out}/o.jsonl", "-m", "{model}", "-q"], "o.jsonl"),
    ("batch-latin1", ["batch", "{latin1}", "{out}/o.jsonl", "-m", "{model}", "-q"], "o.jsonl"),
    ("batch-empty-folder", ["batch", "{folder}", "{out}/o.jsonl", "-m", "{model}", "-q"], "o.jsonl"),
    ("batch-array", ["batch", "{array}", "{out}/o.jsonl", "-m", "{model}", "-q"], "o.jsonl"),
    ("batch-broken-csv", ["batch", "{csv}", "{out}/o.csv", "-m", "{model}", "-q"], "o.csv"),
    ("batch-unwritable", ["batch", "{records}", "{unwritable}/o.jsonl", "-m", "{model}", "-q"], None),
    ("batch-bad-extension", ["batch", "{records}", "{out}/o.xlsx", "-m", "{model}", "-q"], "o.xlsx"),
    ("batch-block-size-inf", ["batch", "{records}", "{out}/o.jsonl", "-m", "{model}", "-q", "--block-size", "inf"],
     "o.jsonl"),
    ("batch-block-size-words", ["batch", "{records}", "{out}/o.jsonl", "-m", "{model}", "-q", "--block-size", "lots"],
     "o.jsonl"),
    ("batch-negative-batch-size", ["batch", "{records}", "{out}/o.jsonl", "-m", "{model}", "-q", "--batch-size", "-8"],
     "o.jsonl"),
    ("batch-zero-chunk", ["batch", "{records}", "{out}/o.jsonl", "-m", "{model}", "-q", "--chunk-size", "0"],
     "o.jsonl"),
    ("batch-bad-engine", ["batch", "{records}", "{out}/o.jsonl", "-m", "{model}", "-q", "--engine", "spark"],
     "o.jsonl"),
    ("batch-not-a-model", ["batch", "{records}", "{out}/o.jsonl", "-m", "{not_a_model}", "-q"], "o.jsonl"),
    # train
    ("train-missing", ["train", "-d", "{missing}", "-o", "{out}/m", "-q", *TINY], "m"),
    ("train-empty", ["train", "-d", "{empty}", "-o", "{out}/m", "-q", *TINY], "m"),
    ("train-binary", ["train", "-d", "{binary}", "-o", "{out}/m", "-q", *TINY], "m"),
    ("train-latin1", ["train", "-d", "{latin1}", "-o", "{out}/m", "-q", *TINY], "m"),
    ("train-array", ["train", "-d", "{array}", "-o", "{out}/m", "-q", *TINY], "m"),
    ("train-unknown-label", ["train", "-d", "{unknown_label}", "-o", "{out}/m", "-q", *TINY], "m"),
    ("train-bad-config-key", ["train", "-c", "{bad_key}", "-d", "{records}", "-o", "{out}/m", "-q", *TINY], "m"),
    ("train-bad-toml", ["train", "-c", "{bad_toml}", "-d", "{records}", "-o", "{out}/m", "-q", *TINY], "m"),
    ("train-config-is-a-folder", ["train", "-c", "{folder}", "-d", "{records}", "-o", "{out}/m", "-q", *TINY], "m"),
    ("train-negative-epochs", ["train", "-d", "{records}", "-o", "{out}/m", "-q", *TINY, "--epochs", "-1"], "m"),
    ("train-epochs-not-a-number", ["train", "-d", "{records}", "-o", "{out}/m", "-q", *TINY, "--epochs", "many"], "m"),
    ("train-bad-preset", ["train", "-d", "{records}", "-o", "{out}/m", "-q", *TINY, "--preset", "huge"], "m"),
    ("train-unwritable", ["train", "-d", "{records}", "-o", "{unwritable}/m", "-q", *TINY], None),
    # evaluate
    ("evaluate-missing", ["evaluate", "{missing}", "-m", "{model}", "-o", "{out}/e"], "e"),
    ("evaluate-empty", ["evaluate", "{empty}", "-m", "{model}", "-o", "{out}/e"], "e"),
    ("evaluate-binary", ["evaluate", "{binary}", "-m", "{model}", "-o", "{out}/e"], "e"),
    ("evaluate-array", ["evaluate", "{array}", "-m", "{model}", "-o", "{out}/e"], "e"),
    ("evaluate-unknown-label", ["evaluate", "{unknown_label}", "-m", "{model}", "-o", "{out}/e"], "e"),
    ("evaluate-bad-split", ["evaluate", "{records}", "-m", "{model}", "-o", "{out}/e", "--split", "val"], "e"),
    ("evaluate-bad-baseline", ["evaluate", "{records}", "-m", "{model}", "-o", "{out}/e", "--baseline", "bert"], "e"),
    ("evaluate-not-a-model", ["evaluate", "{records}", "-m", "{not_a_model}", "-o", "{out}/e"], "e"),
    ("evaluate-unwritable", ["evaluate", "{records}", "-m", "{model}", "-o", "{unwritable}/e", "--split", "all"], None),
    # report
    ("incidents-missing", ["incidents", "{missing}", "-o", "{out}/i.jsonl", "-m", "{model}", "-q"], "i.jsonl"),
    ("incidents-empty", ["incidents", "{empty}", "-o", "{out}/i.jsonl", "-m", "{model}", "-q"], "i.jsonl"),
    ("incidents-binary", ["incidents", "{binary}", "-o", "{out}/i.jsonl", "-m", "{model}", "-q"], "i.jsonl"),
    ("incidents-latin1", ["incidents", "{latin1}", "-o", "{out}/i.jsonl", "-m", "{model}", "-q"], "i.jsonl"),
    ("incidents-empty-folder", ["incidents", "{folder}", "-o", "{out}/i.jsonl", "-m", "{model}", "-q"], "i.jsonl"),
    ("incidents-array", ["incidents", "{array}", "-o", "{out}/i.jsonl", "-m", "{model}", "-q"], "i.jsonl"),
    ("incidents-broken-csv", ["incidents", "{csv}", "-o", "{out}/i.csv", "-m", "{model}", "-q"], "i.csv"),
    ("incidents-results-without-roles", ["incidents", "{results}", "-o", "{out}/i.jsonl", "-q"], "i.jsonl"),
    ("incidents-nan-scores", ["incidents", "{nan_scores}", "-o", "{out}/i.jsonl", "-q"], "i.jsonl"),
    ("incidents-model-without-tagger", ["incidents", "{records}", "-o", "{out}/i.jsonl", "-m", "{model}", "-q"],
     "i.jsonl"),
    ("incidents-not-a-model", ["incidents", "{records}", "-o", "{out}/i.jsonl", "-m", "{not_a_model}", "-q"],
     "i.jsonl"),
    ("incidents-bad-extension", ["incidents", "{results}", "-o", "{out}/i.xlsx", "-q"], "i.xlsx"),
    ("incidents-unwritable", ["incidents", "{results_roles}", "-o", "{unwritable}/i.jsonl", "-q"], None),
    ("incidents-bad-engine", ["incidents", "{records}", "-o", "{out}/i.jsonl", "-m", "{model}", "--engine", "spark",
                              "-q"], "i.jsonl"),
    ("report-missing", ["report", "{missing}", "-o", "{out}/r.html"], "r.html"),
    ("report-empty", ["report", "{empty}", "-o", "{out}/r.html"], "r.html"),
    ("report-binary", ["report", "{binary}", "-o", "{out}/r.html"], "r.html"),
    ("report-latin1", ["report", "{latin1}", "-o", "{out}/r.html"], "r.html"),
    ("report-folder", ["report", "{folder}", "-o", "{out}/r.html"], "r.html"),
    ("report-array", ["report", "{array}", "-o", "{out}/r.html"], "r.html"),
    ("report-non-numeric-scores", ["report", "{nan_scores}", "-o", "{out}/r.html"], "r.html"),
    ("report-unwritable", ["report", "{results}", "-o", "{unwritable}/r.html"], None),
    # review
    ("review-missing", ["review", "{missing}", "-o", "{out}/t.json", "-m", "{model}"], "t.json"),
    ("review-empty", ["review", "{empty}", "-o", "{out}/t.json", "-m", "{model}"], "t.json"),
    ("review-binary", ["review", "{binary}", "-o", "{out}/t.json", "-m", "{model}"], "t.json"),
    ("review-folder", ["review", "{folder}", "-o", "{out}/t.json", "-m", "{model}"], "t.json"),
    ("review-array", ["review", "{array}", "-o", "{out}/t.json", "-m", "{model}"], "t.json"),
    ("review-non-numeric-scores", ["review", "{nan_scores}", "-o", "{out}/t.json", "-m", "{model}"], "t.json"),
    ("review-n-zero", ["review", "{results}", "-o", "{out}/t.json", "-m", "{model}", "--n", "0"], "t.json"),
    ("review-bad-format", ["review", "{results}", "-o", "{out}/t.json", "-m", "{model}", "-f", "xlsx"], "t.json"),
    ("review-bad-strategy", ["review", "{results}", "-o", "{out}/t.json", "-m", "{model}", "--strategy", "best"],
     "t.json"),
    ("review-unwritable", ["review", "{results}", "-o", "{unwritable}/t.json", "-m", "{model}"], None),
    # calibrate (writes into the model: checked separately below)
    ("calibrate-missing-model", ["calibrate", "{missing}"], None),
    ("calibrate-not-a-model", ["calibrate", "{not_a_model}"], None),
    ("calibrate-bad-meta", ["calibrate", "{bad_meta}"], None),
    ("calibrate-bad-data", ["calibrate", "{model}", "-d", "{binary}"], None),
    ("calibrate-array-data", ["calibrate", "{model}", "-d", "{array}"], None),
    ("calibrate-unknown-label", ["calibrate", "{model}", "-d", "{unknown_label}"], None),
    ("calibrate-bad-split", ["calibrate", "{model}", "--split", "val"], None),
    ("calibrate-bad-method", ["calibrate", "{model}", "--method", "isotonic"], None),
    # export
    ("export-missing-model", ["export", "-m", "{missing}"], None),
    ("export-not-a-model", ["export", "-m", "{not_a_model}"], None),
    ("export-model-is-a-file", ["export", "-m", "{records}"], None),
    # demo: a broken model is not retrained over, a bad preset is refused before training
    ("demo-bad-meta", ["demo", "-m", "{bad_meta}"], None),
    ("demo-bad-preset", ["demo", "-m", "{out}/m", "--preset", "huge"], "m"),
    ("demo-model-is-a-file", ["demo", "-m", "{records}"], None),
    # serve: refused before it listens (a case that got further would not return)
    ("serve-not-a-model", ["serve", "-m", "{not_a_model}", "--port", "0"], None),
    ("serve-bad-meta", ["serve", "-m", "{bad_meta}", "--port", "0"], None),
    ("serve-bad-backend", ["serve", "-m", "{model}", "--port", "0", "--backend", "gpu9"], None),
    ("serve-port-out-of-range", ["serve", "-m", "{model}", "--port", "70000"], None),
    ("serve-zero-body-limit", ["serve", "-m", "{model}", "--port", "0", "--max-body-bytes", "0"], None),
    # download: refused before the per-user folder is looked at (the wheels themselves: test_basemodels)
    ("download-bad-preset", ["download", "huge"], None),
    ("download-from-missing", ["download", "--from", "{missing}"], None),
    ("download-from-a-file", ["download", "fast", "--from", "{binary}"], None),
    # data validate / stats / import
    ("validate-missing", ["data", "validate", "{missing}"], None),
    ("validate-empty", ["data", "validate", "{empty}"], None),
    ("validate-unknown-label", ["data", "validate", "{unknown_label}"], None),
    ("validate-binary", ["data", "validate", "{binary}"], None),
    ("validate-latin1", ["data", "validate", "{latin1}"], None),
    ("validate-empty-folder", ["data", "validate", "{folder}"], None),
    ("validate-array", ["data", "validate", "{array}"], None),
    ("stats-missing", ["data", "stats", "{missing}"], None),
    ("stats-empty", ["data", "stats", "{empty}"], None),
    ("stats-binary", ["data", "stats", "{binary}"], None),
    ("stats-latin1", ["data", "stats", "{latin1}"], None),
    ("stats-array", ["data", "stats", "{array}"], None),
    ("stats-unknown-label", ["data", "stats", "{unknown_label}"], None),
    ("import-missing", ["data", "import", "{missing}", "-o", "{out}/c.jsonl"], "c.jsonl"),
    ("import-empty", ["data", "import", "{empty}", "-o", "{out}/c.jsonl"], "c.jsonl"),
    ("import-binary", ["data", "import", "{binary}", "--from", "label-studio", "-o", "{out}/c.jsonl"], "c.jsonl"),
    ("import-latin1", ["data", "import", "{latin1}", "-o", "{out}/c.jsonl"], "c.jsonl"),
    ("import-empty-folder", ["data", "import", "{folder}", "-o", "{out}/c.jsonl"], "c.jsonl"),
    ("import-malformed-label-studio", ["data", "import", "{ls_bad}", "-o", "{out}/c.jsonl"], "c.jsonl"),
    ("import-label-studio-strings", ["data", "import", "{ls_array_of_strings}", "-o", "{out}/c.jsonl"], "c.jsonl"),
    ("import-bad-source", ["data", "import", "{results}", "--from", "prodigy", "-o", "{out}/c.jsonl"], "c.jsonl"),
    ("import-unwritable", ["data", "import", "{ls_good}", "-o", "{unwritable}/c.jsonl"], None),
]


def test_every_command_is_in_the_matrix():
    """A new command must join the matrix: the commands `--help` lists against those the cases run."""
    import typer

    root = typer.main.get_command(app)
    listed = {name for name in root.commands if name != "data"}
    listed |= {f"data {name}" for name in root.commands["data"].commands}
    covered = {" ".join(c[1][:2]) if c[1][0] == "data" else c[1][0] for c in CASES}
    assert listed == covered


@pytest.mark.parametrize("case, argv, output", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_gives_one_error_line(case, argv, output, hostile, tiny_model, tiny_base, tmp_path,
                                           monkeypatch):
    # no command may fall back to (or train into) the per-user model
    monkeypatch.setenv("CONFLICTCLF_MODEL_DIR", str(tmp_path / "no-default-model"))
    out = tmp_path / "out"
    out.mkdir()
    subs = {f"{{{k}}}": str(v) for k, v in hostile.items()} | {"{model}": str(tiny_model), "{out}": str(out),
                                                                   "{base}": str(tiny_base)}
    args = []
    for a in argv:
        for k, v in subs.items():
            a = a.replace(k, v)
        args.append(a)
    meta = (tiny_model / "conflictclf.json").read_bytes()
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code not in (0, None), (result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "unexpected" not in lines[0], lines[0]
    if output:
        assert not (out / output).exists(), f"{output} left behind"
    assert not any(p.name.startswith(".") and p.name.endswith(".tmp") for p in out.rglob("*"))
    # commands that write into a model directory leave a good model as it was
    assert (tiny_model / "conflictclf.json").read_bytes() == meta


@pytest.mark.parametrize("command", ["batch", "incidents"])
def test_an_output_under_a_file_names_the_file_in_the_way(command, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("CONFLICTCLF_MODEL_DIR", str(tmp_path / "no-default-model"))
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder should be\n")
    rows = tmp_path / "rows.jsonl"
    if command == "batch":
        rows.write_text(json.dumps({"id": "1", "text": "Rebels shelled the town."}) + "\n")
        target = blocker / "sub" / "o.jsonl"
        args = ["batch", str(rows), str(target), "-m", str(tiny_model), "-q"]
    else:
        rows.write_text(json.dumps(RESULT | {"roles": []}) + "\n")
        target = blocker / "i.jsonl"
        args = ["incidents", str(rows), "-o", str(target), "-q"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code not in (0, None)
    assert result.stderr.strip().splitlines() == [f"error: {target}: cannot write ({blocker} is a file, not a folder)"]


def test_a_bug_still_gives_one_line_and_the_debug_switch_shows_it(monkeypatch):
    import conflictclf.model.articles as articles

    def boom(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(articles, "read_article", boom)
    result = runner.invoke(app, ["classify", "x.txt", "-m", "nowhere"])
    assert result.exit_code == 70 and isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [
        "error: unexpected ZeroDivisionError: division by zero (a bug: please report it; "
        "CONFLICTCLF_DEBUG=1 shows the traceback)"]
    monkeypatch.setenv("CONFLICTCLF_DEBUG", "1")
    result = runner.invoke(app, ["classify", "x.txt", "-m", "nowhere"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_usage_errors_are_one_line(tmp_path):
    result = runner.invoke(app, ["batch", str(tmp_path / "in.jsonl")])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: Missing argument 'output'. (see conflictclf batch --help)"


def test_a_good_model_copy_survives(hostile, tiny_model, tmp_path):
    """calibrate refused mid-way leaves the model it was given loadable."""
    from conflictclf.model.classifier import EventClassifier

    copy = tmp_path / "m"
    shutil.copytree(tiny_model, copy)
    result = runner.invoke(app, ["calibrate", str(copy), "-d", str(hostile["unknown_label"])])
    assert result.exit_code != 0
    assert EventClassifier.from_pretrained(copy).labels


def test_half_a_surrogate_pair_is_a_rejected_row_or_one_error_line(tiny_model, tmp_path):
    """JSON may escape half of a UTF-16 pair, and undecodable argv bytes arrive as lone
    surrogates: batch rejects that row with a reason and keeps the rest; classify says why."""
    from typer.testing import CliRunner

    from conflictclf.cli.main import app
    from tests.conftest import ok, one_line_error

    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "army shelled \\ud800 the town"}\n{"id": 2, "text": "aid reached the port"}\n',
                   encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run = CliRunner().invoke
    ok(run(app, ["batch", str(src), str(out), "--model", str(tiny_model), "-q", "--backend", "torch"]))
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [2]
    rejects = [json.loads(x) for x in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == 1 and rejects[0]["id"] == 1 and "surrogate" in rejects[0]["reason"]
    one_line_error(run(app, ["classify", "--text", "army shelled \udced the town", "--model", str(tiny_model)]),
                   "surrogate")
