"""The library under `classify` and `demo`: records in one shape, formats and tables drawn from them."""

import csv
import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.model.articles import ArticlesResult, SentenceResult, classify_texts
from conflictclf.model.classifier import EventClassifier
from conflictclf.data.errors import InputError
from conflictclf.model.explain import Rationale
from tests.conftest import LABELS
from tests.conftest import MARKUP_ARTICLE

runner = CliRunner()
LONG = ("Militia fighters fired a volley of rockets at the airbase near the northern city on Tuesday night, "
        "officials said, and the group later claimed responsibility in a statement posted online, vowing "
        "further strikes on the convoy routes if the army did not withdraw from the region by the end of the month.")


@pytest.fixture(scope="module")
def clf(tiny_model):
    return EventClassifier.from_pretrained(tiny_model)


def test_records_keep_offsets_filter_labels_and_explain_only_when_asked(clf, monkeypatch):
    text = "Rebels shelled the town. Ministers held ceasefire talks."
    res = classify_texts(clf, [("a", text)], threshold=0.0, labels=["threat", "attack"])
    assert res.labels == ["threat", "attack"] and res.sources == ["a"] and not res.explained
    assert [r.text for r in res.records] == ["Rebels shelled the town.", "Ministers held ceasefire talks."]
    assert all(text[r.start:r.end] == r.text for r in res.records)
    # threshold 0 assigns every label; only the asked-for ones are reported, in the model's order
    assert all(r.labels == ["attack", "threat"] and list(r.scores) == ["threat", "attack"] for r in res.records)
    assert all(r.rationales is None and "rationales" not in r.to_dict() for r in res.records)
    explained = classify_texts(clf, [("a", text)], threshold=0.0, labels=["threat"], explain=True)
    assert all(set(r.rationales) == {"threat"} and "rationales" in r.to_dict() for r in explained.records)
    with pytest.raises(InputError, match="unknown label 'protest'"):
        classify_texts(clf, [("a", text)], labels=["protest"])


def test_markup_counts_per_article(clf):
    res = classify_texts(clf, [("m", MARKUP_ARTICLE), ("plain", "Rebels shelled the town.")])
    assert [r.source for r in res.records] == ["m", "m", "m", "plain"]
    assert res.left_out("m") == "stripped 4 pieces of markup" and res.left_out("plain") == ""


def test_markup_article_is_classified_not_dropped(tiny_model, tmp_path):
    # before: every line with markup was taken for code, and this printed "0 sentences", exit 0
    article = tmp_path / "pasted.txt"
    article.write_text(MARKUP_ARTICLE, encoding="utf-8")
    result = runner.invoke(app, ["classify", str(article), "--model", str(tiny_model), "--format", "jsonl"])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["text"] for r in rows][0].startswith("Militia fighters fired rockets at the airbase")
    assert len(rows) == 3
    assert result.stderr.strip() == "note: stripped 4 pieces of markup"
    table = runner.invoke(app, ["classify", str(article), "--model", str(tiny_model), "--format", "table"],
                          env={"COLUMNS": "200"})
    assert "3 sentences" in table.stdout and "(stripped 4 pieces of markup)" in table.stdout


FAKE = ArticlesResult(
    records=[SentenceResult("x.txt", 0, 5, 17, "Fake, \"quoted\"", ["claim"], {"claim": 0.87654, "threat": 0.1},
                            {"claim": [Rationale(0, 4, "Fake", 0.5)]}),
             SentenceResult("y.txt", 3, 0, 4, "Other", [], {"claim": 0.2, "threat": 0.3})],
    labels=["claim", "threat"], sources=["x.txt", "y.txt"], markup={}, dropped={}, explained=True)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_formats_are_written_from_the_library_records(tiny_model, tmp_path, monkeypatch, fmt):
    import conflictclf.model.articles as articles

    seen = {}

    def fake(clf, arts, threshold=None, labels=None, explain=False, roles=None, dates=None):
        seen.update(arts=arts, threshold=threshold, labels=labels, explain=explain, roles=roles, dates=dates)
        return FAKE

    monkeypatch.setattr(articles, "classify_texts", fake)
    result = runner.invoke(app, ["classify", "--text", "anything", "--model", str(tiny_model), "--format", fmt,
                                 "--labels", "claim,threat", "--threshold", "0.3"])
    assert result.exit_code == 0, result.stderr
    assert seen == {"arts": [("text", "anything")], "threshold": 0.3, "labels": ["claim", "threat"], "explain": False,
                    "roles": None, "dates": None}
    want = [r.to_dict() for r in FAKE.records]
    if fmt == "json":
        assert json.loads(result.stdout) == want
    elif fmt == "jsonl":
        assert [json.loads(x) for x in result.stdout.splitlines()] == want
    else:
        rows = list(csv.reader(io.StringIO(result.stdout)))
        assert rows == [["source", "index", "start", "end", "text", "labels", "score_claim", "score_threat"],
                        ["x.txt", "0", "5", "17", "Fake, \"quoted\"", "claim", "0.8765", "0.1000"],
                        ["y.txt", "3", "0", "4", "Other", "", "0.2000", "0.3000"]]


def test_demo_neither_explains_nor_calls_another_command(tiny_model, monkeypatch):
    import conflictclf.cli.classify as classify_cmd
    import conflictclf.model.explain as explain

    def refuse(*a, **k):
        raise AssertionError("demo computed rationales")

    monkeypatch.setattr(explain, "explain_labels", refuse)
    monkeypatch.setattr(classify_cmd, "classify_cli", lambda *a, **k: refuse())
    result = runner.invoke(app, ["demo", "--model", str(tiny_model)], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.stderr + str(result.exception)
    assert "002_6de1bcf2359c4b2d.txt: 23 sentences" in result.stdout and "summary:" in result.stdout


@pytest.mark.parametrize("width", [80, 120, 160])
def test_the_sentence_gets_most_of_the_terminal(width):
    from conflictclf.cli.render import print_articles

    rec = SentenceResult("a", 0, 0, len(LONG), LONG, ["retaliation", "threat"], dict.fromkeys(LABELS, 0.5))
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    print_articles(console, ArticlesResult([rec], LABELS, ["a"], {}, {}))
    shown = console.export_text()
    lines = shown.splitlines()
    header = next(x for x in lines if "sentence" in x and "labels" in x)
    sentence_width = header.index("labels") - header.index("sentence")
    assert sentence_width >= 0.6 * width, header
    body = [x for x in lines if x.strip() and not x.lstrip().startswith(("#", "─", "a:", "summary"))]
    # 320 characters in about 50 columns: 7 lines or fewer (at 16 columns it took over 20)
    assert len(body) <= 7, "\n".join(lines)
    assert all(len(x) <= width for x in lines)
    assert "retaliation 0.50" in shown and "threat 0.50" in shown
    # the all-label scores column only where the sentence keeps its room
    assert ("att 0.50 cla 0.50" in shown) == (width >= 160)
