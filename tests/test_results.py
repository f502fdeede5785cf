"""Reading classify/batch results back, and the rule that groups rows into articles."""

import re

import pytest

from conflictclf.data.results import article_field, group_articles, read_articles, rows_from_records
from conflictclf.data.errors import InputError
from tests.conftest import write_jsonl


def row(**fields):
    return {"text": "Rebels shelled the town.", "labels": [], "scores": {"attack": 0.2}} | fields


@pytest.mark.parametrize("rows, field", [
    ([row(doc="d1", id="s1", source="written"), row(doc="d2", id="s2", source="written")], "doc"),
    ([row(id="n1", source="Reuters", sentence_index=0), row(id="n1", source="Reuters", sentence_index=1)], "id"),
    ([row(source="a.txt", index=0), row(source="b.txt", index=0)], "source"),
    ([row(doc="d1", source="a.txt"), row(source="b.txt")], "source"),  # doc is not in every row
    ([row(url="u1"), row(file="f1")], None),
])
def test_the_article_field_is_the_most_specific_that_every_row_holds(rows, field):
    assert article_field(rows_from_records(rows)) == field


def test_rows_go_to_their_article_in_reading_order(tmp_path):
    rows = [row(id="b", sentence_index=1, index=0, text="b second"), row(id="a", text="a only"),
            row(id="b", sentence_index=0, index=1, text="b first")]
    arts = read_articles(write_jsonl(tmp_path / "r.jsonl", rows))
    # first-seen article order; `sentence_index` (batch --segment) outranks a record's own `index`
    assert [(a.name, [r.text for r in a.rows]) for a in arts] == [("b", ["b first", "b second"]), ("a", ["a only"])]
    assert sum(len(a.rows) for a in arts) == len(rows)


def test_no_article_field_gives_one_article_named_after_the_file(tmp_path):
    arts = read_articles(write_jsonl(tmp_path / "r.jsonl", [row(), row(text="Talks.")]))
    assert [(a.name, len(a.rows)) for a in arts] == [("r.jsonl", 2)]


def test_group_by_names_the_field_and_every_row_needs_it():
    rows = rows_from_records([row(feed="x", doc="d1"), row(feed="y", doc="d1")])
    assert [a.name for a in group_articles(rows, "feed")] == ["x", "y"]
    with pytest.raises(InputError, match=re.escape("row 2: no 'feed' field to group by")):
        group_articles(rows_from_records([row(feed="x"), row()]), "feed")


@pytest.mark.parametrize("scores", [{"attack": True}, {"attack": float("nan")}, {"attack": -0.1}, {"attack": None},
                                    ["attack"]])
def test_scores_must_be_probabilities(scores):
    with pytest.raises(InputError, match="`scores` must map labels to numbers between 0 and 1"):
        rows_from_records([row(scores=scores)])


def test_a_row_keeps_every_field_it_came_with():
    raw = row(doc="d1", start=3, end=9, sentence_index=2, outlet="Al-Manar", extra={"k": [1]})
    (r,) = rows_from_records([raw])
    assert r.fields == raw and r.order == 2 and (r.offset("start"), r.offset("end")) == (3, 9)
