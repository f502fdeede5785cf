"""Continued training: start from a trained model and mix its bundled corpus into new data.

`conflictclf train --init-from MODEL --data mine.jsonl` fine-tunes MODEL (encoder and head)
on the user's sentences plus a seeded sample of the bundled corpus, `bundled_share` bundled
training sentences per new one; dev is the user's plus the whole bundled dev split (see
`mix_bundled`).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

from conflictclf.data.corpus import Record, by_split, check_labels, load_records
from conflictclf.model.modeldir import read_meta
from conflictclf.data.errors import ConfigError, DataError
from conflictclf.train.config import TrainConfig


def mix_bundled(user: list[Record], bundled: list[Record], share: float, seed: int) -> list[Record]:
    """`user` plus round(share * n_user_train) bundled train records drawn with `seed` (the
    same seed and data draw the same sentences), plus the whole bundled dev split.

    Dev takes all of the bundled dev split because thresholds, calibration and the best
    epoch are chosen on it: with a few dozen new dev sentences mixed with as many bundled
    ones, claim's F1 curve was flat, its threshold fell to 0.50 from the shipped model's
    0.63 and claim F1 on the bundled test split lost 0.105. Test stays the user's alone,
    so the F1 `train` prints is that of the new, held-out documents.
    """
    have = by_split(bundled)
    pool = sorted(have["train"], key=lambda r: r.id)  # file order must not change the draw
    k = min(len(pool), round(share * len(by_split(user)["train"])))
    return list(user) + random.Random(seed).sample(pool, k) + have["dev"]


def prepare_continued(init_from: str | Path, user: list[Record], config: TrainConfig,
                      log: Callable[[str], None]) -> tuple[list[Record], TrainConfig]:
    """The records to train on and the config that starts from `init_from` with its labels."""
    path = Path(init_from).expanduser()
    meta = read_meta(path)
    labels = list(meta["labels"])
    check_labels(user, labels)
    bundled = load_records()
    bundled_ids = {r.id for r in bundled}
    # the bundled corpus stands in when --data is left out; mixing it with itself is a mistake
    if bundled_ids.issuperset(r.id for r in user):
        raise DataError("--init-from needs your own annotated data: give it with --data")
    clash = sorted(r.id for r in user if r.id in bundled_ids)
    if clash:
        raise DataError(f"{clash[0]!r}: id also used by the bundled corpus; prefix your ids (e.g. 'mine-')")
    if config.labels and list(config.labels) != labels:
        raise ConfigError(f"--labels must match the model's labels ({', '.join(labels)}) when continuing training")
    records = mix_bundled(user, bundled, config.bundled_share, config.seed)
    # the starting model's own input length: it was trained at it, and its tokenizer is kept
    max_length = int(meta.get("config", {}).get("max_length", config.max_length))
    config = dataclasses.replace(config, base_model=str(path), labels=labels, max_length=max_length)
    log(f"continuing from {path}: {len(user)} new sentences + {len(records) - len(user)} bundled "
        f"(bundled_share {config.bundled_share:g} of the training sentences, and the bundled dev split)")
    return records, config
