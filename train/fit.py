"""The fine-tuning run itself: a transformers Trainer over the train split, early-stopped on dev."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from conflictclf.data.corpus import Record
from conflictclf.model.scores import sigmoid
from conflictclf.train.config import TrainConfig
from conflictclf.train.metrics import apply_thresholds, multi_hot, report, tune_thresholds

Log = Callable[[str], None]


@dataclass
class Fitted:
    model: Any  # the best epoch's transformers model, fp32, in eval mode
    best_epoch: int | None
    bf16: bool  # whether training ran in bf16 autocast


def fit(config: TrainConfig, splits: dict[str, list[Record]], labels: list[str], tokenizer, model,
        log: Log, progress: bool) -> Fitted:
    """Train `model` on the train split, keep the epoch with the best dev macro-F1."""
    import torch
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from conflictclf.train.progress import RichProgressCallback

    from conflictclf.train import joint as J

    if config.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    bf16 = use_bf16(config.bf16)
    want_roles = config.role_loss_weight > 0
    train_ds = _dataset(splits["train"], labels, tokenizer, config.max_length, want_roles)
    use_roles = want_roles and J.has_role_targets(train_ds[J.ROLE_COLUMN])
    if want_roles and not use_roles:
        log("joint roles: no training sentence carries role spans, so the labels train alone")
        train_ds = train_ds.remove_columns(J.ROLE_COLUMN)
    dev_ds = _dataset(splits["dev"], labels, tokenizer, config.max_length, use_roles)
    pos_weight = torch.tensor(pos_weights(multi_hot([r.labels for r in splits["train"]], labels), config))
    trainer_cls, extra, collate = Trainer, {}, DataCollatorWithPadding(tokenizer)
    if use_roles:
        J.attach_head(model)
        trainer_cls, collate = J.joint_trainer_class(), J.collator(tokenizer)
        extra = {"role_weight": config.role_loss_weight,
                 # positives weighted up per B/I output as the labels' are: a role's tokens are 1-3%
                 "role_pos_weight": pos_weights(J.target_rows(train_ds[J.ROLE_COLUMN]), config)}
        log(f"joint roles: the encoder also learns the role spans (loss weight {config.role_loss_weight})")
    with tempfile.TemporaryDirectory(prefix="conflictclf-ckpt-") as ckpt:
        args = _training_args(config, ckpt, bf16, len(train_ds))
        args.remove_unused_columns = not use_roles  # the role targets are not a forward() argument
        trainer = trainer_cls(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=dev_ds,
            processing_class=tokenizer,
            data_collator=collate,
            compute_loss_func=_weighted_loss(pos_weight),
            compute_metrics=_dev_metrics(config, labels),
            callbacks=[EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)],
            **extra,
        )
        for cb in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(cb)
        trainer.add_callback(RichProgressCallback(log=log, enabled=progress, labels=labels))
        trainer.train()  # ends with the best checkpoint loaded (load_best_model_at_end)
    J.detach_head(trainer.model)  # the saved model is the plain classifier
    # Thresholds and reported metrics come from fp32 scores, as every backend serves them,
    # even when training ran in bf16.
    return Fitted(trainer.model.float().eval(), best_epoch(trainer.state), bf16)


def _training_args(config: TrainConfig, ckpt: str, bf16: bool, train_rows: int):
    import torch
    from transformers import TrainingArguments

    steps_per_epoch = -(-train_rows // config.batch_size)
    return TrainingArguments(
        output_dir=ckpt,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        warmup_steps=int(config.warmup_ratio * steps_per_epoch * config.epochs),
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        full_determinism=not torch.cuda.is_available(),
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),  # transformers asks for it before bf16 on a CPU
        eval_strategy="epoch",
        save_strategy="epoch",
        save_only_model=True,  # no optimizer pickles in checkpoints
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        logging_strategy="epoch",
        report_to="none",
        disable_tqdm=True,
        train_sampling_strategy="group_by_length",  # less padding, same shuffling seed
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def _weighted_loss(pos_weight):
    """Binary cross-entropy per label, positives weighted up (TrainConfig.class_weighting)."""
    import torch

    def loss_fn(outputs, targets, num_items_in_batch=None):
        return torch.nn.functional.binary_cross_entropy_with_logits(
            outputs.logits, targets.to(outputs.logits.dtype), pos_weight=pos_weight.to(outputs.logits.device)
        )

    return loss_fn


def _dev_metrics(config: TrainConfig, labels: list[str]) -> Callable[[Any], dict[str, float]]:
    """The per-epoch dev score that picks the best epoch: macro-F1 at thresholds tuned on it."""

    def compute_metrics(pred) -> dict[str, float]:
        # label_ids, not the dev records: length-grouped sampling reorders evaluation too.
        probs, y = sigmoid(pred.predictions), pred.label_ids.astype(int)
        th = tune_thresholds(y, probs, config.threshold_min, config.threshold_max)
        rep = report(y, apply_thresholds(probs, th), labels)
        return {"macro_f1": rep["macro_f1"], "micro_f1": rep["micro_f1"]} | {
            f"f1_{lab}": v["f1"] for lab, v in rep["per_label"].items()
        }

    return compute_metrics


def _dataset(records: list[Record], labels: list[str], tokenizer, max_length: int, roles: bool = False):
    """Tokenized records with multi-hot labels; with `roles`, also each token's role-span
    targets (train/joint.py)."""
    from datasets import Dataset

    if roles:
        from conflictclf.train.joint import ROLE_COLUMN, role_targets

        enc = tokenizer([r.text for r in records], truncation=True, max_length=max_length,
                        return_offsets_mapping=True, return_special_tokens_mask=True)
        return Dataset.from_dict({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                                  "labels": multi_hot([r.labels for r in records], labels).tolist(),
                                  ROLE_COLUMN: role_targets(records, enc)})
    ds = Dataset.from_dict({
        "text": [r.text for r in records],
        "labels": multi_hot([r.labels for r in records], labels).tolist(),
    })
    return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
                  batched=True, remove_columns=["text"], keep_in_memory=True)


def use_bf16(setting: str) -> bool:
    """bf16 autocast only where the chip computes it natively; elsewhere it is emulated and slower."""
    if setting != "auto":
        return setting == "true"
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    # On a 2-core AVX512-BF16 CPU, a bf16 mpnet step took 71 ms a sentence against 137 in fp32.
    native = (getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
              or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
    return bool(native)


def pos_weights(y: np.ndarray, config: TrainConfig) -> np.ndarray:
    pos = y.sum(axis=0)
    ratio = (len(y) - pos) / np.maximum(pos, 1)
    if config.class_weighting == "none":
        w = np.ones_like(ratio)
    elif config.class_weighting == "sqrt":
        w = np.sqrt(ratio)
    else:
        w = ratio
    return np.clip(w, 1.0, config.max_pos_weight).astype(np.float32)


def best_epoch(state) -> int | None:
    """The epoch whose dev macro-F1 was the best, from the Trainer's log."""
    for entry in state.log_history:
        if "eval_macro_f1" in entry and entry["eval_macro_f1"] == state.best_metric:
            return int(round(entry["epoch"]))
    return None
