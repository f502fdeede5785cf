"""`conflictclf serve`: the real server process on a free port, called over HTTP with httpx;
the service under it; and the app in-process for the paths a healthy server cannot be
driven into (an unexpected error). The batcher alone: tests/test_batcher.py."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from typer.testing import CliRunner

from conflictclf.cli.main import app as cli_app
from conflictclf.cli.serve_config import ServeConfig
from conflictclf.data.errors import ModelError
from conflictclf.model.articles import classify_texts, label_segmented, segment_articles
from conflictclf.model.classifier import EventClassifier, package_version
from conflictclf.model.serving import ClassifierService
from tests.conftest import LABELS, MARKUP_ARTICLE, one_line_error

httpx = pytest.importorskip("httpx", reason="the serve tests need the test extra (httpx)")
pytest.importorskip("fastapi", reason="`conflictclf serve` needs the serve extra (pip install '.[serve]')")

runner = CliRunner()
# small limits, so that going over them costs the tests nothing
MAX_BODY, MAX_TEXTS = 20_000, 5
ARTICLE = "Militia fired rockets at the base.\nThe group claimed responsibility. The army vowed revenge."


@pytest.fixture(scope="module")
def clf(tiny_model):
    return EventClassifier.from_pretrained(tiny_model)


def expected(clf, pairs, explain=False):
    return [r.to_dict() for r in classify_texts(clf, pairs, explain=explain).records]


def same_records(got, want):
    """Equal records; scores may differ in the 6th decimal (a batch shared with other requests
    pads sentences differently, which moves fp32 sums by an ulp or so)."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert set(g) == set(w)
        assert {k: v for k, v in g.items() if k not in ("scores", "rationales")} == \
               {k: v for k, v in w.items() if k not in ("scores", "rationales")}
        assert g["scores"] == pytest.approx(w["scores"], abs=2e-6)
        if "rationales" in w:
            spans = {lab: [(r["start"], r["end"], r["text"]) for r in rs] for lab, rs in w["rationales"].items()}
            assert {lab: [(r["start"], r["end"], r["text"]) for r in rs] for lab, rs in g["rationales"].items()} == spans


@pytest.fixture(scope="module")
def server(tiny_model):
    """`conflictclf serve` as a user starts it (no --host), on a free port; stopped with Ctrl-C."""
    cmd = [sys.executable, "-m", "conflictclf.cli.main", "serve", "--model", str(tiny_model), "--port", "0",
           "--batch-wait-ms", "50", "--max-body-bytes", str(MAX_BODY), "--max-texts", str(MAX_TEXTS)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(300, proc.kill)  # a server that never says where it listens must not hang the run
    watchdog.start()
    line = proc.stderr.readline()
    watchdog.cancel()
    assert line.startswith("serving "), line + proc.stderr.read()
    url = line.split(" at ")[1].split()[0]
    client = httpx.Client(base_url=url, timeout=120)
    yield {"url": url, "client": client, "proc": proc}
    client.close()
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 0 and rest.strip().endswith("stopped"), rest
    assert "Traceback" not in rest, rest


def test_binds_to_loopback_by_default(server):
    assert server["url"].startswith("http://127.0.0.1:")
    assert ServeConfig().host == "127.0.0.1"


def test_cli_defaults_are_serve_config(tiny_model):
    import typer

    cmd = typer.main.get_command(cli_app).commands["serve"]
    defaults = {p.name: p.default for p in cmd.params}
    cfg = ServeConfig()
    for name in ("host", "port", "backend", "max_body_bytes", "max_texts", "batch_wait_ms"):
        assert defaults[name] == getattr(cfg, name), name


def test_single_text_gives_classify_records(server, clf):
    r = server["client"].post("/classify", json={"text": ARTICLE})
    assert r.status_code == 200, r.text
    got = r.json()
    assert [x["text"] for x in got] == ["Militia fired rockets at the base.", "The group claimed responsibility.",
                                       "The army vowed revenge."]
    assert all(x["source"] == "text" and "rationales" not in x for x in got)
    same_records(got, expected(clf, [("text", ARTICLE)]))
    assert "conflictclf-left-out" not in r.headers


def test_text_list_and_articles(server, clf):
    texts = ["army shelled the village", ARTICLE]
    r = server["client"].post("/classify", json={"texts": texts})
    assert r.status_code == 200, r.text
    same_records(r.json(), expected(clf, [("0", texts[0]), ("1", texts[1])]))
    arts = [{"id": "a1", "text": ARTICLE}, {"id": 7, "text": MARKUP_ARTICLE}]
    r = server["client"].post("/classify", json={"articles": arts})
    assert r.status_code == 200, r.text
    got = r.json()
    same_records(got, expected(clf, [("a1", ARTICLE), ("7", MARKUP_ARTICLE)]))
    assert [x["source"] for x in got] == ["a1"] * 3 + ["7"] * (len(got) - 3)  # article ids as strings, in order
    # what segmentation left out is said, as classify says it on stderr
    assert "markup" in r.headers["conflictclf-left-out"]


def test_explain_gives_classify_rationales(server, clf):
    r = server["client"].post("/classify", json={"text": ARTICLE, "explain": True})
    assert r.status_code == 200, r.text
    got = r.json()
    assert all("rationales" in x for x in got)
    same_records(got, expected(clf, [("text", ARTICLE)], explain=True))


def test_the_documented_record_is_the_record():
    from dataclasses import fields

    from conflictclf.cli.serve_app import RationaleOut, RecordOut
    from conflictclf.model.articles import SentenceResult
    from conflictclf.model.explain import Rationale

    assert list(RecordOut.model_fields) == [f.name for f in fields(SentenceResult)]
    assert list(RationaleOut.model_fields) == [f.name for f in fields(Rationale)]


def test_model_and_health(server, clf, tiny_model):
    info = server["client"].get("/model").json()
    assert info["labels"] == LABELS and info["backend"] == "torch" and info["version"] == package_version()
    assert info["thresholds"] == pytest.approx(dict(zip(clf.labels, map(float, clf.thresholds))))
    assert info["model_sha256"] == hashlib.sha256((tiny_model / "model.safetensors").read_bytes()).hexdigest()
    health = server["client"].get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    docs = server["client"].get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "/classify" in server["client"].get("/openapi.json").json()["paths"]


def test_concurrent_requests_share_forward_passes(server, clf):
    texts = [f"Militia fired rockets at the base {i} times. The army vowed revenge {i} times." for i in range(16)]
    before = server["client"].get("/healthz").json()
    start = threading.Barrier(len(texts))

    def post(text):
        start.wait()
        return httpx.post(server["url"] + "/classify", json={"text": text}, timeout=60)

    with ThreadPoolExecutor(len(texts)) as pool:
        answers = list(pool.map(post, texts))
    after = server["client"].get("/healthz").json()
    for text, r in zip(texts, answers):
        assert r.status_code == 200, r.text
        same_records(r.json(), expected(clf, [("text", text)]))
    assert after["requests"] - before["requests"] == len(texts)
    assert after["sentences"] - before["sentences"] == len(segment_articles([("t", t) for t in texts]).units)
    # 16 requests sent at once within the 50 ms wait: far fewer forward passes than requests
    assert after["batches"] - before["batches"] < len(texts)
    assert after["largest_batch"] > 1


BAD_BODIES = [
    ("broken JSON", b'{"text": ', 422),
    ("not an object", b'["a", "b"]', 422),
    ("text not a string", json.dumps({"text": 5}).encode(), 422),
    ("texts not a list", json.dumps({"texts": "abc"}).encode(), 422),
    ("explain not a bool", json.dumps({"text": "a", "explain": "yes"}).encode(), 422),
    ("article without id", json.dumps({"articles": [{"text": "a"}]}).encode(), 422),
    ("unknown field", json.dumps({"txt": "a"}).encode(), 422),
    ("two inputs", json.dumps({"text": "a", "texts": ["b"]}).encode(), 422),
    ("no input", b"{}", 422),
    ("empty text", json.dumps({"text": ""}).encode(), 400),
    ("blank text in a list", json.dumps({"texts": ["army shelled the town", " \n "]}).encode(), 400),
    ("empty list", json.dumps({"texts": []}).encode(), 400),
    ("duplicate article ids", json.dumps({"articles": [{"id": 1, "text": "a"}, {"id": "1", "text": "b"}]}).encode(),
     400),
    ("broken UTF-8", b'\xff\xfe{"text": "army shelled the town"}', 400),
    ("JSON nested too deep", b"[" * 15_000, 400),
    ("half a surrogate pair", b'{"texts": ["army shelled", "army shelled the town \\ud800 today"]}', 400),
    ("half a surrogate pair in an id", b'{"articles": [{"id": "\\udc00", "text": "army shelled the town"}]}', 400),
    ("too many texts", json.dumps({"texts": ["a"] * (MAX_TEXTS + 1)}).encode(), 413),
    ("body over the limit", json.dumps({"text": "army shelled the town. " * 1000}).encode(), 413),
]


@pytest.mark.parametrize("case, body, status", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_bodies_get_a_json_4xx(server, case, body, status):
    r = server["client"].post("/classify", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert detail and "Traceback" not in r.text
    if status == 400:
        assert isinstance(detail, str) and any(w in detail for w in ("empty", "twice", "surrogate", "parsing"))
    if status == 413:
        assert "--max-texts" in detail or "--max-body-bytes" in detail


def test_chunked_body_is_counted(server, clf):
    """A chunked body has no Content-Length: its bytes are counted as they arrive."""
    def chunks(body: bytes):
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]

    big = json.dumps({"text": "army shelled the town. " * 1000}).encode()
    r = server["client"].post("/classify", content=chunks(big), headers={"content-type": "application/json"})
    assert r.request.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.request.headers
    assert r.status_code == 413 and "--max-body-bytes" in r.json()["detail"]
    # under the limit, the counted body reaches the app whole
    small = json.dumps({"text": ARTICLE}).encode()
    r = server["client"].post("/classify", content=chunks(small), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    same_records(r.json(), expected(clf, [("text", ARTICLE)]))


def test_port_in_use_is_one_error_line(tiny_model):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = runner.invoke(cli_app, ["serve", "--model", str(tiny_model), "--port", str(port)])
    one_line_error(result, f"cannot listen on 127.0.0.1:{port}")


def test_without_the_extra_serve_says_how_to_install(tiny_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now raises ImportError
    result = runner.invoke(cli_app, ["serve", "--model", str(tiny_model), "--port", "0"])
    one_line_error(result, "pip install 'conflictclf[serve]'")


# In-process: the app over a classifier that fails, and the service alone.

def test_an_unexpected_error_is_a_json_500_without_traceback(clf, monkeypatch):
    from fastapi.testclient import TestClient

    from conflictclf.cli.serve_app import create_app

    def broken(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(clf, "predict", broken)
    with TestClient(create_app(clf), raise_server_exceptions=False) as client:
        r = client.post("/classify", json={"text": "army shelled the village"})
        assert r.status_code == 500
        assert r.json()["detail"].startswith("unexpected RuntimeError") and "Traceback" not in r.text
        assert client.get("/healthz").status_code == 200  # the service lives on


def test_service_gives_each_job_its_own_records_and_errors(clf, monkeypatch):
    import conflictclf.model.explain as explain_mod

    def refuse(*_a, **_k):
        raise ModelError("no rationales for this model")

    service = ClassifierService(clf, batch_wait_ms=200)
    try:
        monkeypatch.setattr(explain_mod, "explain_labels", refuse)
        jobs = [([("a", ARTICLE)], False), ([("b", "army shelled the village")], True),
                ([("c", MARKUP_ARTICLE), ("d", "aid reached the port")], False)]
        futures = [service.submit(pairs, explain) for pairs, explain in jobs]
        assert [r.to_dict() for r in futures[0].result(60).records] == expected(clf, [("a", ARTICLE)])
        with pytest.raises(ModelError, match="no rationales"):
            futures[1].result(60)  # its own error, not its batch-mates'
        third = futures[2].result(60)
        assert [r.to_dict() for r in third.records] == expected(clf, [("c", MARKUP_ARTICLE), ("d", "aid reached the port")])
        assert third.sources == ["c", "d"] and third.markup["c"] > 0
        stats = service.stats
        assert stats.requests == 3 and stats.batches == 1 and stats.largest_batch == 3
        assert stats.sentences == sum(len(segment_articles(p).units) for p, _ in jobs)
    finally:
        service.close()


def test_label_segmented_refuses_a_prediction_count_that_does_not_fit(clf):
    seg = segment_articles([("a", ARTICLE)])
    with pytest.raises(ModelError, match="3 sentences but 2 predictions"):
        label_segmented(clf, seg, clf.predict(seg.texts[:2]))
