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
    int8 = EventClassifier.from_pretrained(d, backend="onnx-int8").predict_proba(TEXTS)
    assert np.abs(ref - int8).max() < 0.1
    assert EventClassifier.from_pretrained(d).backend.name == "onnx-int8"  # auto prefers the export
