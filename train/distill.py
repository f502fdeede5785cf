"""The cascade's first stage: a small student that learns the trained model's logits.

The accurate model (mpnet) is right more often than MiniLM but about eight times slower.
Most news sentences are easy, so a MiniLM student trained to reproduce the teacher's
logits (not the human labels: its job is to agree with the teacher) decides the
sentences it is sure of, and only the rest reach the teacher. "Sure" means every
label's student logit lies at least `margin` away from the teacher's threshold logit;
the margin is the smallest one under which the student agrees with the teacher on every
dev sentence it decides, and the whole cascade is then checked against the teacher
alone on the test split before `auto` uses it (model/cascade.py runs it).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conflictclf.data.corpus import Record
from conflictclf.model.basemodels import resolve_base_model
from conflictclf.model.cascade import (
    CASCADE_MARGINS,
    MIN_CASCADE_AGREEMENT,
    STUDENT_DIR,
    decided_rows,
    load_cascade,
)
from conflictclf.model.classifier import META_FILE, EventClassifier, quiet_transformers, read_meta
from conflictclf.train.config import TrainConfig

Log = Callable[[str], None]
# Teacher logits beyond this are all "certain": the student need not chase a logit of 12
# where 6 decides the same, and clipping keeps its squared error on the useful range.
LOGIT_CLIP = 8.0


@dataclass
class CascadeCheck:
    margin: float | None  # None: no margin kept the student exact on dev
    sentences: int
    agreement: float  # cascade labels vs the teacher's fp32 labels on the check sentences
    decided: float  # share of check sentences the student decided alone
    used: bool

    def to_dict(self) -> dict:
        return {"student": STUDENT_DIR, "margin": self.margin, "sentences": self.sentences,
                "agreement": round(self.agreement, 6), "decided_by_student": round(self.decided, 4),
                "used": self.used, "min_agreement": MIN_CASCADE_AGREEMENT}


def build_cascade(teacher_dir: Path, train: Sequence[Record], dev: Sequence[Record], check: Sequence[Record],
                  config: TrainConfig, log: Log = print) -> CascadeCheck:
    """Distil a student into `teacher_dir/student`, pick its margin on dev, check on `check`."""
    from conflictclf.model.export import export_onnx

    teacher = EventClassifier.from_pretrained(teacher_dir, backend="onnx")
    log(f"cascade: scoring {len(train) + len(dev) + len(check)} sentences with the trained model (fp32)")
    t_train = _logits(teacher, [r.text for r in train])
    t_dev = _logits(teacher, [r.text for r in dev])
    t_check = _logits(teacher, [r.text for r in check])

    student_dir = teacher_dir / STUDENT_DIR
    _train_student(student_dir, [r.text for r in train], t_train, config, read_meta(teacher_dir), log)
    export_onnx(student_dir, int8=True)

    threshold_logits = _logit(teacher.thresholds)
    student = load_cascade(teacher_dir, margin=0.0).first_stage.student
    s_dev = _logits(student, [r.text for r in dev])
    margin = pick_margin(s_dev, t_dev, threshold_logits)
    result = CascadeCheck(margin, len(check), 0.0, 0.0, False)
    if margin is not None and len(check):
        cascade = load_cascade(teacher_dir, margin=margin)
        got = cascade.predict_proba([r.text for r in check]) >= teacher.thresholds
        want = t_check >= threshold_logits
        s_check = _logits(student, [r.text for r in check])
        result.agreement = float((got == want).all(axis=1).mean())
        result.decided = float(len(decided_rows(s_check, threshold_logits, margin)) / len(check))
        result.used = result.agreement >= MIN_CASCADE_AGREEMENT
    _record(teacher_dir, result)
    return result


def pick_margin(student: np.ndarray, teacher: np.ndarray, threshold_logits: np.ndarray) -> float | None:
    """The smallest margin under which every row the student decides matches the teacher."""
    want = teacher >= threshold_logits
    for margin in CASCADE_MARGINS:
        rows = decided_rows(student, threshold_logits, margin)
        if ((student[rows] >= threshold_logits) == want[rows]).all():
            return margin
    return None


def _train_student(out_dir: Path, texts: list[str], targets: np.ndarray, config: TrainConfig, teacher_meta: dict,
                   log: Log) -> None:
    import torch
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, set_seed
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from conflictclf.train.progress import RichProgressCallback
    from conflictclf.train.trainer import _dataset_from, _load_base, _save, _use_bf16

    import datasets

    datasets.disable_progress_bars()
    quiet_transformers()
    labels = list(teacher_meta["labels"])
    set_seed(config.seed)
    base = resolve_base_model(config.student_model)
    tokenizer, model = _load_base(base, labels)
    ds = _dataset_from(texts, np.clip(targets, -LOGIT_CLIP, LOGIT_CLIP), tokenizer, config.max_length)

    def loss_fn(outputs, target, num_items_in_batch=None):
        return torch.nn.functional.mse_loss(outputs.logits, target.to(outputs.logits.dtype))

    steps = -(-len(ds) // config.batch_size) * config.student_epochs
    log(f"cascade: distilling {config.student_model} from the trained model ({config.student_epochs} epochs)")
    with tempfile.TemporaryDirectory(prefix="conflictclf-student-") as ckpt:
        args = TrainingArguments(
            output_dir=ckpt, learning_rate=config.student_learning_rate, num_train_epochs=config.student_epochs,
            per_device_train_batch_size=config.batch_size, warmup_steps=int(config.warmup_ratio * steps),
            weight_decay=config.weight_decay, seed=config.seed, data_seed=config.seed,
            full_determinism=not torch.cuda.is_available(), bf16=_use_bf16(config.bf16),
            use_cpu=not torch.cuda.is_available(), eval_strategy="no", save_strategy="no",
            logging_strategy="epoch", report_to="none", disable_tqdm=True,
            train_sampling_strategy="group_by_length", dataloader_num_workers=0,
        )
        trainer = Trainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer,
                          data_collator=DataCollatorWithPadding(tokenizer), compute_loss_func=loss_fn)
        for cb in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(cb)
        trainer.add_callback(RichProgressCallback(log=log, enabled=True, labels=labels))
        trainer.train()
    meta = {
        "labels": labels,
        # the teacher's cut-offs: the student's logits estimate the teacher's
        "thresholds": teacher_meta["thresholds"],
        "config": {"max_length": config.max_length, "base_model": config.student_model,
                   "epochs": config.student_epochs, "learning_rate": config.student_learning_rate,
                   "seed": config.seed},
        "base_model_path": base,
        "role": "cascade student: trained on the teacher's logits, decides only where sure",
        "data_fingerprint": teacher_meta.get("data_fingerprint"),
        "package_version": teacher_meta.get("package_version"),
    }
    _save(trainer.model.float(), tokenizer, meta, out_dir)


def _logits(clf: EventClassifier, texts: list[str]) -> np.ndarray:
    return _logit(clf.predict_proba(texts).astype(np.float64)) if texts else np.zeros((0, len(clf.labels)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def _record(teacher_dir: Path, result: CascadeCheck) -> None:
    meta_path = teacher_dir / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["cascade"] = result.to_dict()
    tmp = meta_path.with_name(meta_path.name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tmp.replace(meta_path)
