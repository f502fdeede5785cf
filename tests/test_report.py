"""The HTML report: structure, counts, escaping of hostile text, size; and its CLI."""

import json
import re

import pytest
from typer.testing import CliRunner

from conflictclf.cli.colours import FALLBACK_HTML, LABEL_COLOURS
from conflictclf.cli.main import app
from conflictclf.cli.report_page import build_report
from conflictclf.data.results import group_articles, read_results, rows_from_records
from conflictclf.data.errors import InputError
from tests.conftest import HOSTILE_FILES, Page, one_line_error

runner = CliRunner()
HOSTILE = ('<script>alert("x")</script> &amp; &lt;b&gt; "quoted" \'single\' </li></ol></section> '
           '<img src=x onerror=alert(1)> {{x}} ]]> <!-- -->')


def articles(records, **kw):
    return group_articles(rows_from_records(records), **kw)


def rows():
    text = "The militia fired rockets at the base."
    return [
        {"source": "a.txt", "index": 1, "text": text, "labels": ["attack"],
         "scores": {"attack": 0.91, "claim": 0.1},
         "rationales": {"attack": [{"start": 12, "end": 25, "text": "fired rockets", "weight": 0.4}]}},
        {"source": "a.txt", "index": 0, "text": HOSTILE, "labels": ["claim", "attack"],
         "scores": {"attack": 0.7, "claim": 0.8}},
        {"source": '"><script>alert(2)</script>', "index": 0, "text": "Talks went on.", "labels": [],
         "scores": {"attack": 0.01, "claim": 0.02}},
    ]


def test_structure_counts_and_order():
    page = Page(build_report(articles(rows()), source="r.jsonl"))
    assert page.count("section", "art") == 2
    assert len(page.sentences) == 3
    # reading order inside an article follows `index`, not file order
    assert page.sentences[0]["text"] == HOSTILE
    assert page.sentences[1]["text"] == "The militia fired rockets at the base."
    assert [c["class"] for c in page.sentences[0]["chips"]] == ["chip c1", "chip c0"]
    assert page.sentences[0]["chips"][1]["title"] == "attack 0.700"
    assert page.sentences[1]["attrs"]["data-l"] == "0" and page.sentences[2]["attrs"]["data-l"] == "n"
    assert "attack 0.91" in page.sentences[1]["attrs"]["title"]
    assert page.underlined == ["fired rockets"]
    # each sentence keeps its number in the article when others are filtered out
    assert [s["attrs"]["value"] for s in page.sentences] == ["1", "2", "1"]
    # one chart bar group per article, and a summary table with the counts
    assert page.count("svg", "chart") == 1 and page.count("rect") == 2
    html = build_report(articles(rows()))
    assert "<td>attack</td><td>2</td>" in html.replace('<span class="sw c0"></span>', "")


def test_hostile_text_is_shown_as_text_and_never_runs():
    html = build_report(articles(rows()), title="<b>t</b>", source="<i>s</i>")
    page = Page(html)
    assert len(page.scripts) == 1 and "alert" not in page.scripts[0]
    assert page.count("img") == 0 and page.count("b") == 0 and page.count("i") == 0
    assert not any("onerror" in a for _, a in page.tags)
    assert page.sentences[0]["text"] == HOSTILE  # every character survives, escaped
    assert html.count("<bdi>") == 3 + 2 * 2  # sentences and article names isolated from bidi overrides
    assert page.count("script") == 1
    # offline: nothing is fetched
    for _, attrs in page.tags:
        assert not any(k in ("src", "srcset") for k in attrs)
        assert not (attrs.get("href") or "#").startswith(("http:", "https:", "//"))
    assert "@import" not in html and "url(" not in html and "<link" not in html


def test_overlapping_rationales_split_at_every_edge():
    text = "The group claimed the rocket strike."
    row = {"source": "a", "text": text, "labels": ["attack", "claim"], "scores": {"attack": 0.9, "claim": 0.9},
           "rationales": {"attack": [{"start": 22, "end": 35}], "claim": [{"start": 10, "end": 28}]}}
    page = Page(build_report(articles([row])))
    assert page.underlined == ["claimed the ", "rocket", " strike"]
    assert page.sentences[0]["text"] == text


def test_label_colours_come_from_the_one_table():
    row = {"source": "a", "text": "x", "labels": ["sports", "attack"], "scores": {"attack": 0.9, "sports": 0.8}}
    html = build_report(articles([row]), labels=["attack", "claim"])
    # known labels keep their hue; a label the table lacks takes the fallback for its position (2)
    assert f".c0{{background:{LABEL_COLOURS['attack'].html}}}" in html
    assert f".c1{{background:{LABEL_COLOURS['claim'].html}}}" in html
    assert f".c2{{background:{FALLBACK_HTML[2]}}}" in html
    assert f'fill="{FALLBACK_HTML[2]}"' in html and f'fill="{LABEL_COLOURS["attack"].html}"' in html


@pytest.mark.parametrize("row, message", [
    ({"labels": [], "scores": {}}, "text field 'text' is missing"),
    ({"text": 3, "labels": [], "scores": {}}, "is not a string (int)"),
    ({"text": "x", "scores": {}}, "no 'labels' and 'scores'"),
    ({"text": "x", "labels": "attack", "scores": {}}, "`labels` must be a list"),
    ({"text": "x", "labels": [], "scores": {"attack": "high"}}, "`scores` must map"),
    ({"text": "x", "labels": [], "scores": {"attack": 1.5}}, "`scores` must map labels to numbers between 0 and 1"),
    ({"text": "abc", "labels": ["attack"], "scores": {}, "rationales": {"attack": [{"start": 2, "end": 9}]}},
     "bad rationale span"),
])
def test_bad_rows(row, message):
    with pytest.raises(InputError, match=re.escape(message)):
        articles([row])


def test_batch_output_groups_by_id_and_uses_its_text_field():
    batch_rows = [{"id": "n2", "body": "B second", "sentence_index": 1, "labels": [], "scores": {}},
                  {"id": "n1", "body": "A only", "sentence_index": 0, "labels": ["threat"], "scores": {"threat": 0.8}},
                  {"id": "n2", "body": "B first", "sentence_index": 0, "labels": [], "scores": {}}]
    arts = group_articles(rows_from_records(batch_rows, "body"))
    assert [a.name for a in arts] == ["n2", "n1"]
    assert [r.text for r in arts[0].rows] == ["B first", "B second"]


def test_a_thousand_articles_stay_small_and_complete():
    text = "Militants fired rockets at the army base near the border town overnight, officials said."
    big = [{"source": f"news/{a:04d}.txt", "index": i, "text": text, "labels": ["attack", "claim"][: i % 3],
            "scores": {"attack": 0.9, "claim": 0.7, "retaliation": 0.1, "threat": 0.05},
            "rationales": {"attack": [{"start": 10, "end": 23, "text": "fired rockets", "weight": 0.5}]} if i % 3 else {}}
           for a in range(1000) for i in range(15)]
    html = build_report(articles(big))
    assert len(html.encode()) < 15e6
    page = Page(html)
    assert page.count("section", "art") == 1000 and len(page.sentences) == 15000


# --- the CLI -------------------------------------------------------------------------------

def test_report_cli(tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows()), encoding="utf-8")
    result = runner.invoke(app, ["report", str(src), "-o", str(tmp_path / "out.html")])
    assert result.exit_code == 0, result.output + result.stderr
    page = Page((tmp_path / "out.html").read_text(encoding="utf-8"))
    assert len(page.sentences) == 3
    result = runner.invoke(app, ["report", str(src)])  # default: next to the input
    assert result.exit_code == 0 and (tmp_path / "r.html").is_file()


def test_report_cli_errors(tmp_path):
    one_line_error(runner.invoke(app, ["report", str(tmp_path / "none.jsonl")]), "cannot read")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows()[0]) + "\n{oops\n", encoding="utf-8")
    one_line_error(runner.invoke(app, ["report", str(bad)]), f"{bad}:2: invalid JSON")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    one_line_error(runner.invoke(app, ["report", str(empty)]), "holds no results")
    notext = tmp_path / "notext.jsonl"
    notext.write_text(json.dumps({"body": "x", "labels": [], "scores": {}}) + "\n", encoding="utf-8")
    one_line_error(runner.invoke(app, ["report", str(notext)]), f"{notext}:1: text field 'text' is missing")
    with pytest.raises(InputError):
        read_results(tmp_path)


@pytest.mark.parametrize("kind", HOSTILE_FILES)
def test_report_on_hostile_input_is_one_error_line(tmp_path, hostile_file, kind):
    out = tmp_path / "out.html"
    one_line_error(runner.invoke(app, ["report", str(hostile_file(kind, ".jsonl")), "-o", str(out)]), "hostile.jsonl")
    assert not out.exists()


def test_report_to_a_path_that_cannot_be_written(tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows()), encoding="utf-8")
    (tmp_path / "taken").mkdir()
    one_line_error(runner.invoke(app, ["report", str(src), "-o", str(tmp_path / "taken")]), "taken: cannot write")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == [] and len(list(tmp_path.iterdir())) == 2


def test_classify_explain_jsonl_and_unchanged_plain_output(tiny_model, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("The militia fired rockets at the base. Ministers held ceasefire talks.\n")
    plain = runner.invoke(app, ["classify", str(article), "--model", str(tiny_model), "--format", "jsonl"])
    assert plain.exit_code == 0, plain.stderr
    assert all(set(json.loads(x)) == {"source", "index", "start", "end", "text", "labels", "scores"}
               for x in plain.stdout.splitlines())
    result = runner.invoke(app, ["classify", str(article), "--model", str(tiny_model), "--format", "jsonl",
                                 "--explain", "--threshold", "0"])
    assert result.exit_code == 0, result.stderr
    for line in result.stdout.splitlines():
        r = json.loads(line)
        assert set(r["rationales"]) == set(r["labels"])
        for spans in r["rationales"].values():
            assert spans and all(r["text"][x["start"]:x["end"]] == x["text"] and set(x) == {"start", "end", "text", "weight"}
                                 for x in spans)
    table = runner.invoke(app, ["classify", str(article), "--model", str(tiny_model), "--format", "table", "--explain"])
    assert table.exit_code == 0 and "summary:" in table.stdout
    one_line_error(runner.invoke(app, ["classify", str(article), "--model", str(tiny_model), "--format", "csv",
                                       "--explain"]), "csv cannot hold")


def test_classify_html_with_a_hostile_article(tiny_model, tmp_path):
    article = tmp_path / "hostile.txt"
    words = " ".join(["The militia fired rockets at the base."] * 2500)  # 20,000 words
    # the segmenter drops lines that look like code and strips tags; what survives must show as typed
    article.write_text(f'{HOSTILE}\nRebels &amp; militia fired, "<b" 3 < 4, they said.\n{words}\n', encoding="utf-8")
    result = runner.invoke(app, ["classify", str(article), "--model", str(tiny_model), "--format", "html", "--explain"])
    assert result.exit_code == 0, result.stderr
    page = Page(result.stdout)
    jsonl = runner.invoke(app, ["classify", str(article), "--model", str(tiny_model), "--format", "jsonl"])
    n = len(jsonl.stdout.splitlines())
    assert n > 2000 and len(page.sentences) == n  # complete: every sentence is there
    assert len(page.scripts) == 1 and "alert" not in page.scripts[0] and page.count("img") == 0
    assert page.sentences[0]["text"] == 'Rebels &amp; militia fired, "<b" 3 < 4, they said.'  # shown as text
    assert page.count("b") == 0


def test_report_help_has_an_example():
    result = runner.invoke(app, ["report", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Example: conflictclf" in result.output


def test_roles_are_marked_in_the_sentence_and_listed_with_their_values():
    text = "Militants shelled Gao on Sunday."
    roles = [{"role": "perpetrator", "start": 0, "end": 9, "text": "Militants"},
             {"role": "place", "start": 18, "end": 21, "text": "Gao",
              "value": {"country": "ML", "region": "ML.09", "name": "Gao", "precision": "town", "resolved": True}},
             {"role": "time", "start": 25, "end": 31, "text": "Sunday",
              "value": {"value": None, "precision": None, "resolved": False}},
             {"role": "target", "start": 0, "end": 4, "text": "<img", "sentence": 2}]  # not in this text: listed only
    row = {"source": "a", "text": text, "labels": ["attack"], "scores": {"attack": 0.9}, "roles": roles,
           "rationales": {"attack": [{"start": 10, "end": 17}]}}
    html = build_report(articles([row]))
    page = Page(html)
    marked = [a.get("title") for t, a in page.tags if t == "span" and "role" in a.get("class", "").split()]
    assert marked == ["perpetrator", "place", "time"]
    assert page.underlined == ["shelled"]
    assert page.sentences[0]["text"] == text
    assert re.search(r"<dt>place</dt><dd><bdi>Gao</bdi> <span class=\"val\">\(Gao, ML, ML\.09\)</span></dd>", html)
    assert "<dt>time</dt><dd><bdi>Sunday</bdi> <span class=\"val\">(unresolved)</span>" in html
    assert "&lt;img" in html and page.count("img") == 0
