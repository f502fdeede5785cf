"""Shared fixtures: a tiny random BERT and a tiny corpus, built once per session."""

from __future__ import annotations

import csv
import json
import random
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

LABELS = ["attack", "claim", "retaliation", "threat"]
WORDS = (
    "the a of in on at to and said was were has had will would forces militia army group rebels "
    "base town village city port ship convoy drone missile rocket strike strikes attack attacked "
    "killed wounded fired shelled bombed claimed responsibility credit statement spokesman warned "
    "vowed threatened revenge retaliation response avenge talks ceasefire aid minister analysts "
    "sanctions troops deployed market weather museum election budget police"
).split()


def tiny_records() -> list[dict]:
    """Sentences whose labels follow cue words, so even a tiny model can learn something."""
    rng = random.Random(0)
    cues = {
        "attack": ["militia fired rockets at the base", "army shelled the village", "drone strike killed wounded"],
        "claim": ["group claimed responsibility", "spokesman said it attacked"],
        "retaliation": ["in retaliation for", "response to the strikes"],
        "threat": ["warned it will strike", "vowed revenge"],
    }
    neutral = ["minister held ceasefire talks", "analysts said sanctions", "troops deployed to the city",
               "the museum and the market", "aid reached the port"]
    records = []
    for i in range(90):
        labels = sorted(rng.sample(LABELS, rng.choice([0, 0, 1, 1, 2])))
        parts = [rng.choice(cues[lab]) for lab in labels] or [rng.choice(neutral)]
        text = " and ".join(parts) + " " + " ".join(rng.sample(WORDS, 3)) + f" {i}"
        split = "train" if i < 60 else "dev" if i < 75 else "test"
        records.append({"id": f"t{i}", "text": text, "labels": labels, "source": "written",
                        "doc": f"d{i // 5}", "split": split})
    return records


# Input no command may crash on (what each holds; None: the file does not exist).
HOSTILE_FILES = {
    "missing": None,
    "empty": b"",
    "blank lines": b"\n  \n",
    "binary": b"\xff\xfe\x00\x01binary\x00",
    "latin-1": "Rebels shelled the caf\xe9.".encode("latin-1"),
    "JSON array": b'[{"text": "a", "labels": [], "scores": {}}]\n',
    "broken JSON": b'{"text": "a", "labels": [\n',
    "folder": b"",
}


@pytest.fixture
def hostile_file(tmp_path):
    """make(kind, suffix) -> a path holding HOSTILE_FILES[kind] (a folder for "folder")."""

    def make(kind: str, suffix: str) -> Path:
        path = tmp_path / f"hostile{suffix}"
        if kind == "folder":
            path.mkdir()
        elif HOSTILE_FILES[kind] is not None:
            path.write_bytes(HOSTILE_FILES[kind])
        return path

    return make


def ok(result):
    """A CLI run that succeeded; its output on failure, to see why."""
    assert result.exit_code == 0, result.output + result.stderr
    return result


def one_line_error(result, text: str) -> None:
    """A CLI run that failed as the README promises: non-zero exit, one `error:` line, no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.stderr


class Page(HTMLParser):
    """The HTML report as a browser would see it: elements by tag and class, text per sentence
    and per article, attributes."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.sentences: list[dict] = []
        self.underlined: list[str] = []
        self.scripts: list[str] = []
        self.articles: list[dict] = []  # per article section: its heading and its sentences' text
        self._in: list[str] = []
        self._sentence: dict | None = None
        self._script = False
        self._u = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section" and "art" in a.get("class", "").split():
            self.articles.append({"name": "", "sentences": []})
        if tag == "h2" and self.articles and not self.articles[-1]["sentences"]:
            self._in.append("h2")
        if tag == "li" and "s" in a.get("class", "").split():
            self._sentence = {"attrs": a, "text": "", "chips": []}
            self.sentences.append(self._sentence)
            self.articles[-1]["sentences"].append(self._sentence)
        if tag == "span" and "chip" in a.get("class", "") and self._sentence is not None:
            self._sentence["chips"].append(a)
            self._in.append("chip")
        if tag == "dl" and "roles" in a.get("class", "").split() and self._sentence is not None:
            self._in.append("dl")  # the roles listed under a sentence are not its text
        if tag == "script":
            self._script = True
            self.scripts.append("")
        if tag == "u":
            self._u = True
            self.underlined.append("")

    def handle_endtag(self, tag):
        if tag == "li":
            self._sentence = None
        if tag in ("span", "h2", "dl") and self._in and self._in[-1] == {"span": "chip"}.get(tag, tag):
            self._in.pop()
        if tag == "script":
            self._script = False
        if tag == "u":
            self._u = False

    def handle_data(self, data):
        if self._script:
            self.scripts[-1] += data
        elif self._in and self._in[-1] == "h2":
            self.articles[-1]["name"] += data
        elif self._sentence is not None and not self._in:
            self._sentence["text"] += data
        if self._u:
            self.underlined[-1] += data

    def count(self, tag, cls=None):
        return sum(t == tag and (cls is None or cls in a.get("class", "").split()) for t, a in self.tags)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT with a tiny word-level vocabulary, saved like a hub model."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("tiny-base")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(WORDS)) + [str(i) for i in range(10)]
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # transformers 5 builds a fast tokenizer from `vocab` and ignores `vocab_file` (every word
    # would be [UNK]); 4.x reads the file.
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})
    if len(tok) < len(vocab):
        tok = BertTokenizerFast(vocab_file=str(d / "vocab.txt"))
    assert tok.tokenize("militia base") == ["militia", "base"], "the tiny tokenizer lost its vocabulary"
    tok.save_pretrained(d)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=37, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("corpus") / "tiny.jsonl", tiny_records())


def tiny_config(base: Path, **kw):
    """A tiny training's config; no ONNX export unless a test asks for it (export=True)."""
    from conflictclf.train.config import TrainConfig

    values = dict(base_model=str(base), epochs=2, batch_size=8, max_length=32, learning_rate=5e-3,
                  early_stopping_patience=5, export=False)
    values.update(kw)
    return TrainConfig(**values)


@pytest.fixture(scope="session")
def tiny_model(tiny_base, tiny_corpus, tmp_path_factory) -> Path:
    """The tiny model as `train` writes it without the export: torch weights only."""
    from conflictclf.train.trainer import train

    out = tmp_path_factory.mktemp("models") / "tiny"
    train(tiny_config(tiny_base), [tiny_corpus], out, log=lambda m: None, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_exported_model(tiny_base, tiny_corpus, tmp_path_factory) -> Path:
    """The tiny model trained with the export: ONNX fp32, int8 and the recorded int8 verdict."""
    from conflictclf.train.trainer import train

    out = tmp_path_factory.mktemp("models") / "tiny-exported"
    train(tiny_config(tiny_base, export=True), [tiny_corpus], out, log=lambda m: None, progress=False)
    return out


# Batch and segmentation helpers shared by test_batch*, test_ray, test_segment and test_articles.

# Three real sentences with markup pasted in, as copied web text carries it.
MARKUP_ARTICLE = (
    "Militia fighters fired rockets at the <b>airbase</b> near the city on Tuesday, officials said.\n"
    '<img src="smoke.jpg" alt="Smoke rises over the base"> The group later claimed responsibility for the attack.\n'
    "The army vowed to retaliate.<script>var views = 0; if (views == 0) { track(); }</script>\n"
)


def make_mixed(path, n=30):
    """Records whose fields differ row to row and whose keys come in different orders."""
    recs = []
    for i in range(n):
        text = f"militia fired rockets at the base {i}"
        if i % 3 == 0:
            rec = {"id": i, "text": text, "a": i}
        elif i % 3 == 1:
            rec = {"b": f"b{i}", "text": text, "id": i}
        else:
            rec = {"c": {"k": i}, "a": i * 10, "id": i, "text": text, "d": i % 2 == 0}
        recs.append(rec)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return recs


def read_output(path):
    """Rows of a JSONL, CSV or Parquet output, a file (local engine) or a folder of parts (Ray)."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    rows = []
    for f in files:
        if f.suffix == ".parquet":
            rows += pq.read_table(f).to_pylist()
        elif f.suffix == ".csv":
            with f.open(encoding="utf-8", newline="") as fh:
                rows += list(csv.DictReader(fh))
        else:
            rows += [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines()]
    return rows


def as_csv(value):
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, dict) else str(value)


def check_mixed(recs, rows, fmt):
    """Every field of every record comes out under its own column, and nothing else is filled in."""
    assert len(rows) == len(recs)
    by_id = {int(r["id"]): r for r in rows}
    assert sorted(by_id) == [r["id"] for r in recs]
    fields = {k for r in recs for k in r}
    for rec in recs:
        row = by_id[rec["id"]]
        for k in fields:
            if fmt == "csv":
                assert row[k] == as_csv(rec.get(k)), (rec, k)
            elif fmt == "parquet":
                assert row[k] == rec.get(k), (rec, k)
            else:
                assert row.get(k) == rec.get(k) and set(row) == set(rec) | {"labels", "scores"}
        if fmt == "csv":
            assert set(row) == fields | {"labels"} | {f"score_{lab}" for lab in LABELS}
            assert all(0.0 <= float(row[f"score_{lab}"]) <= 1.0 for lab in LABELS)
        else:
            assert set(row["scores"]) == set(LABELS)


def make_jsonl(path, n=40, bad=True):
    lines = []
    for i in range(n):
        lines.append(json.dumps({"id": i, "text": f"militia fired rockets at the base {i % 10}", "extra": {"k": i}}))
    if bad:
        lines[3] = '{"id": 3, "text": '                      # undecodable line
        lines[5] = json.dumps({"id": 5, "text": ""})          # empty text
        lines[7] = json.dumps({"id": 7, "body": "x"})         # missing field
        lines[9] = json.dumps({"id": 9, "text": 12})          # not a string
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_jsonl(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


EXPECTED_REJECT_LINES = [*range(21, 31), 36, 46]


def make_drifting(path, n=60):
    """Records whose passthrough fields change type and grow as the file goes on."""
    lines = []
    for i in range(n):
        rec = {"id": i, "text": f"army shelled the village {i % 10}"}
        if 20 <= i < 30 or i == 35:
            rec["id"] = f"s{i}"              # string where the output so far has integers: reject
        if i >= 40:
            rec["source"] = "wire"            # a new field: widens, earlier rows get null
        if i == 45:
            rec["source"] = 5                 # int where the column holds strings: reject
        if i == 50:
            rec["meta"] = {"k": 1.5}          # a new nested field: widens
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    return path


def check_drift_output(table, rejects, n=60):
    ids = table.column("id").to_pylist()
    assert sorted(ids) == sorted(set(range(n)) - {x - 1 for x in EXPECTED_REJECT_LINES})
    assert sorted(r["line"] for r in rejects) == EXPECTED_REJECT_LINES          # each exactly once
    by_line = {r["line"]: r["reason"] for r in rejects}
    assert "field 'id' holds string" in by_line[21] and "int64" in by_line[21]
    assert "field 'source' holds int64" in by_line[46]
    assert table.schema.field("id").type == pa.int64() and table.schema.field("source").type == pa.string()
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[0]["source"] is None and rows[41]["source"] == "wire" and rows[50]["meta"] == {"k": 1.5}
    assert not any(c.startswith("__") for c in table.column_names)


def real_base(name: str) -> Path:
    """The real packaged base encoder `name`, as `conflictclf download` leaves it. Tests never
    download: CI runs `conflictclf download all` first; elsewhere a missing base fails here."""
    from conflictclf.train.basemodels import BASES, base_models_dir

    folder = base_models_dir() / name
    if not BASES[name].is_unpacked(folder):
        pytest.fail(f"{name} is not in {base_models_dir()}: run `conflictclf download all` before the slow tests")
    return folder
