"""Training the role tagger (model/events/tagger.py) beside the sentence classifier.

It learns from the records that carry role spans (data/roles.py), on its own encoder
(`TrainConfig.roles_base_model`), and is written into the model directory's `roles/`
folder. The sentence classifier is trained exactly as without it, so its labels cannot
get worse; the tagger adds its own minutes to a training run.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from conflictclf.data.corpus import Record
from conflictclf.data.roles import ROLES, Span, annotated
from conflictclf.model.events.tagger import DEFAULT_SPAN_THRESHOLD, ROLES_DIR, ROLES_META, RoleTagger, tag_names
from conflictclf.train.config import TrainConfig
from conflictclf.train.role_metrics import span_scores
from conflictclf.train.span_targets import IGNORE, token_targets

Log = Callable[[str], None]
# Fewer annotated training sentences than this teach a tagger nothing worth shipping.
MIN_TRAIN_SENTENCES = 20


@dataclass
class FittedRoles:
    model: Any
    tokenizer: Any
    base: str
    metrics: dict[str, Any]  # {"dev": span_scores, "test": span_scores | None, "counts": {...}}

    def save(self, folder: Path, max_length: int) -> None:
        """The tagger's files in `folder/roles` (safetensors, tokenizer, roles.json)."""
        out = folder / ROLES_DIR
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out, safe_serialization=True)
        self.tokenizer.save_pretrained(out)
        meta = {"roles": list(ROLES), "max_length": max_length, "thresholds": self.metrics["thresholds"],
                "base_model_path": self.base, "metrics": self.metrics}
        (out / ROLES_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def role_splits(splits: dict[str, list[Record]]) -> dict[str, list[tuple[Record, tuple[Span, ...]]]]:
    return {name: annotated(recs) for name, recs in splits.items()}


def train_roles(config: TrainConfig, splits: dict[str, list[Record]], log: Log) -> FittedRoles | None:
    """Fit the tagger on the annotated train records, pick the epoch on dev; None (and a log
    line) when the data has too few role annotations or the config turns it off."""
    if not config.roles:
        return None
    data = role_splits(splits)
    if len(data["train"]) < MIN_TRAIN_SENTENCES or not data["dev"]:
        log(f"roles: {len(data['train'])} train and {len(data['dev'])} dev sentences carry role spans; "
            f"at least {MIN_TRAIN_SENTENCES} and 1 are needed, so no role tagger is trained")
        return None
    from transformers import set_seed

    from conflictclf.train.basemodels import load_base_model

    log(f"roles: training the role tagger on {len(data['train'])} sentences "
        f"({len(data['dev'])} dev) with {config.roles_base_model}")
    set_seed(config.seed)
    tokenizer, model, base = load_base_model(config.roles_base_model, tag_names(ROLES), log, tokens=True)
    model = _fit(config, data, tokenizer, model)
    tagger = RoleTagger(model, tokenizer.backend_tokenizer, ROLES, config.max_length)
    tagger.threshold = tune_span_thresholds(tagger, data["dev"])
    metrics: dict[str, Any] = {"counts": {k: len(v) for k, v in data.items()}, "thresholds": tagger.threshold}
    for name in ("dev", "test"):
        if data[name]:
            recs = data[name]
            pred = tagger.tag([r.text for r, _ in recs])
            metrics[name] = span_scores([s for _, s in recs], pred)
    dev = metrics["dev"]["overlap"]["micro"]["f1"]
    log(f"roles: dev span F1 {dev:.3f} (overlap), {metrics['dev']['exact']['micro']['f1']:.3f} (exact), "
        f"at thresholds tuned on dev per role")
    return FittedRoles(model, tokenizer, base, metrics)


# Per-role token thresholds tried on dev. Positives are weighted up in training, so the
# tagger over-marks at 0.5 (probe recall 0.96, precision 0.75 before tuning).
SPAN_THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(14))  # 0.3 ... 0.95


def tune_span_thresholds(tagger: RoleTagger, dev: list[tuple[Record, tuple[Span, ...]]]) -> dict[str, float]:
    """Each role's threshold with the best overlapping-span F1 on dev (ties: nearest 0.5)."""
    from conflictclf.model.events.tagger import decode

    scored = tagger.scores([r.text for r, _ in dev])
    gold = [s for _, s in dev]
    best: dict[str, float] = {}
    for role in ROLES:
        def f1(th: float) -> float:
            only = {x: (th if x == role else 2.0) for x in ROLES}  # 2.0: the other roles mark nothing
            pred = [decode(p, offs, r.text, ROLES, only) for (p, offs), (r, _) in zip(scored, dev)]
            return span_scores(gold, pred, [role])["overlap"][role]["f1"]
        best[role] = max(SPAN_THRESHOLDS, key=lambda th: (f1(th), -abs(th - 0.5)))
    return best


def _encode(pairs: list[tuple[Record, tuple[Span, ...]]], tokenizer, max_length: int) -> list[dict[str, Any]]:
    enc = tokenizer([r.text for r, _ in pairs], truncation=True, max_length=max_length,
                    return_offsets_mapping=True, return_special_tokens_mask=True)
    return [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
             "labels": token_targets(enc["offset_mapping"][i], enc["special_tokens_mask"][i], spans)}
            for i, (_, spans) in enumerate(pairs)]


def _collate(tokenizer):
    import torch

    def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
        batch = tokenizer.pad([{k: r[k] for k in ("input_ids", "attention_mask")} for r in rows],
                              return_tensors="pt")
        width = batch["input_ids"].shape[1]
        y = np.full((len(rows), width, rows[0]["labels"].shape[1]), IGNORE, dtype=np.float32)
        for i, r in enumerate(rows):
            y[i, :len(r["labels"])] = r["labels"]
        batch["labels"] = torch.from_numpy(y)
        return batch

    return collate


def _weighted_loss(rows: list[dict[str, Any]], config: TrainConfig):
    """BCE over the text's tokens, each B/I output's positives weighted up as the sentence
    labels' are (TrainConfig.class_weighting): a role's tokens are 1-3% of all tokens, and
    unweighted the tagger learns to mark nothing."""
    import torch

    from conflictclf.train.fit import pos_weights

    y = np.concatenate([r["labels"][(r["labels"] != IGNORE).all(axis=1)] for r in rows])
    weight = torch.tensor(pos_weights(y, config))

    def loss(outputs, targets, num_items_in_batch=None):
        rows_ = (targets != IGNORE).all(dim=-1)
        return torch.nn.functional.binary_cross_entropy_with_logits(
            outputs.logits[rows_], targets[rows_].to(outputs.logits.dtype),
            pos_weight=weight.to(outputs.logits.device))

    return loss


def _token_f1(pred) -> dict[str, float]:
    """Token-level micro F1 of the B/I decisions on dev, logged beside the loss that picks the
    epoch (F1 stays 0 for the first epochs of a small run, and a tie keeps the first)."""
    y = pred.label_ids
    mask = y != IGNORE
    hit = (1 / (1 + np.exp(-pred.predictions)) >= DEFAULT_SPAN_THRESHOLD)[mask]
    gold = y[mask] == 1
    tp = float(np.sum(hit & gold))
    p = tp / max(1, hit.sum())
    r = tp / max(1, gold.sum())
    return {"token_f1": 2 * p * r / (p + r) if p + r else 0.0}


def _fit(config: TrainConfig, data, tokenizer, model):
    import torch
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from conflictclf.train.fit import use_bf16

    train_rows = _encode(data["train"], tokenizer, config.max_length)
    dev_rows = _encode(data["dev"], tokenizer, config.max_length)
    bf16 = use_bf16(config.bf16)
    with tempfile.TemporaryDirectory(prefix="conflictclf-roles-") as ckpt:
        steps = -(-len(train_rows) // config.batch_size) * config.roles_epochs
        args = TrainingArguments(
            output_dir=ckpt, learning_rate=config.roles_learning_rate, num_train_epochs=config.roles_epochs,
            per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.eval_batch_size,
            warmup_steps=int(config.warmup_ratio * steps), weight_decay=config.weight_decay, seed=config.seed,
            data_seed=config.seed, use_cpu=not torch.cuda.is_available(), eval_strategy="epoch",
            save_strategy="epoch", save_only_model=True, save_total_limit=2, load_best_model_at_end=True,
            metric_for_best_model="loss", greater_is_better=False, logging_strategy="epoch",
            report_to="none", disable_tqdm=True, remove_unused_columns=False, dataloader_num_workers=0,
            eval_do_concat_batches=False, bf16=bf16,
            train_sampling_strategy="group_by_length")  # less padding, same shuffling seed
        trainer = Trainer(model=model, args=args, train_dataset=train_rows, eval_dataset=dev_rows,
                          data_collator=_collate(tokenizer), compute_loss_func=_weighted_loss(train_rows, config),
                          compute_metrics=_concat_metrics)
        for cb in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(cb)
        trainer.train()
    return trainer.model.float().eval()


def _concat_metrics(pred) -> dict[str, float]:
    """Batches come unconcatenated (their widths differ): flatten the real tokens of each."""
    from types import SimpleNamespace

    preds = np.concatenate([p.reshape(-1, p.shape[-1]) for p in pred.predictions])
    labels = np.concatenate([y.reshape(-1, y.shape[-1]) for y in pred.label_ids])
    return _token_f1(SimpleNamespace(predictions=preds, label_ids=labels))
