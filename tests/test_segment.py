import json
from importlib.resources import files

from conflictclf.data.segment import html_to_text, is_furniture, segment
from tests.conftest import MARKUP_ARTICLE


def seed_gold() -> dict[str, list[dict]]:
    gold: dict[str, list[dict]] = {}
    for line in (files("conflictclf.data") / "corpus" / "seed.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        gold.setdefault(r["article"], []).append(r)
    return gold


def test_seed_articles_segment_like_the_annotations():
    for article, gold in seed_gold().items():
        text = (files("conflictclf.data") / "articles" / f"{article}.txt").read_text(encoding="utf-8")
        got = segment(text)
        assert [s.text for s in got] == [g["text"] for g in gold], article
        assert [(s.start, s.end) for s in got] == [(g["start"], g["end"]) for g in gold], article
        assert all(text[s.start:s.end] == s.text for s in got)


def test_glued_sentences_split_and_abbreviations_kept():
    text = "Militias struck the base on October 7.Iranian media took credit. The U.S. Gen. Smith met Sen. Jones on Jan. 5."
    assert [s.text for s in segment(text)] == [
        "Militias struck the base on October 7.",
        "Iranian media took credit.",
        "The U.S. Gen. Smith met Sen. Jones on Jan. 5.",
    ]


def test_headline_line_stands_alone_and_quotes_close():
    text = "Rebels Shell Border Town\nThe group said: \u201cWe hit the depot.\u201d Officials denied it."
    assert [s.text for s in segment(text)] == [
        "Rebels Shell Border Town",
        "The group said: \u201cWe hit the depot.\u201d",
        "Officials denied it.",
    ]


def test_furniture_dropped():
    for junk in ["Source \u00bb jpost", "Jerusalem Post Store", "Share on Facebook", "Advertisement",
                 'document.getElementById("x").innerHTML = y;', "https://example.com/a/b", "***"]:
        assert is_furniture(junk), junk
    assert not is_furniture("Gunmen killed five people in Zamfara state.")
    text = "Gunmen killed five people.\nSource \u00bb jpost\nRead more: related coverage"
    assert [s.text for s in segment(text)] == ["Gunmen killed five people."]


def test_html_to_text():
    page = "<html><head><script>var a = 1;</script></head><body><h1>Strike hits port</h1><p>Drones hit the port &amp; a depot.</p></body></html>"
    assert html_to_text(page).splitlines() == ["Strike hits port", "Drones hit the port & a depot."]


def test_empty_text():
    assert segment("") == [] and segment("\n\n  \n") == []


def test_a_very_long_line_is_cut_safely_and_keeps_offsets():
    from conflictclf.data.segment import _MAX_SPAN, segment

    sentences = [f"Gen. Smith of the U.S. Army said {n} rockets hit the base near Kharkiv on Monday." for n in range(200)]
    line = " ".join(sentences)
    assert len(line) > 5 * _MAX_SPAN
    got = segment(line)
    assert [s.text for s in got] == sentences
    assert all(line[s.start:s.end] == s.text for s in got)


def test_prose_with_semicolons_is_not_taken_for_code():
    from conflictclf.data.segment import segment

    line = ("Shells hit the market; the clinic lost power; two schools closed; the governor said the town was "
            "without water.")
    assert [s.text for s in segment(line)] == [line]
    assert segment("var x = 1; if (a === b) { run(); }") == []


def test_markup_is_stripped_and_the_prose_kept():
    from conflictclf.data.segment import segment_text

    got = segment_text(MARKUP_ARTICLE)
    assert [s.text for s in got.sentences] == [
        "Militia fighters fired rockets at the airbase near the city on Tuesday, officials said.",
        "The group later claimed responsibility for the attack.",
        "The army vowed to retaliate.",
    ]
    # offsets still index the original text: the span holds the sentence with its markup
    first = got.sentences[0]
    assert MARKUP_ARTICLE[first.start:first.end] == (
        "Militia fighters fired rockets at the <b>airbase</b> near the city on Tuesday, officials said.")
    assert all(MARKUP_ARTICLE[s.start:s.end] == s.text for s in got.sentences[1:])
    assert got.markup == 4 and got.dropped == 0  # <b>, </b>, <img>, the script block


def test_inline_tags_glue_words_and_unclosed_scripts_end_at_the_line():
    from conflictclf.data.segment import segment_text

    got = segment_text("Drones hit the air<i>base</i> at dawn.\n<script>window.x = 1\nTroops moved north.")
    assert [s.text for s in got.sentences] == ["Drones hit the airbase at dawn.", "Troops moved north."]
    assert got.markup == 3


def test_dropped_lines_are_counted_and_comparisons_in_prose_are_not_markup():
    from conflictclf.data.segment import segment_text

    got = segment_text("Gunmen killed five people.\nSource \u00bb jpost\nvar x = 1; if (a === b) { run(); }\n"
                       "Prices rose 5 < 7 percent and > 2 percent.")
    assert [s.text for s in got.sentences] == ["Gunmen killed five people.", "Prices rose 5 < 7 percent and > 2 percent."]
    assert got.markup == 0 and got.dropped == 2
