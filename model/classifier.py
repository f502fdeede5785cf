"""`EventClassifier`: a fine-tuned model directory behind a small, fixed, typed surface."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conflictclf.model.backends import (
    BACKENDS,
    ONNX_FILE,
    INT8_DISABLED_OPTIMIZERS,
    INT8_RECHECK_MARGIN,
    ONNX_INT8_FILE,
    Backend,
    CheckedBackend,
    OnnxBackend,
    TorchBackend,
    available_cpus,
    decision_for,
    load_torch_model,
    require_export,
    resolve_backend,
)
from conflictclf.model.batching import padded_batches
from conflictclf.model.calibration import META_KEY as CALIBRATION_KEY, Calibration
from conflictclf.data.errors import ModelError
from conflictclf.model.modeldir import META_FILE, WEIGHTS_FILE, copy_model_files, read_meta, write_meta, \
    write_model_dir
from conflictclf.model.paths import default_model_dir
from conflictclf.model.scores import sigmoid
from conflictclf.model.tokenize import Tokenizer

if TYPE_CHECKING:
    import datetime

    from conflictclf.model.events.roles import Role
    from conflictclf.model.explain import Explanation

# The directory's file names and reader are modeldir's; they stay importable from here.
__all__ = ["EventClassifier", "Prediction", "DEFAULT_BATCH_SIZE", "META_FILE", "WEIGHTS_FILE", "read_meta",
           "resolve_backend", "package_version"]

# Sentences per forward pass at inference; length-sorting keeps padding small at this size.
# 32 measured 10-15% faster than 64 for ONNX Runtime runs on one core each and made no
# difference beyond run-to-run noise for torch (benchmarks/throughput.py --batch-size).
DEFAULT_BATCH_SIZE = 32
# From this many sentences on, the checked int8 path loads its fp32 model while the int8
# pass runs (some rows will surely need it); below, only once a row turns out uncertain.
PREFETCH_MIN_ROWS = 64
# A short input is cut in this many batches, so that two workers share it (see _score).
SHORT_INPUT_BATCHES = 2


@dataclass(frozen=True)
class Prediction:
    """Labels at or above their thresholds, and the score of every label."""

    labels: list[str]
    scores: dict[str, float]


class EventClassifier:
    """Multi-label sentence classifier.

    >>> clf = EventClassifier.from_pretrained()           # the default trained model
    >>> clf.predict(["Militants fired rockets at the base."])[0].labels
    ['attack']
    """

    def __init__(self, tokenizer: Tokenizer, backend: Backend, labels: Sequence[str], thresholds: Sequence[float],
                 max_length: int = 128, meta: dict[str, Any] | None = None, path: Path | None = None,
                 calibration: Calibration | None = None) -> None:
        self.tokenizer = tokenizer
        self.backend = backend
        self.labels: list[str] = list(labels)
        # Scores and thresholds are both calibrated when the model has a calibration, so
        # decisions are those of the raw scores against the raw thresholds (model/calibration.py).
        self.calibration = calibration
        self.raw_thresholds: np.ndarray = np.asarray(thresholds, dtype=np.float64)
        self.max_length = max_length
        self.meta = meta or {}
        self.path = path
        # the decisions as from_pretrained read them, to tell in save_pretrained whether they changed
        self._loaded: tuple[list[float], Calibration | None] | None = None

    @property
    def thresholds(self) -> np.ndarray:
        """Per-label cut-offs on the scale `predict_proba` returns: calibrated if the model is.

        Derived, not stored, so that setting `calibration = None` (raw sigmoid scores)
        moves the cut-offs back with the scores and no decision changes.
        """
        if self.calibration is None:
            return self.raw_thresholds
        return self.calibration.map_thresholds(self.raw_thresholds)

    @property
    def uses_context(self) -> bool:
        """Whether the model was trained to read a sentence's preceding sentence.

        The shipped presets read each sentence alone: context models tried so far were no
        better on real news than the sentence-only model, for far longer training
        (data/README.md, "Context"), so none is built yet.
        """
        return bool(self.meta.get("context", False))

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, backend: str = "auto",
                        threads: int | None = None) -> EventClassifier:
        """Load a model directory written by `conflictclf train` (safetensors only).

        `threads`: CPU threads the ONNX backends may use (default: every CPU this process
        may run on); torch keeps its own setting (`torch.set_num_threads`).
        """
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        path = Path(path).expanduser() if path else default_model_dir()
        meta = read_meta(path)
        max_length = int(meta.get("config", {}).get("max_length", 128))
        tokenizer = Tokenizer(path, max_length)
        chosen = resolve_backend(backend, path, meta)
        labels = meta["labels"]
        thresholds, calibration = decision_for(meta, labels, chosen)
        workers = threads or available_cpus()
        engine: Backend
        if chosen == "onnx":
            engine = OnnxBackend(path / ONNX_FILE, chosen, workers)
        elif chosen == "onnx-int8":
            engine = OnnxBackend(path / ONNX_INT8_FILE, chosen, workers, INT8_DISABLED_OPTIMIZERS)
        elif chosen == "onnx-int8-checked":
            # int8, with rows near a threshold recomputed in fp32: fp32's decisions, faster
            require_export(path / ONNX_FILE, "onnx")
            engine = CheckedBackend(OnnxBackend(path / ONNX_INT8_FILE, chosen, workers, INT8_DISABLED_OPTIMIZERS),
                                    lambda: OnnxBackend(path / ONNX_FILE, "onnx", workers),
                                    thresholds, float(meta.get("export", {}).get("recheck_margin", INT8_RECHECK_MARGIN)),
                                    chosen)
        else:
            engine = TorchBackend(load_torch_model(path), chosen)
        clf = cls(tokenizer, engine, labels, thresholds, max_length=max_length, meta=meta, path=path,
                  calibration=calibration)
        clf._loaded = (list(thresholds), calibration)
        return clf

    def predict_proba(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """Scores in [0, 1], shape (len(texts), len(self.labels)), rows in input order.

        Calibrated probabilities when the model carries a calibration; set
        `self.calibration = None` for the raw sigmoid scores. With the checked int8 backend,
        scores near the tuned thresholds are fp32's; `predict(threshold=...)` rechecks near
        the threshold it is given instead.
        """
        return self._calibrated(self._raw_proba(texts, batch_size))

    def predict(self, texts: Sequence[str], threshold: float | None = None,
                batch_size: int = DEFAULT_BATCH_SIZE) -> list[Prediction]:
        """One Prediction per text; `threshold` replaces the tuned per-label thresholds."""
        raw = self._raw_proba(texts, batch_size, threshold)
        return self.decide(self._calibrated(raw), threshold, raw=raw)

    def explain(self, texts: Sequence[str], contexts: Sequence[str | None] | None = None,
                threshold: float | None = None) -> list[Explanation]:
        """`predict`, plus for every assigned label the words that drove it (model/explain.py).

        `contexts` (each sentence's preceding sentence) is accepted for the API's sake; the
        shipped models read each sentence alone and ignore it.
        """
        from conflictclf.model.explain import explain

        if contexts is not None and len(contexts) != len(texts):
            raise ModelError(f"explain: {len(texts)} texts but {len(contexts)} contexts")
        if contexts is not None and self.uses_context:
            raise ModelError("explain: rationales for models that read a context sentence are not supported")
        return explain(self, texts, threshold)

    def roles(self, texts: Sequence[str], article_date: datetime.date | None = None,
              labelled: Sequence[bool] | None = None) -> list[list[Role]]:
        """Who did what to whom, where, when and how many in one article's sentences, from
        the model's role tagger: spans with offsets into each sentence, and normalised
        values; only sentences with a label (`predict`'s, or `labelled`) get any."""
        from conflictclf.model.events.roles import classifier_roles

        return classifier_roles(self, texts, article_date, labelled)

    def decide(self, probs: np.ndarray, threshold: float | None = None,
               raw: np.ndarray | None = None) -> list[Prediction]:
        """Predictions from `predict_proba`'s scores.

        `raw`: the uncalibrated scores behind `probs`. Given (and no `threshold`), labels are
        decided on them against the tuned thresholds: a steep calibration can round a score
        just below its threshold and the mapped threshold to the same float, and a decision
        must not depend on that.
        """
        if raw is not None and threshold is None:
            hits = np.asarray(raw, dtype=np.float64) >= self.raw_thresholds
        else:
            hits = np.asarray(probs) >= (self.thresholds if threshold is None else threshold)
        return [
            Prediction(
                labels=[lab for lab, hit in zip(self.labels, row_hits) if hit],
                scores={lab: round(float(p), 6) for lab, p in zip(self.labels, row)},
            )
            for row, row_hits in zip(probs, hits)
        ]

    def save_pretrained(self, path: str | Path) -> Path:
        """Write this classifier as a model directory `from_pretrained` loads.

        Weights, tokenizer and exports are those of the directory it was loaded from; the
        metadata holds its labels, thresholds and calibration as they are on this object now.
        Saved onto the directory it was loaded from, only the metadata is rewritten.
        """
        if self.path is None:
            raise ModelError("save_pretrained: this classifier was not loaded from a model directory")
        target, source = Path(path).expanduser(), self.path
        meta = self._current_meta()
        if target.exists() and target.resolve() == source.resolve():
            write_meta(target, meta)
        else:
            write_model_dir(target, lambda tmp: copy_model_files(source, tmp), meta)
        self.meta = meta
        return target

    def _current_meta(self) -> dict[str, Any]:
        meta = copy.deepcopy(self.meta)
        if self._loaded is not None and list(self.raw_thresholds) == self._loaded[0] and (
                self.calibration is self._loaded[1] or (self.calibration is not None and self._loaded[1] is not None
                                                        and self.calibration.same_map(self._loaded[1]))):
            return meta  # as loaded: the stored fp32 and int8 decisions still describe it
        thresholds = {lab: float(t) for lab, t in zip(self.labels, self.raw_thresholds)}
        if thresholds != meta.get("thresholds"):
            meta["thresholds"] = thresholds
            # the int8 verdict, its own decisions and the recheck margin were measured at the old thresholds
            meta.pop("export", None)
        stored = Calibration.from_meta(meta, self.labels)
        if self.calibration is None:
            meta.pop(CALIBRATION_KEY, None)
        elif stored is None or not self.calibration.same_map(stored):
            # what was measured of the stored map (fit set, ECE) does not describe this one
            meta[CALIBRATION_KEY] = self.calibration.to_meta(self.labels)
        return meta

    def _raw_proba(self, texts: Sequence[str], batch_size: int, threshold: float | None = None) -> np.ndarray:
        """Uncalibrated sigmoid scores, with the int8 recheck (which works on raw scores)
        near the cut-offs decisions are made at: the tuned ones, or `threshold`."""
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        checked = self.backend if isinstance(self.backend, CheckedBackend) else None
        if checked and len(texts) >= PREFETCH_MIN_ROWS:
            checked.prefetch()
        self._score(self.backend, texts, np.arange(len(texts)), out, batch_size)
        if checked:
            rows = checked.uncertain(out, self._raw_cut(threshold))
            if len(rows):
                self._score(checked.exact, texts, rows, out, batch_size)
        return out

    def _raw_cut(self, threshold: float | None) -> np.ndarray:
        """Raw-score cut-offs: the tuned ones, or `threshold` (on predict_proba's scale) mapped back."""
        if threshold is None:
            return self.raw_thresholds
        cut = np.full(len(self.labels), float(threshold))
        return self.calibration.unmap_thresholds(cut) if self.calibration is not None else cut

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        return self.calibration.apply(raw) if self.calibration is not None else raw

    def _score(self, engine: Backend, texts: Sequence[str], rows: np.ndarray, out: np.ndarray,
               batch_size: int) -> None:
        """Write the scores of texts[rows] into out[rows], `engine.workers` batches at a time."""
        if not len(rows):
            return
        # A short input is cut in SHORT_INPUT_BATCHES so that two workers share it. The cut
        # depends on the input alone, never on the thread count: int8 scores depend on which
        # sentences share a batch, and `--threads` must not change them.
        size = max(1, min(batch_size, math.ceil(len(rows) / SHORT_INPUT_BATCHES)))
        # a GPU backend's token budget grows batches of short sentences (model/batching.py)
        budget = getattr(engine, "token_budget", None)
        batches = padded_batches(self.tokenizer, [texts[i] for i in rows], size, budget)

        def run(batch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
            idx, ids, mask = batch
            return rows[idx], engine(ids, mask)

        with ThreadPoolExecutor(engine.workers, thread_name_prefix="conflictclf") as pool:
            for idx, logits in (pool.map if engine.workers > 1 else map)(run, batches):
                out[idx] = sigmoid(logits)


def package_version() -> str:
    try:
        return version("conflictclf")
    except Exception:
        return "0+unknown"
