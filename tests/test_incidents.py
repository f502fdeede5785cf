"""Incidents: events inside an article, merging across articles, records, the command."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from conflictclf.data.errors import InputError
from conflictclf.data.roles import Span
from conflictclf.model.events.grouping import article_events
from conflictclf.model.events.incidents import merge_events
from conflictclf.model.events.pipeline import build_incidents, incident_records
from conflictclf.model.events.records import FLAT_COLUMNS, flat_row, incident_record
from conflictclf.model.events.dates import parse_article_date
from conflictclf.model.events.roles import with_values
from conflictclf.data.incident_input import ArticleSentences, RowFields, read_articles
from tests.conftest import Page, ok, one_line_error, write_jsonl


def sent(text: str, labels: list[str], roles: list[tuple[str, str]], index: int = 0) -> dict:
    """A classified sentence as classify/batch give it: role spans found by their text."""
    spans = []
    for role, piece in roles:
        at = text.index(piece)
        spans.append(Span(role, at, at + len(piece), piece))
    return {"text": text, "labels": labels, "index": index, "start": 0, "end": len(text), "roles": spans}


def article(name: str, published: str, sentences: list[dict], outlet: str | None = None) -> ArticleSentences:
    """Values resolved as the pipeline resolves them: against the article's date."""
    day = dt.date.fromisoformat(published)
    valued = with_values([s["roles"] for s in sentences], day)
    rows = [dict(s, index=k, roles=[r.to_dict() for r in rs]) for k, (s, rs) in enumerate(zip(sentences, valued))]
    return ArticleSentences(name, published, outlet, rows)


AMBUSH = "Gunmen ambushed an army convoy near Anefis in Mali on Monday, killing at least 12 soldiers."
AMBUSH_ROLES = [("perpetrator", "Gunmen"), ("target", "army convoy"), ("place", "Anefis"), ("place", "Mali"), ("time", "Monday"),
                ("killed", "at least 12 soldiers")]


def test_one_article_tells_acts_in_two_towns_apart_and_a_bare_sentence_joins_the_latest():
    a = article("roundup", "2025-03-04", [
        sent("Militants attacked a checkpoint in Gao, Mali, on Monday.", ["attack"],
             [("perpetrator", "Militants"), ("target", "checkpoint"), ("place", "Gao"), ("time", "Monday")]),
        sent("In Mopti, Mali, gunmen killed four villagers on Monday.", ["attack"],
             [("place", "Mopti"), ("perpetrator", "gunmen"), ("killed", "four villagers"), ("time", "Monday")]),
        sent("The attackers fled on motorbikes.", ["attack"], [("perpetrator", "The attackers")]),
        sent("Talks on a ceasefire resumed in Algiers.", [], []),
    ])
    events = article_events(a.name, a.sentences, a.published, a.outlet)
    assert [len(e.mentions) for e in events] == [1, 2]
    assert "Mopti" in events[1].mentions[0].text and events[1].mentions[1].text.startswith("The attackers")
    assert [e.id for e in events] == ["roundup#1", "roundup#2"]


def test_a_retaliation_is_split_at_its_cue_and_answers_the_act_after_it():
    a = article("a", "2025-06-11", [
        sent("Israeli jets struck Hezbollah sites in Nabatieh on Wednesday in response to Monday's rocket fire on "
             "Metula.", ["attack", "retaliation"],
             [("perpetrator", "Israeli jets"), ("target", "Hezbollah sites"), ("place", "Nabatieh"),
              ("time", "Wednesday"), ("time", "Monday"), ("means", "rocket fire"), ("target", "Metula")]),
    ])
    answer, cause = article_events(a.name, a.sentences, a.published)
    assert answer.retaliation and answer.answers == cause.id and not cause.retaliation
    assert {r["text"] for r in answer.mentions[0].roles} == {"Israeli jets", "Hezbollah sites", "Nabatieh", "Wednesday"}
    assert {r["text"] for r in cause.mentions[0].roles} == {"Monday", "rocket fire", "Metula"}
    assert [d.isoformat() for d, _ in cause.facets().days] == ["2025-06-09"]


def test_a_claim_goes_to_the_act_its_roles_agree_with_else_to_the_first():
    acts = [sent("Gunmen attacked a checkpoint in Gao, Mali, on Monday.", ["attack"],
                 [("perpetrator", "Gunmen"), ("place", "Gao"), ("time", "Monday")]),
            sent("A bomb hit a market in Mopti, Mali, on Tuesday.", ["attack"],
                 [("means", "bomb"), ("target", "market"), ("place", "Mopti"), ("time", "Tuesday")])]
    claim_mopti = sent("JNIM said it planted the bomb in Mopti.", ["claim"], [("speaker", "JNIM"), ("place", "Mopti")])
    claim_bare = sent("JNIM claimed responsibility.", ["claim"], [("speaker", "JNIM")])
    a = article("a", "2025-03-05", acts + [claim_mopti, claim_bare])
    gao, mopti = article_events(a.name, a.sentences, a.published)
    assert [m.text for m in mopti.claims] == [claim_mopti["text"]]
    assert [m.text for m in gao.claims] == [claim_bare["text"]]
    assert gao.claimants() == ["JNIM"]


def test_threats_are_their_own_events_one_per_actor():
    a = article("t", "2025-06-01", [
        sent("The Houthis threatened to strike ships in the Red Sea.", ["threat"], [("perpetrator", "The Houthis")]),
        sent("They warned shipping firms to stay away.", ["threat"], []),
        sent("Iran's army warned it would hit back at any attack.", ["threat"], [("speaker", "Iran's army")]),
    ])
    events = article_events(a.name, a.sentences, a.published)
    assert [(e.kind, len(e.mentions)) for e in events] == [("threat", 2), ("threat", 1)]


def _three_reports():
    wire = article("wire", "2025-03-04", [sent(AMBUSH, ["attack"], AMBUSH_ROLES)], outlet="Sahel Wire")
    radio = article("radio", "2025-03-05", [
        sent("Fourteen soldiers died when their convoy was ambushed near Anefis on Monday.", ["attack"],
             [("killed", "Fourteen soldiers"), ("target", "their convoy"), ("place", "Anefis"), ("time", "Monday")]),
        sent("JNIM said its fighters carried out the ambush.", ["attack", "claim"],
             [("speaker", "JNIM"), ("perpetrator", "its fighters")]),
    ], outlet="Gao Radio")
    nextday = article("brief", "2025-03-05", [
        sent("A roadside bomb near Anefis killed three soldiers on Tuesday.", ["attack"],
             [("means", "roadside bomb"), ("place", "Anefis"), ("killed", "three soldiers"), ("time", "Tuesday")]),
    ])
    return [wire, radio, nextday]


def test_reports_of_one_act_merge_and_the_next_days_act_in_the_same_town_does_not():
    result = build_incidents(_three_reports())
    assert (result.articles, result.events, result.incidents, result.several_sources) == (3, 3, 2, 1)
    by_sources = sorted(result.records(), key=lambda r: -r["source_count"])
    result.close()
    merged, other = by_sources
    assert {s["article"] for s in merged["sources"]} == {"wire", "radio"}
    assert {s["article"] for s in other["sources"]} == {"brief"}
    assert merged["date"] == "2025-03-03" and merged["date_precision"] == "day"
    assert merged["event"] == "ASSAULT" and merged["event_loc"]["country"] == "ML"
    # "at least 12" and "fourteen" become the range 12-14, with each source's value beside it
    assert (merged["size"]["dead"]["low"], merged["size"]["dead"]["high"]) == (12, 14)
    assert sorted(g["text"] for g in merged["size"]["dead"]["reports"]) == ["Fourteen soldiers", "at least 12 soldiers"]
    assert [a["text"] for a in merged["claimed_by"]] == ["JNIM"]
    assert merged["first_report"] == "2025-03-04" and merged["last_report"] == "2025-03-05"
    assert sorted(ev["as"] for ev in merged["evidence"]) == ["report", "report", "report+claim"]
    for ev in merged["evidence"]:
        for r in ev["roles"]:
            assert ev["text"][r["start"]:r["end"]] == r["text"]
    assert other["date"] == "2025-03-04" and (other["size"]["dead"]["low"], other["size"]["dead"]["high"]) == (3, 3)
    alone = incident_records(_three_reports()[:1])[0]
    assert (alone["size"]["dead"]["low"], alone["size"]["dead"]["high"]) == (12, None)  # "at least 12" alone stays open


def test_two_events_of_one_article_never_share_an_incident():
    same = [sent(AMBUSH, ["attack"], AMBUSH_ROLES)]
    a = article("a", "2025-03-04", same)
    events = article_events(a.name, a.sentences, a.published) * 1
    twin = article_events("a", a.sentences, a.published)[0]
    twin.id = "a#2"
    incidents = list(merge_events(events + [twin]))
    assert len(incidents) == 2
    b = article("b", "2025-03-04", same)
    merged = list(merge_events(article_events(a.name, a.sentences, a.published)
                               + article_events(b.name, b.sentences, b.published)))
    assert len(merged) == 1


def test_a_retaliation_links_to_the_incident_of_the_act_it_answers_across_articles():
    first = article("first", "2025-06-10", [
        sent("Hezbollah fired rockets at Metula on Monday.", ["attack"],
             [("perpetrator", "Hezbollah"), ("means", "rockets"), ("target", "Metula"), ("time", "Monday")])])
    second = article("second", "2025-06-11", [
        sent("Israeli jets struck Nabatieh on Wednesday in response to Monday's rocket fire on Metula.",
             ["attack", "retaliation"],
             [("perpetrator", "Israeli jets"), ("target", "Nabatieh"), ("time", "Wednesday"), ("time", "Monday"),
              ("means", "rocket fire"), ("target", "Metula")])])
    records = incident_records([first, second])
    by_mode = {r["mode"]: r for r in records}
    cause = next(r for r in records if "first" in {s["article"] for s in r["sources"]})
    assert by_mode["retaliation"]["link"] == [{"type": "answers", "id": cause["id"]}]
    assert {s["article"] for s in cause["sources"]} == {"first", "second"}  # the second recalls it too


def test_flat_rows_have_the_columns_and_join_the_sources():
    row = flat_row(max(incident_records(_three_reports()), key=lambda r: r["source_count"]))
    assert tuple(row) == FLAT_COLUMNS
    assert sorted(row["articles"].split("; ")) == ["radio", "wire"] and row["outlets"] == "Gao Radio; Sahel Wire"
    assert (row["dead_low"], row["dead_high"], row["country"]) == (12, 14, "ML")


def test_incident_ids_are_stable_across_runs_and_input_order():
    reports = _three_reports()
    a = sorted(r["id"] for r in incident_records(reports))
    b = sorted(r["id"] for r in incident_records(list(reversed(_three_reports()))))
    assert a == b and len(set(a)) == 2


# --- reading batch output ---------------------------------------------------------------

def _rows(reports) -> list[dict]:
    rows = []
    for a in reports:
        for s in a.sentences:
            rows.append({"id": a.name, "date": a.published, "outlet": a.outlet, "sentence_index": s["index"],
                         "start": s["start"], "end": s["end"], "text": s["text"], "labels": s["labels"],
                         "scores": {lab: 0.9 for lab in s["labels"]}, "roles": s["roles"]})
    return rows


def test_batch_rows_are_read_as_articles_and_bad_rows_are_rejected_with_reasons(tmp_path):
    rows = _rows(_three_reports())
    rows[0]["roles"] = json.dumps(rows[0]["roles"])  # Parquet keeps roles as JSON text
    rows[1]["labels"] = ";".join(rows[1]["labels"])  # CSV joins labels
    rows.append({"id": "wire", "text": "A late row.", "labels": ["attack"], "scores": {}, "roles": []})
    rows.append({"id": "x", "text": "Bad roles.", "labels": ["attack"], "scores": {},
                 "roles": [{"role": "place", "start": 3, "end": 99, "text": "?"}]})
    rows.append({"id": "y", "date": "next week maybe", "text": "Undated.", "labels": [], "scores": {}, "roles": []})
    path = write_jsonl(tmp_path / "rows.jsonl", rows)
    rejected: list[tuple[int, str]] = []
    arts = list(read_articles([path], RowFields(), lambda f, n, why, rid: rejected.append((n, why)),
                              parse_article_date))
    assert [a.name for a in arts] == ["wire", "radio", "brief"]
    assert arts[0].sentences[0]["roles"] and arts[1].sentences[0]["labels"] == ["attack"]
    assert arts[1].outlet == "Gao Radio" and arts[0].published == "2025-03-04"
    reasons = dict(rejected)
    assert "continues after other articles" in reasons[5]
    assert "`roles` must be a list of spans" in reasons[6]
    assert "cannot read 'next week maybe'" in reasons[7]
    assert len(rejected) == 3


def test_classify_rows_name_their_article_in_source(tmp_path):
    rows = _rows(_three_reports())
    for r in rows:
        r["source"] = r.pop("id") + ".txt"
    arts = list(read_articles([write_jsonl(tmp_path / "c.jsonl", rows)], RowFields(), lambda *a: None,
                              parse_article_date))
    assert [a.name for a in arts] == ["wire.txt", "radio.txt", "brief.txt"]
    why: list[str] = []
    named = list(read_articles([write_jsonl(tmp_path / "d.jsonl", rows)], RowFields(id="outlet"),
                               lambda f, n, reason, rid: why.append(reason), parse_article_date))
    assert [a.name for a in named] == ["Sahel Wire", "Gao Radio"]  # a named field is not second-guessed
    assert why == ["no 'outlet' field naming the row's article (set --id-field)"]


def test_rows_without_roles_are_refused(tmp_path):
    path = write_jsonl(tmp_path / "plain.jsonl", [{"id": 1, "text": "x", "labels": [], "scores": {}}])
    with pytest.raises(InputError, match="--roles"):
        list(read_articles([path], RowFields(), lambda *a: None, parse_article_date))


# --- the command ------------------------------------------------------------------------

def test_incidents_from_batch_output_write_jsonl_csv_and_the_html_view(tmp_path):
    from typer.testing import CliRunner

    from conflictclf.cli.main import app

    reports = _three_reports()
    reports[2].sentences[0]["text"] = reports[2].sentences[0]["text"].replace("A roadside", "A <script>x</script>")
    rows = _rows(reports)
    for r in rows:
        if "script" in r["text"]:
            shift = len("A <script>x</script>") - len("A roadside")
            r["roles"] = [dict(x, start=x["start"] + shift, end=x["end"] + shift) if x["start"] > 2 else x
                          for x in r["roles"] if x["role"] != "means"]
            r["end"] = len(r["text"])
    rows.append({"id": "junk", "text": 5, "labels": [], "scores": {}, "roles": []})
    src = write_jsonl(tmp_path / "labelled.jsonl", rows)
    outs = [tmp_path / "inc.jsonl", tmp_path / "inc.csv", tmp_path / "inc.html"]
    res = CliRunner().invoke(app, ["incidents", str(src), *sum((["-o", str(p)] for p in outs), []), "-q"])
    ok(res)
    said = " ".join(res.output.split())  # the terminal wraps at 80 columns
    assert "3 articles, 4 labelled sentences -> 3 events -> 2 incidents (1 reported by several articles)" in said
    recs = [json.loads(x) for x in outs[0].read_text().splitlines()]
    assert sorted(r["source_count"] for r in recs) == [1, 2]
    header = outs[1].read_text().splitlines()[0].split(",")
    assert header == list(FLAT_COLUMNS) and len(outs[1].read_text().splitlines()) == 3
    page = outs[2].read_text()
    counter = Page(page)
    assert counter.count("tr", "main") == 2 and counter.count("circle") == 2
    assert "2 incidents from 3 articles (1 reported by several articles)" in " ".join(page.split())
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    rejects = [json.loads(x) for x in (tmp_path / "inc.rejects.jsonl").read_text().splitlines()]
    assert [x["id"] for x in rejects] == ["junk"] and "text field 'text'" in rejects[0]["reason"]


def test_incidents_command_errors_are_one_line(tmp_path):
    from typer.testing import CliRunner

    from conflictclf.cli.main import app

    src = write_jsonl(tmp_path / "labelled.jsonl", _rows(_three_reports()))
    run = CliRunner().invoke
    one_line_error(run(app, ["incidents", str(src), "-o", str(tmp_path / "x.xml")]), "unknown extension '.xml'")
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"id": 1, "text": "x", "labels": [], "scores": {}}])
    one_line_error(run(app, ["incidents", str(plain), "-o", str(tmp_path / "y.jsonl")]), "no row has `roles`")
    one_line_error(run(app, ["incidents", str(src), "-o", str(tmp_path / "z.jsonl"), "--date", "2025-01-01"]),
                   "--date is for article files")
    assert not (tmp_path / "z.jsonl").exists()


def test_history_recalled_in_passing_is_its_own_event_and_bare_sentences_skip_it():
    a = article("h", "2025-03-04", [
        sent(AMBUSH, ["attack"], AMBUSH_ROLES),
        sent("The group has repeatedly attacked convoys in the region since 2019.", ["attack"],
             [("perpetrator", "The group"), ("target", "convoys")]),
        sent("Several trucks were burnt.", ["attack"], [("target", "trucks")]),
    ])
    main, history = article_events(a.name, a.sentences, a.published)
    assert history.background and not main.background
    assert [m.text for m in history.mentions] == [a.sentences[1]["text"]]
    assert [m.text for m in main.mentions] == [AMBUSH, "Several trucks were burnt."]
    records = {r["background"]: r for r in incident_records([a])}
    assert set(records) == {True, False}


@pytest.mark.parametrize("history", [
    "Officials have previously blamed the group for similar attacks on the road.",
    "The town has seen several bombings in past years.",
    "The army has kept up near-daily strikes on the area despite the truce.",
    "It was the fifth drone attack on the base in a week.",
])
def test_other_ways_of_recalling_history_start_a_background_event(history):
    a = article("h", "2025-03-04", [sent(AMBUSH, ["attack"], AMBUSH_ROLES), sent(history, ["attack"], [])])
    main, past = article_events(a.name, a.sentences, a.published)
    assert past.background and [m.text for m in past.mentions] == [history]
    assert not main.background and [m.text for m in main.mentions] == [AMBUSH]


def test_an_incident_whose_places_do_not_resolve_takes_the_datelines_country():
    a = article("d", "2025-03-05", [
        sent("GAO, March 5 (Wire) - Gunmen attacked the village of Tinzawaten on Tuesday.", ["attack"],
             [("perpetrator", "Gunmen"), ("place", "village of Tinzawaten"), ("time", "Tuesday")])])
    loc = incident_records([a])[0]["event_loc"]
    assert (loc["country"], loc["precision"], loc["from"], loc["text"]) == ("ML", "country", "dateline",
                                                                             "village of Tinzawaten")
    b = article("n", "2025-03-05", [
        sent("Gao, March 5 (Wire) - Gunmen attacked the village of Tinzawaten on Tuesday.", ["attack"],
             [("perpetrator", "Gunmen"), ("place", "village of Tinzawaten"), ("time", "Tuesday")])])
    assert incident_records([b])[0]["event_loc"]["country"] is None  # no dateline, no guess


def test_incidents_from_article_records_run_the_batch_job_and_resume(role_model, tmp_path):
    from typer.testing import CliRunner

    from conflictclf.cli.main import app

    out, _ = role_model
    texts = ["militia drone strike killed wounded at the village 3. aid reached the port 4.",
             "army shelled the village 5. militia drone strike at the base 6."]
    src = write_jsonl(tmp_path / "articles.jsonl", [{"id": f"a{k}", "date": f"2025-03-0{k + 1}", "outlet": "Wire",
                                                      "text": t} for k, t in enumerate(texts)])
    dst = tmp_path / "inc.jsonl"
    run = CliRunner().invoke
    ok(run(app, ["incidents", str(src), "-o", str(dst), "--model", str(out), "-q"]))
    work = tmp_path / "inc.sentences.jsonl"
    rows = [json.loads(x) for x in work.read_text().splitlines()]
    assert {r["id"] for r in rows} == {"a0", "a1"} and all("roles" in r and r["outlet"] == "Wire" for r in rows)
    first = dst.read_text()
    for rec in map(json.loads, first.splitlines()):
        for ev in rec["evidence"]:
            article = texts[int(ev["article"][1])]
            assert article[ev["start"]:ev["end"]] == ev["text"] and ev["outlet"] == "Wire"
    ok(run(app, ["incidents", str(src), "-o", str(dst), "--model", str(out), "-q", "--resume"]))
    assert dst.read_text() == first
    files = [tmp_path / "one.txt", tmp_path / "two.txt"]
    for f, t in zip(files, texts):
        f.write_text(t, encoding="utf-8")
    ok(run(app, ["incidents", *map(str, files), "-o", str(tmp_path / "f.csv"), "--model", str(out), "--date",
                 "2025-03-02", "-q"]))
    assert (tmp_path / "f.csv").read_text().splitlines()[0] == ",".join(FLAT_COLUMNS)
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "b", "date": "someday", "text": texts[0]}])
    one_line_error(run(app, ["incidents", str(bad), "-o", str(tmp_path / "b.jsonl"), "--model", str(out), "-q"]),
                   "all 1 rows were rejected; the first")


from tests.test_roles import role_model  # noqa: E402,F401  (the tiny model with a role tagger)


def test_written_results_get_the_usual_file_permissions_not_private_ones(tmp_path):
    import os

    from conflictclf.data.files import atomic_write_text

    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "r.jsonl", "{}\n")
    finally:
        os.umask(mask)
    assert (tmp_path / "r.jsonl").stat().st_mode & 0o777 == 0o644


def test_an_incident_takes_reports_only_within_its_window_so_daily_reports_do_not_chain():
    reports = [article(f"day{d}", f"2025-05-{d:02d}", [
        sent("Shelling hit the market in Kherson, Ukraine, officials said.", ["attack"],
             [("target", "market"), ("place", "Kherson"), ("place", "Ukraine")])]) for d in (1, 3, 5, 7)]
    got = sorted(sorted(s["article"] for s in r["sources"]) for r in incident_records(reports))
    assert got == [["day1", "day3"], ["day5", "day7"]]


def test_actor_phrases_group_by_whom_they_name_and_pronouns_are_left_out():
    from conflictclf.model.events.records import _group_phrases

    got = _group_phrases([("a", "Gunmen"), ("b", "gunmen"), ("a", "JNIM"), ("b", "JNIM fighters"), ("c", "JNIM"),
                          ("c", "it"), ("b", "They")])
    assert got == [{"text": "JNIM", "variants": ["JNIM", "JNIM fighters"], "sources": 3},
                   {"text": "Gunmen", "variants": ["Gunmen", "gunmen"], "sources": 2}]


def test_the_spooled_files_go_when_the_result_is_closed():
    result = build_incidents(_three_reports())
    folder = result.workspace.folder
    assert sorted(p.name for p in folder.iterdir()) == ["events.jsonl", "records.jsonl"]
    first, again = list(result.records()), list(result.records())
    assert first == again and [r["date"] for r in first] == sorted(r["date"] for r in first)
    result.close()
    assert not folder.exists()
