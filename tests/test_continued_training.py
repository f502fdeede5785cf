"""Review -> annotate -> import -> validate -> continue training -> compare, on the tiny model."""

import json

from typer.testing import CliRunner

from conflictclf.cli.main import app
from tests.conftest import LABELS, ok, tiny_records, write_jsonl

runner = CliRunner()


def test_review_import_continue_compare_loop(tiny_model, tiny_corpus, tmp_path, monkeypatch):
    # 1. classify some "news" with the current model
    news = tmp_path / "news.jsonl"
    write_jsonl(news, [{"id": f"s{i}", "doc": f"art{i // 6}", "index": i % 6, "body": r["text"]}
                       for i, r in enumerate(tiny_records()[:40])])
    batch_out = tmp_path / "labelled.jsonl"
    ok(runner.invoke(app, ["batch", str(news), str(batch_out), "--text-field", "body", "-q",
                           "--model", str(tiny_model)]))
    # 2. review: Label Studio tasks plus labelling config, and doccano tasks
    ls_tasks = tmp_path / "review.json"
    r = ok(runner.invoke(app, ["review", str(batch_out), "--n", "20", "--text-field", "body", "-o", str(ls_tasks)]))
    assert "wrote 20 uncertain sentences" in r.stdout
    config = (tmp_path / "review.label-config.xml").read_text()
    assert '<Choices name="labels" toName="text" choice="multiple"' in config and '<Choice value="none"/>' in config
    tasks = json.loads(ls_tasks.read_text())
    # each task is pre-annotated with the labels batch gave that sentence ("none" for none)
    given = {row["body"]: row["labels"] for row in map(json.loads, batch_out.read_text().splitlines())}
    assert len(tasks) == 20
    for t in tasks:
        assert t["predictions"][0]["result"][0]["value"]["choices"] == (given[t["data"]["text"]] or ["none"])
        assert t["data"]["model_labels"] == given[t["data"]["text"]]
    assert all(t["data"]["doc"].startswith("art") and isinstance(t["data"]["order"], int) for t in tasks)
    dc_tasks = tmp_path / "review.jsonl"
    ok(runner.invoke(app, ["review", str(batch_out), "--n", "20", "--text-field", "body", "--format", "doccano",
                           "--strategy", "random", "-o", str(dc_tasks)]))
    assert all("label" in json.loads(x) for x in dc_tasks.read_text().splitlines())

    # 3. an annotator labels the tasks in Label Studio: the true labels of these sentences
    truth = {r["text"]: r["labels"] for r in tiny_records()}
    for k, t in enumerate(tasks):
        t["id"] = k + 1
        t["annotations"] = [{"id": 900 + k, "completed_by": 1, "was_cancelled": False, "ground_truth": False,
                             "result": [{"from_name": "labels", "to_name": "text", "type": "choices",
                                         "value": {"choices": truth[t["data"]["text"]] or ["none"]}}]}]
    export = tmp_path / "project-1-at-2026.json"
    export.write_text(json.dumps(tasks))

    # 4. import, validate
    mine = tmp_path / "mine.jsonl"
    r = ok(runner.invoke(app, ["data", "import", str(export), "-o", str(mine)]))
    assert "imported 20 of 20 tasks" in r.stdout
    ok(runner.invoke(app, ["data", "validate", str(mine)]))

    # 5. continue training from the tiny model on it (the tiny corpus stands in for the bundled one)
    monkeypatch.setattr("conflictclf.train.continued.load_records", lambda paths=None: _load(tiny_corpus))
    new = tmp_path / "new"
    args = ["train", "--init-from", str(tiny_model), "--data", str(mine), "--output", str(new), "--quiet",
            "--epochs", "1", "--batch-size", "8", "--learning-rate", "5e-3", "--export", "false"]
    r = ok(runner.invoke(app, args))
    meta = json.loads((new / "conflictclf.json").read_text())
    assert meta["config"]["base_model"] == str(tiny_model) and meta["labels"] == LABELS
    n_mine = sum(json.loads(x)["split"] == "train" for x in mine.read_text().splitlines())
    # bundled_share (default 3) bundled training sentences join each new one
    assert meta["data_counts"]["train"] == n_mine + 3 * n_mine
    assert "calibration" in meta
    # seeded: the same command gives the same weights
    again = tmp_path / "again"
    ok(runner.invoke(app, args[:6] + [str(again)] + args[7:]))
    assert (new / "model.safetensors").read_bytes() == (again / "model.safetensors").read_bytes()

    # 6. compare old and new per label
    r = ok(runner.invoke(app, ["evaluate", str(mine), "--model", str(tiny_model), "--model", str(new),
                               "--split", "all", "-o", str(tmp_path / "cmp")]))
    assert "ΔF1" in r.stdout and "macro" in r.stdout and "all (20 sentences)" in r.stdout
    assert len(list((tmp_path / "cmp").glob("*/metrics.json"))) == 2


def _load(path):
    from conflictclf.data.corpus import load_records

    return load_records([path])


def test_init_from_needs_own_data(tiny_model, tmp_path):
    r = runner.invoke(app, ["train", "--init-from", str(tiny_model), "--output", str(tmp_path / "x"), "--quiet"])
    assert r.exit_code != 0 and "needs your own annotated data" in r.stderr


def test_mix_bundled_is_seeded_and_keeps_the_whole_bundled_dev():
    from conflictclf.data.corpus import parse_line
    from conflictclf.train.continued import mix_bundled

    def recs(prefix, n):
        return [parse_line(json.dumps({"id": f"{prefix}{i}", "text": f"{prefix} sentence {i}", "labels": [],
                                       "split": ("train", "dev", "test")[i % 3]}), "x", i) for i in range(n)]

    user, bundled = recs("u", 30), recs("b", 300)
    a, b = mix_bundled(user, bundled, 1.0, 42), mix_bundled(user, bundled, 1.0, 42)
    assert [r.id for r in a] == [r.id for r in b]
    added = a[len(user):]
    assert sum(r.split == "train" for r in added) == 10  # one per user training sentence
    assert sum(r.split == "dev" for r in added) == 100  # the whole bundled dev split
    assert not any(r.split == "test" for r in added)
    assert [r.id for r in mix_bundled(user, bundled, 1.0, 7)] != [r.id for r in a]
    assert sum(r.split == "train" for r in mix_bundled(user, bundled, 0.0, 42)[len(user):]) == 0
