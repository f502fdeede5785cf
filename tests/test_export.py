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

    checked = CheckedBackend(None, None, np.array([0.5, 0.8]), 1.0, "x")
    # logits: 0.95 -> 2.9, 0.6 -> 0.4, 0.05 -> -2.9; threshold 0.8 -> 1.4, so 0.9 (2.2) is close, 0.99 (4.6) is not
    probs = np.array([[0.95, 0.0], [0.6, 0.0], [0.05, 0.0], [0.05, 0.9], [0.05, 0.99]])
    assert checked.uncertain(probs).tolist() == [1, 3]
