"""Inference backends: each maps a padded batch of token ids to logits (numpy in, numpy out)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from conflictclf.data.errors import ModelError
from conflictclf.model.scores import logit

BACKENDS = ("auto", "torch", "bf16", "cuda-fp32", "cuda-bf16", "cuda-fp16", "onnx", "onnx-int8",
            "onnx-int8-checked")
# The torch backends and their weights' dtype. The name says the device: the "cuda-" ones run on
# the GPU, "torch" (the fp32 reference) and "bf16" on the CPU, so a name fixes what ran.
TORCH_DTYPES = {"torch": "float32", "bf16": "bfloat16", "cuda-fp32": "float32", "cuda-bf16": "bfloat16",
                "cuda-fp16": "float16"}
# Padded tokens per forward pass on a GPU; a batch holds at least `batch_size` sentences and
# more while they fit. Length-sorted short sentences then go hundreds to a batch: a GPU runs a
# batch of 32 short rows in about the time of one of 256 (it is launch- not compute-bound
# there), while CPU time grows with the tokens, so the CPU keeps its fixed 32. 32k tokens of a
# base-size encoder in half precision need well under 2 GB of activations, which any CUDA card
# that holds the model has; not tuned on a card (nothing was measured on a GPU yet).
CUDA_TOKEN_BUDGET = 32768
# Files a GPU driver creates (NVIDIA, AMD ROCm). Where none exists on Linux, `auto` knows no
# GPU is visible without importing torch, which costs 1-2 s of a short `classify` run.
GPU_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd")
ONNX_FILE = "onnx/model.onnx"
ONNX_INT8_FILE = "onnx/model-int8.onnx"
# int8 decisions within this distance (in logits) of a label's threshold are recomputed in
# fp32. Logits rather than probabilities, so that a high threshold does not send every
# confident positive back. Dynamic int8 scales each batch by its own largest activation, so
# its error depends on which sentences share a batch. `train` picks a smaller margin per
# model on dev (model/export.py, RECHECK_MARGINS) and stores it; this one is for exports
# without that choice. With the int8 recipe before the outlier split, 1.0 gave 99.25-100%
# label agreement with fp32 across six workloads and 2.0 gave 100% on all six.
INT8_RECHECK_MARGIN = 2.0
# Graph rewrites left out of the int8 session. With SkipLayerNormFusion, onnxruntime 1.31's
# fused kernel took 14% of int8 run time against 8% for the plain Add + LayerNormalization,
# and the whole int8 pass ran 15% slower (benchmarks/throughput.py); fp32 gains from it.
# Unknown names are ignored by onnxruntime, so other versions just run the default graph.
INT8_DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


class Backend(Protocol):
    name: str
    # how many batches the caller may run at once, each in its own thread
    workers: int
    # padded tokens a batch may grow to beyond `batch_size` sentences; None: batch_size exactly.
    # Optional for backends from elsewhere (read with getattr): they get batch_size.
    token_budget: int | None

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


class TorchBackend:
    """The model in torch, on the device and in the dtype its backend name says (TORCH_DTYPES)."""

    def __init__(self, model, name: str = "torch") -> None:
        import torch

        if name not in TORCH_DTYPES:
            raise ModelError(f"{name!r} is not a torch backend (choose from {', '.join(TORCH_DTYPES)})")
        on_gpu = name.startswith("cuda-")
        if on_gpu:
            require_gpu(name)
        self._torch = torch
        self.name = name
        self.device = torch.device("cuda" if on_gpu else "cpu")
        self.dtype = getattr(torch, TORCH_DTYPES[name])
        self.model = model.to(self.device, dtype=self.dtype).eval()
        self.workers = 1  # torch already spreads each operation over its intra-op threads (or the GPU)
        self.token_budget = CUDA_TOKEN_BUDGET if on_gpu else None

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            )
        return out.logits.float().cpu().numpy()


def require_gpu(name: str) -> None:
    """Refuse a cuda- backend torch cannot run here, with what to use instead."""
    import torch

    if not torch.cuda.is_available():
        raise ModelError(f"backend {name}: torch sees no CUDA GPU here (CUDA build of torch and a driver needed); "
                         "use --backend auto, which runs on the CPU when no GPU is visible")
    if name == "cuda-bf16" and not bf16_on_gpu():
        raise ModelError("backend cuda-bf16: this GPU has no native bfloat16; use cuda-fp16 (or auto)")


def bf16_on_gpu() -> bool:
    """Native bfloat16 on the current GPU (Ampere and newer). Emulated bf16, which torch counts
    as supported by default, runs slower than fp16 on the cards that lack it."""
    import torch

    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch before 2.4 has no such argument, and counts native support only
        return bool(torch.cuda.is_bf16_supported())


def gpu_visible() -> bool:
    """Whether torch sees a CUDA (or ROCm) GPU; asked without importing torch where possible."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1") or sys.platform == "darwin":
        return False  # devices hidden, or macOS (no CUDA)
    if sys.platform.startswith("linux") and not any(os.path.exists(f) for f in GPU_DRIVER_FILES):
        return False
    import torch

    return bool(torch.cuda.is_available())


class OnnxBackend:
    """An ONNX Runtime session that runs `workers` batches at once, one thread each.

    One single-threaded run per core beat one run spread over all cores by 10-20% on
    sentence-sized inputs (benchmarks/throughput.py): small matrices leave intra-op
    threads waiting on each other. ONNX Runtime sessions may be run from several threads.
    """

    def __init__(self, path: Path, name: str, workers: int = 1, disabled_optimizers: tuple[str, ...] = ()) -> None:
        try:
            import onnxruntime as ort
        except ImportError:  # pragma: no cover - onnxruntime is a dependency
            raise ModelError("the onnx backend needs onnxruntime: pip install onnxruntime") from None
        require_export(path, name)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"],
                                                disabled_optimizers=list(disabled_optimizers))
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"{path}: cannot load ONNX model ({str(exc).splitlines()[0]})") from None
        self.name, self.workers = name, max(1, workers)
        self.token_budget: int | None = None  # CPU only: batches of batch_size

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})[0]


def require_export(path: Path, name: str) -> None:
    if not path.is_file():
        raise ModelError(
            f"{path}: no ONNX export in this model; run `conflictclf export --model {path.parent.parent} --onnx"
            + (" --int8`" if name == "onnx-int8" else "`")
        )


class CheckedBackend:
    """A fast approximate backend plus an exact one for the rows it may have got wrong.

    A row is uncertain when any label's logit lies within `margin` of that label's
    threshold logit, which is where an approximation error can flip a decision. The
    caller recomputes those rows (all at once, length-sorted) with `exact`.
    """

    def __init__(self, fast: Backend, load_exact: Callable[[], Backend], thresholds: np.ndarray, margin: float,
                 name: str) -> None:
        self.fast, self.name, self.workers = fast, name, fast.workers
        self.token_budget: int | None = None  # its fast backend is a CPU one
        self.threshold_logits, self.margin = logit(np.asarray(thresholds, dtype=np.float64)), margin
        self._load_exact = load_exact
        self._exact: Future[Backend] | None = None

    def prefetch(self) -> None:
        """Start loading the exact model in the background, if not started yet.

        On a long input the exact model is first needed after the fast pass, so loading it
        meanwhile hides its load time. A short input (one sentence from `classify --text`)
        may need no recheck at all, and should not wait for a model it never uses.
        """
        if self._exact is None:
            loader = ThreadPoolExecutor(1, thread_name_prefix="conflictclf-load")
            self._exact = loader.submit(self._load_exact)
            loader.shutdown(wait=False)

    @property
    def exact(self) -> Backend:
        self.prefetch()
        assert self._exact is not None
        return self._exact.result()

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.fast(input_ids, attention_mask)

    def uncertain(self, probs: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
        """Indices of rows whose decision the approximation could have flipped, at the
        thresholds decisions are made at (default: those the backend was built with)."""
        cut = self.threshold_logits if thresholds is None else logit(np.asarray(thresholds, dtype=np.float64))
        return np.flatnonzero((np.abs(logit(probs) - cut) < self.margin).any(axis=1))


def available_cpus() -> int:
    """CPUs this process may run on (respects taskset and container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_backend(backend: str, path: Path, meta: dict[str, Any] | None = None, gpu: bool = True) -> str:
    """`auto`: torch on the GPU where one is visible (and `gpu` allows it), in bf16 where the
    card has it natively, else fp16. Otherwise, on the CPU: the model's int8 ONNX copy making
    its own decisions where `train` found them as good as fp32's (`export.int8_decides`), else
    the checked int8 copy where its agreement check passed (`export.int8_used`), else fp32
    ONNX if exported, else fp32 torch.

    No verdict is no pass: an int8 copy written without a check runs only when asked for by
    name; `conflictclf export --int8` records one.

    bf16 is never chosen automatically: on CPUs without AMX it measured slower than
    fp32 (benchmarks/throughput.py); ask for it with backend="bf16" where it pays.
    """
    if backend != "auto":
        return backend
    if gpu and gpu_visible():
        return "cuda-bf16" if bf16_on_gpu() else "cuda-fp16"
    if not (path / ONNX_FILE).is_file():
        return "torch"
    export = (meta or {}).get("export") or {}
    if (path / ONNX_INT8_FILE).is_file():
        if export.get("int8_decides") is True:
            return "onnx-int8"
        if export.get("int8_used") is True:
            return "onnx-int8-checked"
    return "onnx"


def int8_decision(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The thresholds and calibration `train` tuned on the int8 copy's own scores, if any:
    {"thresholds": {label: t}, "calibration": block or None}."""
    block = (meta.get("export") or {}).get("int8")
    return block if isinstance(block, dict) and isinstance(block.get("thresholds"), dict) else None


def quiet_transformers() -> None:
    """Our own progress and messages replace transformers' per-load bars and load reports."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_torch_model(path: Path):
    quiet_transformers()
    from transformers import AutoModelForSequenceClassification

    try:
        return AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True, use_safetensors=True, trust_remote_code=False
        )
    except Exception as exc:  # safetensors/transformers raise many untyped errors on corrupt files
        raise ModelError(f"{path}: cannot load model weights ({exc.__class__.__name__}: {str(exc)[:200]})") from None


def decision_for(meta: dict[str, Any], labels: Sequence[str], backend: str) -> tuple[list[float], Any]:
    """The thresholds and calibration decisions are made with on `backend`: the int8 copy's
    own (tuned on its dev scores by `train`) for `onnx-int8` when recorded, else the model's."""
    from conflictclf.model.calibration import META_KEY as CALIBRATION_KEY, Calibration

    own = int8_decision(meta) if backend == "onnx-int8" else None
    if own is None:
        return [meta["thresholds"][lab] for lab in labels], Calibration.from_meta(meta, labels)
    try:
        thresholds = [float(own["thresholds"][lab]) for lab in labels]
    except (KeyError, TypeError, ValueError):
        raise ModelError("corrupt int8 thresholds in model metadata (export.int8)") from None
    block = own.get("calibration")
    return thresholds, None if block is None else Calibration.from_meta({CALIBRATION_KEY: block}, labels)
