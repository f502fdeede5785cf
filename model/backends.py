"""Inference backends: each maps a padded batch of token ids to logits (numpy in, numpy out)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from conflictclf.model.errors import ModelError

BACKENDS = ("auto", "torch", "bf16", "onnx", "onnx-int8")
ONNX_FILE = "onnx/model.onnx"
ONNX_INT8_FILE = "onnx/model-int8.onnx"


class Backend(Protocol):
    name: str

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


def cpu_has_bf16() -> bool:
    """bf16 only pays off on CPUs with native bf16 matrix instructions (AMX or AVX512-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


class TorchBackend:
    def __init__(self, model, bf16: bool = False) -> None:
        import torch

        self._torch = torch
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = torch.bfloat16 if bf16 else torch.float32
        self.model = model.to(self.device, dtype=self.dtype).eval()
        self.name = "bf16" if bf16 else "torch"

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            )
        return out.logits.float().cpu().numpy()


class OnnxBackend:
    def __init__(self, path: Path, name: str) -> None:
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover - onnxruntime is a dependency
            raise ModelError("the onnx backend needs onnxruntime: pip install onnxruntime") from None
        if not path.is_file():
            raise ModelError(
                f"{path}: no ONNX export in this model; run `conflictclf export --model {path.parent.parent} --onnx"
                + (" --int8`" if name == "onnx-int8" else "`")
            )
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"{path}: cannot load ONNX model ({str(exc).splitlines()[0]})") from None
        self.name = name

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})[0]
