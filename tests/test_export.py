import json
from types import SimpleNamespace

import numpy as np

from conflictclf.model import EventClassifier
from conflictclf.model.export import export_onnx

TEXTS = ["militia fired rockets at the base", "minister held ceasefire talks", "the group vowed revenge " * 5]


def test_onnx_export_agrees_with_torch(tiny_model, tmp_path):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    written = export_onnx(d, int8=True)
    assert [p.name for p in written] == ["model.onnx", "model-int8.onnx"]
    ref = EventClassifier.from_pretrained(d, backend="torch").predict_proba(TEXTS)
    onnx = EventClassifier.from_pretrained(d, backend="onnx").predict_proba(TEXTS)
    assert np.abs(ref - onnx).max() < 1e-4
    checked = EventClassifier.from_pretrained(d, backend="onnx-int8")
    assert np.abs(ref - checked.predict_proba(TEXTS)).max() < 0.3
    fp32 = EventClassifier.from_pretrained(d, backend="torch")
    assert [p.labels for p in checked.predict(TEXTS)] == [p.labels for p in fp32.predict(TEXTS)]
    assert EventClassifier.from_pretrained(d).backend.name == "onnx-int8"  # auto prefers the export


def test_checked_backend_flags_rows_near_a_threshold():
    from conflictclf.model.backends import CheckedBackend

    fast = SimpleNamespace(workers=2)
    checked = CheckedBackend(fast, lambda: "exact", np.array([0.5, 0.8]), 1.0, "x")
    assert checked.workers == 2 and checked.exact == "exact"
    # logits: 0.95 -> 2.9, 0.6 -> 0.4, 0.05 -> -2.9; threshold 0.8 -> 1.4, so 0.9 (2.2) is close, 0.99 (4.6) is not
    probs = np.array([[0.95, 0.0], [0.6, 0.0], [0.05, 0.0], [0.05, 0.9], [0.05, 0.99]])
    assert checked.uncertain(probs).tolist() == [1, 3]


def test_checked_backend_needs_the_fp32_export(tiny_model, tmp_path):
    import shutil

    import pytest

    from conflictclf.model.errors import ModelError

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    export_onnx(d, int8=True)
    (d / "onnx" / "model.onnx").unlink()
    with pytest.raises(ModelError, match="conflictclf export"):
        EventClassifier.from_pretrained(d, backend="onnx-int8")


def test_parallel_workers_give_the_same_scores(tiny_model, tmp_path):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    export_onnx(d)
    texts = [f"{w} fired at the base near {n} villages" for n in range(9) for w in ("militia", "army", "nobody")]
    one = EventClassifier.from_pretrained(d, backend="onnx", threads=1).predict_proba(texts, batch_size=4)
    four = EventClassifier.from_pretrained(d, backend="onnx", threads=4)
    assert four.backend.workers == 4
    np.testing.assert_allclose(four.predict_proba(texts, batch_size=4), one, atol=1e-6)


def test_outlier_split_computes_the_same_function(tiny_model, tmp_path):
    import shutil

    import onnx
    import onnxruntime as ort

    from conflictclf.model.outliers import find_feed_forwards, split_outlier_channels

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    export_onnx(d)
    model = onnx.load(str(d / "onnx" / "model.onnx"))
    blocks = find_feed_forwards(model.graph)
    config = json.loads((d / "config.json").read_text())
    layers = config["num_hidden_layers"]
    # one feed-forward block per layer, plus the classifier head when it has a hidden layer
    assert layers <= len(blocks) <= layers + 1
    rng = np.random.default_rng(0)
    ranges = {b.activation: rng.random(_width(model, b)) for b in blocks}
    keep = split_outlier_channels(model, ranges, k=4)
    assert len(keep) == 2 * len(blocks)
    hot = {i.name: i for i in model.graph.initializer}[f"{blocks[0].last.input[1].removesuffix('_fp32ch')}_fp32ch"]
    assert hot.dims[0] == 4  # the output projection's rows for the four hottest channels
    ids = rng.integers(5, config["vocab_size"], size=(3, 11))
    mask = np.ones_like(ids)
    mask[1, 7:] = 0
    feed = {"input_ids": ids, "attention_mask": mask}
    before = ort.InferenceSession(str(d / "onnx" / "model.onnx")).run(None, feed)[0]
    after = ort.InferenceSession(model.SerializeToString()).run(None, feed)[0]
    np.testing.assert_allclose(after, before, atol=1e-5)


def _width(model, block) -> int:
    weights = {i.name: i for i in model.graph.initializer}
    return weights[block.last.input[1]].dims[0]


def test_int8_keeps_the_outlier_channels_in_fp32(tiny_model, tmp_path):
    import shutil

    import onnx

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    export_onnx(d, int8=True, calibration_texts=TEXTS)
    nodes = onnx.load(str(d / "onnx" / "model-int8.onnx")).graph.node
    float_matmuls = [n.name for n in nodes if n.op_type == "MatMul" and "dense" in n.name]
    assert float_matmuls and all(name.endswith("_fp32ch") for name in float_matmuls)
    assert sum(n.op_type == "MatMulInteger" for n in nodes) > 4  # the rest is quantized


def test_the_recheck_margin_is_the_smallest_that_keeps_dev_and_every_check(tiny_model, tmp_path, monkeypatch):
    import shutil

    from conflictclf.model import export

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    monkeypatch.setattr(export, "MIN_TUNE_AGREEMENT", 0.0)  # any margin will do: the smallest
    monkeypatch.setattr(export, "MIN_INT8_AGREEMENT", 0.0)
    check = export.export_checked(d, {"a": TEXTS, "b": TEXTS[:2]}, tune_texts=TEXTS, calibration_texts=TEXTS)
    assert check.margin == export.RECHECK_MARGINS[0] and check.used
    assert check.sentences == {"a": 3, "b": 2}
    assert json.loads((d / "conflictclf.json").read_text())["export"]["recheck_margin"] == check.margin
    assert EventClassifier.from_pretrained(d, backend="onnx-int8").backend.margin == check.margin
    monkeypatch.setattr(export, "MIN_TUNE_AGREEMENT", 1.01)  # none will do: the widest
    assert export.export_checked(d, {"a": TEXTS}, tune_texts=TEXTS).margin == export.RECHECK_MARGINS[-1]


def test_paired_scores_decide_as_the_checked_backend(tiny_model, tmp_path):
    """One fp32 and one int8 pass give CheckedBackend's decisions at any margin: a wide
    enough margin sends every row to fp32 and so agrees exactly, and agreement never falls
    as the margin grows."""
    import shutil

    from conflictclf.model import export

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    export.export_onnx(d, int8=True, calibration_texts=TEXTS)
    pair = export._PairedScores(d)(TEXTS)
    assert pair.rechecked(1e9) == 1.0 and pair.agreement(1e9) == 1.0
    assert pair.rechecked(0.0) == 0.0
    shares = [pair.agreement(m) for m in (0.0, *export.RECHECK_MARGINS)]
    assert shares == sorted(shares)
    clf = EventClassifier.from_pretrained(d, backend="onnx-int8")
    for margin in (0.0, 0.5, 1e9):
        clf.backend.margin = margin
        got = [p.labels for p in clf.predict(TEXTS)]
        want = [[lab for lab, on in zip(clf.labels, row) if on] for row in pair.decided(margin)]
        assert got == want


def test_a_check_set_can_raise_the_margin(tiny_model, tmp_path, monkeypatch):
    import shutil

    from conflictclf.model import export

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    monkeypatch.setattr(export, "MIN_TUNE_AGREEMENT", 0.0)  # dev alone would take the smallest
    monkeypatch.setattr(export, "MIN_INT8_AGREEMENT", 1.0)  # the check set must agree exactly
    check = export.export_checked(d, {"test": TEXTS}, tune_texts=TEXTS, calibration_texts=TEXTS)
    pair = export._PairedScores(d)(TEXTS)
    exact = [m for m in export.RECHECK_MARGINS if pair.agreement(m) == 1.0]
    assert check.margin == (exact[0] if exact else export.RECHECK_MARGINS[-1])
    assert check.used is bool(exact)


def test_train_writes_a_checked_export_that_auto_uses(tiny_model):
    meta = json.loads((tiny_model / "conflictclf.json").read_text())
    checks = meta["export"]["checks"]
    assert checks["test"]["sentences"] == 15  # the tiny corpus's test split
    assert {"data/probe/news.jsonl", "data/probe/probe.jsonl"} <= set(checks)  # and the bundled real-register probes
    assert checks["data/probe/news.jsonl"]["sentences"] > 300
    assert meta["export"]["int8_used"] is all(c["agreement"] >= 0.995 for c in checks.values())
    assert (tiny_model / "onnx" / "model-int8.onnx").is_file()
    expected = "onnx-int8" if meta["export"]["int8_used"] else "onnx"
    assert EventClassifier.from_pretrained(tiny_model).backend.name == expected


def test_an_int8_copy_that_disagrees_is_not_used(tiny_model, tmp_path, monkeypatch):
    import shutil

    from conflictclf.model import export

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    monkeypatch.setattr(export, "MIN_INT8_AGREEMENT", 1.01)  # no copy can reach it
    check = export.export_checked(d, {"test": TEXTS})
    assert not check.used and check.sentences == {"test": 3}
    assert json.loads((d / "conflictclf.json").read_text())["export"]["int8_used"] is False
    assert EventClassifier.from_pretrained(d).backend.name == "onnx"
    assert EventClassifier.from_pretrained(d, backend="onnx-int8").backend.name == "onnx-int8"  # still on request
