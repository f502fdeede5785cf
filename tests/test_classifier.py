import json
import shutil

import numpy as np
import pytest

from conflictclf.model import EventClassifier, Prediction
from conflictclf.data.errors import ModelError
from tests.conftest import LABELS

TEXTS = ["militia fired rockets at the base", "minister held ceasefire talks", "group claimed responsibility " * 20]


def test_predict_proba_shape_and_order(tiny_model):
    clf = EventClassifier.from_pretrained(tiny_model, backend="torch")
    probs = clf.predict_proba(TEXTS)
    assert probs.shape == (3, len(LABELS)) and probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()
    # length-sorted batching must not change which row belongs to which text
    singles = np.vstack([clf.predict_proba([t]) for t in TEXTS])
    assert np.allclose(probs, singles, atol=1e-5)
    assert clf.predict_proba([]).shape == (0, len(LABELS))


def test_predict_uses_thresholds(tiny_model):
    clf = EventClassifier.from_pretrained(tiny_model, backend="torch")
    preds = clf.predict(TEXTS)
    assert all(isinstance(p, Prediction) and set(p.scores) == set(LABELS) for p in preds)
    for p in preds:
        assert p.labels == [lab for lab, t in zip(clf.labels, clf.thresholds) if p.scores[lab] >= t - 1e-6]
    assert all(p.labels == LABELS for p in clf.predict(TEXTS, threshold=0.0))
    assert all(p.labels == [] for p in clf.predict(TEXTS, threshold=1.0))


def test_missing_and_corrupt_model_dirs(tiny_model, tmp_path):
    with pytest.raises(ModelError, match="no model here"):
        EventClassifier.from_pretrained(tmp_path / "absent")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot load model weights"):
        EventClassifier.from_pretrained(broken, backend="torch")
    (broken / "conflictclf.json").write_text("{")
    with pytest.raises(ModelError, match="corrupt model metadata"):
        EventClassifier.from_pretrained(broken)
    (broken / "config.json").unlink()
    with pytest.raises(ModelError, match="config.json is missing"):
        EventClassifier.from_pretrained(broken)


def test_pickled_weights_are_never_loaded(tiny_model, tmp_path):
    d = tmp_path / "pickled"
    shutil.copytree(tiny_model, d)
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(ModelError, match="model.safetensors is missing"):
        EventClassifier.from_pretrained(d)


def test_unknown_backend(tiny_model):
    with pytest.raises(ModelError, match="unknown backend"):
        EventClassifier.from_pretrained(tiny_model, backend="tpu")


def test_bf16_backend_close_to_fp32(tiny_model):
    fp32 = EventClassifier.from_pretrained(tiny_model, backend="torch").predict_proba(TEXTS)
    bf16 = EventClassifier.from_pretrained(tiny_model, backend="bf16").predict_proba(TEXTS)
    assert np.abs(fp32 - bf16).max() < 0.05


def test_meta_labels_drive_columns(tiny_model):
    clf = EventClassifier.from_pretrained(tiny_model)
    assert clf.labels == json.loads((tiny_model / "conflictclf.json").read_text())["labels"]


def test_light_tokenizer_gives_the_transformers_ids(tiny_model):
    from transformers import AutoTokenizer

    from conflictclf.model.tokenize import Tokenizer

    texts = TEXTS + ["", "Militia FIRED rockets; the base's gate — burned!", "word " * 200]
    ref = AutoTokenizer.from_pretrained(tiny_model)(texts, truncation=True, max_length=32)["input_ids"]
    light = Tokenizer(tiny_model, 32)
    assert light(texts) == ref
    assert light.pad_token_id == AutoTokenizer.from_pretrained(tiny_model).pad_token_id


def test_onnx_path_imports_neither_torch_nor_transformers_nor_pyarrow(tiny_exported_model):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from conflictclf.cli.main import app\n"
        f"sys.argv = ['conflictclf', 'classify', '--model', {str(tiny_exported_model)!r}, '--text', 'militia fired rockets',"
        " '--format', 'json']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('LOADED', 'torch' in sys.modules, 'transformers' in sys.modules, 'pyarrow' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert '"labels"' in proc.stdout
    assert "LOADED False False False" in proc.stdout  # pyarrow is for Parquet files only
