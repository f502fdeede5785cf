"""Role spans: the annotation format, the tagger's targets and decoding, span F1, training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conflictclf.data.corpus import parse_line
from conflictclf.data.errors import DataError, ModelError
from conflictclf.data.roles import ROLES, Span, parse_spans, record_spans
from conflictclf.model.events.tagger import RoleTagger, decode, has_roles
from conflictclf.train.role_metrics import span_scores
from conflictclf.train.roles import IGNORE, token_targets
from tests.conftest import tiny_config, tiny_records, write_jsonl

SENT = "Militants shelled the base in Gao on Sunday, killing two soldiers."


def span(role: str, piece: str, text: str = SENT) -> dict:
    start = text.index(piece)
    return {"role": role, "start": start, "end": start + len(piece), "text": piece}


def test_spans_are_checked_against_the_sentence():
    good = parse_spans([span("place", "Gao"), span("killed", "two soldiers"), span("target", "two soldiers")],
                       SENT, "f:1")
    assert [(s.role, s.text) for s in good] == [("place", "Gao"), ("target", "two soldiers"),
                                                ("killed", "two soldiers")]
    gao = SENT.index("Gao")
    bad = [
        ([{"role": "victim", "start": 0, "end": 3}], "unknown role 'victim'"),
        ([{"role": "place", "start": gao, "end": 300}], "fall outside the sentence"),
        ([{"role": "place", "start": gao, "end": gao + 3, "text": "Mali"}], "is not the sentence's"),
        ([{"role": "place", "start": gao - 1, "end": gao + 3}], "starts or ends with a space"),
        ([span("place", "Gao"), span("place", "Gao")], "given twice"),
        ([{"role": "place", "start": str(gao), "end": gao + 3}], "must be integers"),
        ({"role": "place"}, "must be a list"),
    ]
    for value, message in bad:
        with pytest.raises(DataError, match=message):
            parse_spans(value, SENT, "f:1")


def test_a_record_without_the_field_is_not_annotated_and_an_empty_list_is():
    line = '{"id": "x", "text": "%s", "labels": ["attack"]}' % SENT
    assert record_spans(parse_line(line, "f", 1)) is None
    rec = parse_line(line[:-1] + ', "roles": []}', "f", 1)
    assert record_spans(rec) == ()


def test_targets_mark_first_token_begin_and_the_rest_inside():
    offsets = [(0, 0), (0, 4), (5, 9), (10, 12), (12, 15), (0, 0)]  # [CLS] "Shia" "mili" "##tia"... [SEP]
    special = [1, 0, 0, 0, 0, 1]
    y = token_targets(offsets, special, [Span("perpetrator", 5, 15, "xxxxxxxxxx")])
    k = ROLES.index("perpetrator")
    assert (y[0] == IGNORE).all() and (y[-1] == IGNORE).all()
    assert y[2, 2 * k] == 1 and y[2, 2 * k + 1] == 0  # begins
    assert y[3, 2 * k + 1] == 1 and y[4, 2 * k + 1] == 1 and y[3, 2 * k] == 0  # continues
    assert y[1].sum() == 0  # outside the span


def test_decode_joins_tokens_allows_two_roles_on_one_stretch_and_widens_to_words():
    text = "Rebels killed two soldiers"
    offsets = [(0, 0), (0, 6), (7, 13), (14, 17), (18, 22), (22, 26), (0, 0)]  # "sold" "iers" pieces
    probs = np.zeros((len(offsets), 2 * len(ROLES)))
    per, tgt, kil = (ROLES.index(r) for r in ("perpetrator", "target", "killed"))
    probs[1, 2 * per] = 0.9
    for k in (tgt, kil):
        probs[3, 2 * k], probs[4, 2 * k + 1], probs[5, 2 * k + 1] = 0.8, 0.7, 0.6
    probs[5, 2 * per + 1] = 0.9  # an I token of a role with no open span starts one: widened to the word
    spans = decode(probs, offsets, text, ROLES)
    got = {(s.role, s.text) for s in spans}
    assert got == {("perpetrator", "Rebels"), ("target", "two soldiers"), ("killed", "two soldiers"),
                   ("perpetrator", "soldiers")}
    assert all(text[s.start:s.end] == s.text for s in spans)


def test_a_span_that_spills_onto_a_function_word_or_comma_is_trimmed_to_the_name():
    text = "Gunmen on motorbikes struck Kidal, Mali"
    offsets = [(0, 0), (0, 6), (7, 9), (10, 20), (21, 27), (28, 33), (33, 34), (35, 39), (0, 0)]
    probs = np.zeros((len(offsets), 2 * len(ROLES)))
    per, pla = ROLES.index("perpetrator"), ROLES.index("place")
    probs[1, 2 * per], probs[2, 2 * per + 1] = 0.9, 0.9  # "Gunmen on"
    probs[5, 2 * pla], probs[6, 2 * pla + 1] = 0.9, 0.9  # "Kidal,"
    got = {(s.role, s.text) for s in decode(probs, offsets, text, ROLES)}
    assert got == {("perpetrator", "Gunmen"), ("place", "Kidal")}


def test_span_scores_exact_and_overlap():
    gold = [[Span("place", 0, 10, "x" * 10), Span("time", 20, 26, "x" * 6)]]
    pred = [[Span("place", 3, 10, "x" * 7), Span("time", 20, 26, "x" * 6), Span("means", 30, 35, "x" * 5)]]
    s = span_scores(gold, pred)
    assert s["exact"]["place"]["f1"] == 0 and s["overlap"]["place"]["f1"] == 1
    assert s["exact"]["time"]["f1"] == 1 and s["exact"]["means"]["p"] == 0
    assert s["overlap"]["micro"]["p"] == pytest.approx(2 / 3, abs=1e-3)
    assert s["overlap"]["micro"]["r"] == 1


def _records_with_roles() -> list[dict]:
    """tiny_records whose attack cue names a perpetrator and a means (by the cue's own words)."""
    out = []
    for r in tiny_records():
        if r["labels"]:
            roles = []
            for piece, role in (("militia", "perpetrator"), ("army", "perpetrator"), ("rockets", "means"),
                                ("drone", "means"), ("village", "target"), ("base", "target")):
                at = r["text"].find(piece)
                if at >= 0:
                    roles.append({"role": role, "start": at, "end": at + len(piece)})
            r = dict(r, roles=roles)
        out.append(r)
    return out


@pytest.fixture(scope="module")
def role_model(tiny_base, tmp_path_factory):
    from conflictclf.train.trainer import train

    corpus = write_jsonl(tmp_path_factory.mktemp("roles-corpus") / "c.jsonl", _records_with_roles())
    out = tmp_path_factory.mktemp("models") / "with-roles"
    logged: list[str] = []
    train(tiny_config(tiny_base, roles_base_model=str(tiny_base), roles_epochs=12, roles_learning_rate=5e-3),
          [corpus], out, log=logged.append, progress=False)
    return out, logged


def test_training_writes_a_tagger_whose_spans_point_into_the_sentence(role_model):
    out, logged = role_model
    assert has_roles(out)
    assert any(line.startswith("roles: dev span F1") for line in logged)
    tagger = RoleTagger.from_pretrained(out)
    texts = ["militia drone strike killed wounded at the village 3", "aid reached the port 4"]
    tagged = tagger.tag(texts)
    assert len(tagged) == 2
    for text, spans in zip(texts, tagged):
        for s in spans:
            assert s.role in ROLES and text[s.start:s.end] == s.text and s.text == s.text.strip()
    # the cue words are all the tiny model can learn (its vocabulary lacks "rockets"):
    # "militia" is the token most likely to begin a perpetrator, and "drone" a means
    probs, offsets = tagger.scores(texts[:1])[0]
    words = [texts[0][a:b] for a, b in offsets]
    for role, word in (("perpetrator", "militia"), ("means", "drone")):
        column = probs[:, 2 * ROLES.index(role)]
        assert words[int(np.argmax(column))] == word, (role, dict(zip(words, column.round(2))))


def test_a_model_trained_without_role_spans_has_no_tagger(tiny_model):
    assert not has_roles(tiny_model)
    with pytest.raises(ModelError, match="no role tagger"):
        RoleTagger.from_pretrained(tiny_model)


def test_classify_roles_gives_spans_and_values_for_labelled_sentences_only(role_model):
    from typer.testing import CliRunner

    from conflictclf.cli.main import app
    from tests.conftest import ok

    out, _ = role_model
    text = "GAO, Mali, March 3, 2025 (Reuters) - militia drone strike killed wounded at the village 3. aid reached the port 4."
    result = ok(CliRunner().invoke(app, ["classify", "--text", text, "--model", str(out), "--roles", "--format", "json"]))
    records = json.loads(result.stdout)
    assert all("roles" in r for r in records)
    for r in records:
        if not r["labels"]:
            assert r["roles"] == []
        for role in r["roles"]:
            assert r["text"][role["start"]:role["end"]] == role["text"]
            assert ("value" in role) == (role["role"] in ("time", "place", "killed", "injured"))
    plain = ok(CliRunner().invoke(app, ["classify", "--text", text, "--model", str(out), "--format", "json"]))
    assert all("roles" not in r for r in json.loads(plain.stdout))


def test_classify_roles_errors(role_model, tiny_model):
    from typer.testing import CliRunner

    from conflictclf.cli.main import app
    from tests.conftest import one_line_error

    out, _ = role_model
    run = CliRunner().invoke
    one_line_error(run(app, ["classify", "-t", "x", "--model", str(tiny_model), "--roles"]), "no role tagger")
    one_line_error(run(app, ["classify", "-t", "x", "--model", str(out), "--date", "2025-01-01"]), "add --roles")
    one_line_error(run(app, ["classify", "-t", "x", "--model", str(out), "--roles", "--date", "soon-ish"]),
                   "cannot read")
    one_line_error(run(app, ["classify", "-t", "x", "--model", str(out), "--roles", "-f", "csv"]), "csv cannot hold")


def test_roles_with_dates_resolve_against_the_given_date():
    """article_roles with a stand-in tagger: the date given wins, places settle by the article's country."""
    import datetime as dt

    from conflictclf.model.events.roles import article_roles

    class Fixed:
        def tag(self, texts):
            out = []
            for t in texts:
                spans = []
                for role, piece in (("time", "Monday"), ("place", "Gao"), ("place", "Burkina Faso")):
                    if piece in t:
                        spans.append(Span(role, t.index(piece), t.index(piece) + len(piece), piece))
                out.append(spans)
            return out

    texts = ["Gunmen attacked Gao on Monday.", "The army said it was calm.", "Burkina Faso mourned."]
    roles = article_roles(Fixed(), texts, [True, False, True], dt.date(2025, 3, 19))
    assert roles[1] == []
    first = {r.role: r.value for r in roles[0]}
    assert first["time"]["value"] == "2025-03-17"
    assert first["place"]["country"] == "BF"  # the article names Burkina Faso, which has a Gao


def test_data_validate_checks_role_spans(tmp_path):
    from conflictclf.data.validate import validate

    base = {"source": "written", "doc": "d1", "split": "train"}
    rows = [
        dict(base, id="a", text=SENT, labels=["attack"], roles=[span("place", "Gao")]),
        dict(base, id="b", text="Talks resumed in Gao.", labels=[],
             roles=[{"role": "place", "start": 17, "end": 20}]),
        dict(base, id="c", text="Rebels shelled Gao.", labels=["attack"],
             roles=[{"role": "place", "start": 15, "end": 40}]),
    ]
    problems, _ = validate([write_jsonl(tmp_path / "c.jsonl", rows)])
    assert any(":2: role spans on a sentence with no label" in p for p in problems)
    assert any(":3: roles[0]: offsets 15-40 fall outside" in p for p in problems)
    assert not any(":1:" in p for p in problems)


def test_the_bundled_corpus_has_roles_on_every_labelled_sentence():
    from conflictclf.data.corpus import load_records

    records = load_records()
    labelled = [r for r in records if r.labels]
    assert all(record_spans(r) is not None for r in labelled)
    assert all(not record_spans(r) for r in records if not r.labels)


def test_batch_roles_with_a_date_field(role_model, tiny_model, tmp_path):
    from typer.testing import CliRunner

    from conflictclf.cli.main import app
    from tests.conftest import ok, one_line_error

    out, _ = role_model
    rows = [{"id": 1, "text": "militia drone strike killed wounded at the village 3", "published": "2025-03-18"},
            {"id": 2, "text": "aid reached the port 4", "published": "2025-03-18"},
            {"id": 3, "text": "army shelled the village 5", "published": "next week maybe"}]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    dst = tmp_path / "out.jsonl"
    run = CliRunner().invoke
    ok(run(app, ["batch", str(src), str(dst), "--model", str(out), "--roles", "--date-field", "published", "-q"]))
    got = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["id"] for r in got] == [1, 2]
    for r in got:
        assert isinstance(r["roles"], list) and r["published"] == "2025-03-18"
        for role in r["roles"]:
            assert r["text"][role["start"]:role["end"]] == role["text"]
        if not r["labels"]:
            assert r["roles"] == []
    rejects = [json.loads(x) for x in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert [(x["id"], "cannot read 'next week maybe' as a date" in x["reason"]) for x in rejects] == [(3, True)]
    one_line_error(run(app, ["batch", str(src), str(tmp_path / "o2.jsonl"), "--model", str(tiny_model), "--roles"]),
                   "no role tagger")
    one_line_error(run(app, ["batch", str(src), str(tmp_path / "o3.jsonl"), "--model", str(out), "--date",
                             "2025-01-01"]), "add --roles")


def test_the_terminal_table_lists_roles_under_the_sentence_within_80_columns():
    from io import StringIO

    from rich.console import Console

    from conflictclf.cli.render import print_articles
    from conflictclf.model.articles import ArticlesResult, SentenceResult
    from conflictclf.model.events.roles import Role

    roles = [Role("perpetrator", 0, 9, "Militants"),
             Role("place", 30, 33, "Gao", {"country": "ML", "region": "ML.09", "name": "Gao", "precision": "town",
                                           "resolved": True}),
             Role("killed", 44, 56, "two soldiers", {"low": 2, "high": 2, "resolved": True}),
             Role("time", 37, 43, "Sunday", {"value": None, "precision": None, "resolved": False})]
    rec = SentenceResult("a.txt", 0, 0, len(SENT), SENT, ["attack"], {"attack": 0.9, "claim": 0.1}, roles=roles)
    plain = SentenceResult("a.txt", 1, 0, 10, "Talks went on.", [], {"attack": 0.1, "claim": 0.1}, roles=[])
    buf = StringIO()
    print_articles(Console(file=buf, width=80, color_system=None), ArticlesResult([rec, plain], ["attack", "claim"],
                                                                                  ["a.txt"], {}, {}))
    lines = buf.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    flat = " ".join(" ".join(line.split()) for line in lines)
    for piece in ("perpetrator Militants", "place Gao (ML, ML.09)", "killed two soldiers (2)", "time Sunday (?)"):
        assert piece in flat, (piece, buf.getvalue())


def test_the_python_api_gives_roles_for_the_sentences_it_labels(role_model, tiny_model):
    import datetime as dt

    from conflictclf.model.classifier import EventClassifier

    out, _ = role_model
    clf = EventClassifier.from_pretrained(out, backend="torch")
    texts = ["militia drone strike killed wounded at the village 3", "aid reached the port 4"]
    labelled = [bool(p.labels) for p in clf.predict(texts)]
    got = clf.roles(texts, dt.date(2025, 3, 18))
    assert len(got) == 2
    for text, hit, roles in zip(texts, labelled, got):
        assert hit or roles == []
        assert all(text[r.start:r.end] == r.text for r in roles)
    forced = clf.roles(texts, labelled=[False, False])
    assert forced == [[], []]
    with pytest.raises(ModelError, match="2 texts but 1"):
        clf.roles(texts, labelled=[True])
    with pytest.raises(ModelError, match="no role tagger"):
        EventClassifier.from_pretrained(tiny_model, backend="torch").roles(texts)


def test_serve_gives_roles_when_asked(role_model, tiny_model):
    from fastapi.testclient import TestClient

    from conflictclf.cli.serve_app import create_app
    from conflictclf.model.classifier import EventClassifier

    out, _ = role_model
    text = "militia drone strike killed wounded at the village 3. aid reached the port 4."
    with TestClient(create_app(EventClassifier.from_pretrained(out, backend="torch"))) as client:
        plain = client.post("/classify", json={"text": text}).json()
        assert all("roles" not in r for r in plain)
        got = client.post("/classify", json={"text": text, "roles": True, "date": "2025-03-18"}).json()
        assert len(got) == len(plain) and all(isinstance(r["roles"], list) for r in got)
        for r in got:
            assert all(r["text"][x["start"]:x["end"]] == x["text"] for x in r["roles"])
        bad = client.post("/classify", json={"text": text, "roles": True, "date": "someday"})
        assert bad.status_code == 400 and "cannot read" in bad.json()["detail"]
        assert client.post("/classify", json={"text": text, "date": "2025-03-18"}).status_code == 400
    with TestClient(create_app(EventClassifier.from_pretrained(tiny_model, backend="torch"))) as client:
        r = client.post("/classify", json={"text": text, "roles": True})
        assert r.status_code == 400 and "no role tagger" in r.json()["detail"]
