"""Fine-tune a multi-label encoder with the transformers Trainer and write a model directory."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conflictclf.data.corpus import Record, by_split, check_labels, fingerprint, label_set, load_records
from conflictclf.model.classifier import META_FILE, package_version, quiet_transformers
from conflictclf.model.errors import ConfigError, DataError, ModelError
from conflictclf.train.basemodels import resolve_base_model
from conflictclf.model.paths import default_model_dir
from conflictclf.train.calibration import fit_and_describe
from conflictclf.train.config import TrainConfig
from conflictclf.train.metrics import apply_thresholds, multi_hot, report, sigmoid, tune_thresholds

Log = Callable[[str], None]


@dataclass
class TrainResult:
    output_dir: Path
    labels: list[str]
    thresholds: dict[str, float]
    metrics: dict  # {"dev": report, "test": report | None}
    seconds: float


def train(config: TrainConfig, data: Sequence[str | Path] | None = None, output: str | Path | None = None,
          log: Log = print, progress: bool = True, init_from: str | Path | None = None) -> TrainResult:
    """Train on the `train` split, select and tune thresholds on `dev`, score `test`, save.

    `init_from`: a trained model directory to continue from, on `data` mixed with a share of
    the bundled corpus (conflictclf.train.continued).
    """
    start = time.time()
    records = load_records(data)
    if init_from is not None:
        from conflictclf.train.continued import prepare_continued

        records, config = prepare_continued(init_from, records, config, log)
    splits = by_split(records)
    for name in ("train", "dev"):
        if not splits[name]:
            raise DataError(f"the {name} split is empty: give records with \"split\": \"{name}\" (or none, to split by doc)")
    labels = list(config.labels) if config.labels else label_set(splits["train"] + splits["dev"])
    if not labels:
        raise DataError("no labels in the training data")
    check_labels(records, labels)
    out_dir = Path(output).expanduser() if output else default_model_dir()
    log(f"data: {len(splits['train'])} train, {len(splits['dev'])} dev, {len(splits['test'])} test sentences; "
        f"labels: {', '.join(labels)}")

    import torch
    from transformers import (
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        Trainer,
        TrainingArguments,
        set_seed,
    )
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from conflictclf.train.progress import RichProgressCallback

    import datasets

    datasets.disable_progress_bars()
    quiet_transformers()
    set_seed(config.seed)
    base = resolve_base_model(config.base_model)
    tokenizer, model = _load_base(base, labels)

    if config.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    bf16 = _use_bf16(config.bf16)
    train_ds = _dataset(splits["train"], labels, tokenizer, config.max_length)
    dev_ds = _dataset(splits["dev"], labels, tokenizer, config.max_length)
    pos_weight = torch.tensor(_pos_weights(multi_hot([r.labels for r in splits["train"]], labels), config))

    def loss_fn(outputs, targets, num_items_in_batch=None):
        return torch.nn.functional.binary_cross_entropy_with_logits(
            outputs.logits, targets.to(outputs.logits.dtype), pos_weight=pos_weight.to(outputs.logits.device)
        )

    def compute_metrics(pred) -> dict[str, float]:
        # label_ids, not the dev records: length-grouped sampling reorders evaluation too.
        probs, y = sigmoid(pred.predictions), pred.label_ids.astype(int)
        th = tune_thresholds(y, probs, config.threshold_min, config.threshold_max)
        rep = report(y, apply_thresholds(probs, th), labels)
        return {"macro_f1": rep["macro_f1"], "micro_f1": rep["micro_f1"]} | {
            f"f1_{lab}": v["f1"] for lab, v in rep["per_label"].items()
        }

    steps_per_epoch = -(-len(train_ds) // config.batch_size)
    with tempfile.TemporaryDirectory(prefix="conflictclf-ckpt-") as ckpt:
        args = TrainingArguments(
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
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=dev_ds,
            processing_class=tokenizer,
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_loss_func=loss_fn,
            compute_metrics=compute_metrics,
            callbacks=[EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience)],
        )
        for cb in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(cb)
        trainer.add_callback(RichProgressCallback(log=log, enabled=progress, labels=labels))
        trainer.train()
        best_epoch = _best_epoch(trainer)
        trainer.compute_metrics = None  # the dev-set metric function must not see other splits

        # Thresholds and reported metrics come from fp32 scores, as every backend serves them,
        # even when training ran in bf16.
        model = trainer.model.float().eval()
        y_dev = multi_hot([r.labels for r in splits["dev"]], labels)
        dev_probs = _predict(model, tokenizer, splits["dev"], config)
        thresholds = tune_thresholds(y_dev, dev_probs, config.threshold_min, config.threshold_max)
        metrics: dict = {"dev": report(y_dev, apply_thresholds(dev_probs, thresholds), labels), "test": None}
        if splits["test"]:
            y_test = multi_hot([r.labels for r in splits["test"]], labels)
            test_probs = _predict(model, tokenizer, splits["test"], config)
            metrics["test"] = report(y_test, apply_thresholds(test_probs, thresholds), labels)
        metrics["best_epoch"] = best_epoch
        calibration = fit_and_describe(y_dev, dev_probs, labels, "dev", len(splits["dev"]))
        metrics["bf16"] = bf16

        th = {lab: float(t) for lab, t in zip(labels, thresholds)}
        meta = {
            "labels": labels,
            "thresholds": th,
            "config": config.to_dict(),
            "base_model_path": base,
            "data_fingerprint": fingerprint(records),
            "data_counts": {k: len(v) for k, v in splits.items()},
            "label_counts": {s: _counts(v, labels) for s, v in splits.items()},
            "package_version": package_version(),
            "metrics": metrics,
            "train_seconds": round(time.time() - start, 1),
            "calibration": calibration,
        }
        _save(trainer.model, tokenizer, meta, out_dir)
    if config.export:
        _export(out_dir, splits, log)
    return TrainResult(out_dir, labels, th, metrics, time.time() - start)


def _export(out_dir: Path, splits: dict[str, list[Record]], log: Log) -> None:
    from conflictclf.model.export import MIN_INT8_AGREEMENT, bundled_check_texts, export_checked

    held_out = "test" if splits["test"] else "dev"
    checks = {held_out: [r.text for r in splits[held_out]], **bundled_check_texts()}
    log(f"exporting to ONNX (fp32 and int8), choosing the recheck margin on {len(splits['dev'])} dev sentences "
        f"and checking int8 decisions on {sum(map(len, checks.values()))} sentences ({', '.join(checks)})")
    result = export_checked(out_dir, checks, tune_texts=[r.text for r in splits["dev"]],
                            calibration_texts=[r.text for r in splits["train"]])
    verdict = ("int8 is the default backend" if result.used else
               f"int8 stays off (below {MIN_INT8_AGREEMENT:.1%} on a check set); "
               "the fp32 ONNX export is the default backend")
    shares = ", ".join(f"{name} {a:.2%}" for name, a in result.agreement.items())
    log(f"int8, rechecked in fp32 within {result.margin} logits of a threshold ({result.rechecked:.0%} of "
        f"sentences), agrees with fp32 on {shares}: {verdict}")


def _load_base(base: str, labels: list[str]):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    # Never wait on a network that may not exist: hub ids resolve from the local cache
    # unless the user explicitly allows downloads with HF_HUB_OFFLINE=0.
    offline = os.environ.get("HF_HUB_OFFLINE", "1") != "0"
    kwargs = dict(local_files_only=offline, trust_remote_code=False)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, **kwargs)
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)},
            problem_type="multi_label_classification",
            use_safetensors=True,
            **kwargs,
        )
    except (OSError, ValueError) as exc:
        hint = " (set HF_HUB_OFFLINE=0 to allow a download)" if offline and not Path(base).exists() else ""
        raise ConfigError(f"cannot load base model {base!r}{hint}: {str(exc).splitlines()[0]}") from None
    return tokenizer, model


def _dataset(records: list[Record], labels: list[str], tokenizer, max_length: int):
    from datasets import Dataset

    ds = Dataset.from_dict({
        "text": [r.text for r in records],
        "labels": multi_hot([r.labels for r in records], labels).tolist(),
    })
    return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
                  batched=True, remove_columns=["text"], keep_in_memory=True)


def _predict(model, tokenizer, records: list[Record], config: TrainConfig) -> np.ndarray:
    """fp32 probabilities in record order, length-sorted batches padded to their own longest."""
    import torch

    enc = tokenizer([r.text for r in records], truncation=True, max_length=config.max_length)
    order = np.argsort([len(x) for x in enc["input_ids"]], kind="stable")
    out = np.zeros((len(records), model.config.num_labels), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(order), config.eval_batch_size):
            idx = order[start:start + config.eval_batch_size]
            batch = tokenizer.pad({k: [enc[k][i] for i in idx] for k in ("input_ids", "attention_mask")},
                                  return_tensors="pt").to(model.device)
            out[idx] = torch.sigmoid(model(**batch).logits.float()).cpu().numpy()
    return out


def _use_bf16(setting: str) -> bool:
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


def _pos_weights(y: np.ndarray, config: TrainConfig) -> np.ndarray:
    pos = y.sum(axis=0)
    ratio = (len(y) - pos) / np.maximum(pos, 1)
    if config.class_weighting == "none":
        w = np.ones_like(ratio)
    elif config.class_weighting == "sqrt":
        w = np.sqrt(ratio)
    else:
        w = ratio
    return np.clip(w, 1.0, config.max_pos_weight).astype(np.float32)


def _counts(records: list[Record], labels: list[str]) -> dict[str, int]:
    return {lab: sum(lab in r.labels for r in records) for lab in labels} | {
        "none": sum(not r.labels for r in records)
    }


def _best_epoch(trainer) -> int | None:
    best = trainer.state.best_metric
    for entry in trainer.state.log_history:
        if "eval_macro_f1" in entry and entry["eval_macro_f1"] == best:
            return int(round(entry["epoch"]))
    return None


def _save(model, tokenizer, meta: dict, out_dir: Path) -> None:
    """Write next to the destination, then swap in, so a crash never leaves half a model."""
    from conflictclf.train.modelcard import model_card

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(model_card(meta), encoding="utf-8")
        if out_dir.exists():
            if not (out_dir / META_FILE).is_file() and any(out_dir.iterdir()):
                raise ModelError(f"{out_dir}: exists and is not a conflictclf model; refusing to overwrite")
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
