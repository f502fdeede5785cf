import json

import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app
from conflictclf.data.corpus import SPEC_LABELS, load_records
from conflictclf.data.errors import DataError
from conflictclf.data.validate import validate

runner = CliRunner()


def line(i, text, labels=(), split="train", doc=None, **kw):
    return json.dumps({"id": i, "text": text, "labels": list(labels), "source": "written",
                       "doc": doc or f"d{i}", "split": split, **kw})


GOOD = [line("a", "Rebels shelled the border town overnight.", ["attack"]),
        line("b", "Ministers met in Geneva for ceasefire talks.", [], "dev"),
        line("c", "The group vowed to strike again.", ["threat"], "test")]


@pytest.mark.parametrize("bad, reason", [
    ('{"id": "x", "text": "broken"', "invalid JSON"),
    (line("x", "Fine text.", ["bombing"]), "unknown label 'bombing'"),
    (line("a", "A different sentence with the same id.", []), "duplicate id 'a'"),
    (line("x", "   ", []), "empty or whitespace-only text"),
    (json.dumps({"id": "x", "text": "No split here.", "labels": [], "source": "written", "doc": "d"}), "missing field 'split'"),
    (json.dumps({"id": "x", "text": "No labels here."}), "missing field(s) labels"),
    (line("x", "Rebels shelled the border town overnight!", ["attack"], "test"), "duplicate of"),
    (line("x", "Rebels shelled the border town overnight again.", ["attack"], "dev"), "near-duplicate"),
    (line("x", "Fine text.", [], source="wire"), "unknown source 'wire'"),
])
def test_each_kind_of_broken_file(tmp_path, bad, reason):
    p = tmp_path / "corpus.jsonl"
    p.write_text("\n".join(GOOD + [bad]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "validate", str(p)])
    assert result.exit_code == 1
    assert f"{p}:4: " in result.stderr
    assert reason in result.stderr


def test_a_line_in_another_encoding_is_reported_where_it_is_and_the_rest_still_checked(tmp_path):
    p = tmp_path / "corpus.jsonl"
    latin1 = json.dumps(json.loads(line("x", "Caf\u00e9 owners were shot.", ["attack"])), ensure_ascii=False).encode("latin-1")
    p.write_bytes(GOOD[0].encode() + b"\n" + latin1 + b"\n" + line("y", "Fine text.", ["bombing"]).encode() + b"\n")
    result = runner.invoke(app, ["data", "validate", str(p)])
    assert result.exit_code == 1
    assert f"{p}:2: not UTF-8 text" in result.stderr
    assert f"{p}:3: " in result.stderr and "unknown label 'bombing'" in result.stderr
    with pytest.raises(DataError, match=rf"{p.name}:2: not UTF-8"):
        load_records([p])


def test_clean_file_prints_stats(tmp_path):
    p = tmp_path / "corpus.jsonl"
    p.write_text("\n".join(GOOD) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "validate", str(p)])
    assert result.exit_code == 0, result.output
    assert "no-label share: 33.3%" in result.stdout
    assert "ok: no problems found" in result.stdout


def test_missing_file_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["data", "validate", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr


def test_shipped_corpus_is_valid_and_meets_the_brief():
    problems, st = validate()
    assert problems == []
    records = load_records()
    written = [r for r in records if r.source == "written"]
    assert len(written) >= 2500
    for lab in SPEC_LABELS:
        assert sum(lab in r.labels for r in records) >= 300, lab
    assert st.none_share >= 0.35
    combos = st.combos
    for combo in ("attack+claim", "attack+retaliation", "attack+retaliation+claim", "retaliation+threat", "attack+threat"):
        assert combos[combo] >= 10, combo
    seeds = [r for r in records if r.source == "seed"]
    assert len({r.extra["article"] for r in seeds}) == 5
    test_articles = {r.extra["article"] for r in seeds if r.split == "test"}
    whole = [a for a in test_articles if all(r.split == "test" for r in seeds if r.extra["article"] == a)]
    assert whole, "the test split must hold at least one whole seed article"


def test_problem_lines_print_verbatim(tmp_path):
    # rich would turn "file:100:" into an emoji if emoji codes were on
    p = tmp_path / "corpus.jsonl"
    p.write_text("{\n" * 100, encoding="utf-8")
    result = runner.invoke(app, ["data", "validate", str(p)])
    assert result.exit_code == 1 and f"{p}:100: invalid JSON" in result.stderr
