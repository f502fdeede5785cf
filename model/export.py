"""ONNX export of a model directory, optionally with int8 dynamic quantization."""

from __future__ import annotations

from pathlib import Path

from conflictclf.model.backends import ONNX_FILE, ONNX_INT8_FILE
from conflictclf.model.classifier import load_torch_model, read_meta
from conflictclf.model.errors import ModelError


def export_onnx(model_dir: Path, int8: bool = False) -> list[Path]:
    """Write `onnx/model.onnx` (fp32) and, with int8, `onnx/model-int8.onnx` into the model directory."""
    import torch

    read_meta(model_dir)
    model = load_torch_model(model_dir).eval()
    model.config.return_dict = False
    target = model_dir / ONNX_FILE
    target.parent.mkdir(exist_ok=True)
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    tmp = target.with_name(target.name + ".tmp")
    try:
        torch.onnx.export(
            model, (ids, mask), str(tmp), input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "logits": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    except Exception as exc:  # exporter failures are many and untyped
        tmp.unlink(missing_ok=True)
        raise ModelError(f"ONNX export failed: {exc.__class__.__name__}: {str(exc)[:200]}") from None
    tmp.replace(target)
    written = [target]
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q = model_dir / ONNX_INT8_FILE
        qtmp = q.with_name("tmp-" + q.name)
        # per-channel weight scales: per-tensor scales moved 4% of test-split labels
        quantize_dynamic(str(target), str(qtmp), weight_type=QuantType.QInt8, per_channel=True)
        qtmp.replace(q)
        written.append(q)
    return written
