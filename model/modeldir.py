"""The model directory: its layout, how a new one is written, and the one reader and writer
of its metadata file (`conflictclf.json`: labels, thresholds, calibration, export verdict).

Every change to a model's metadata goes through `update_meta` or `write_meta`, so there is
one JSON layout and one atomic write; whole directories are built beside their destination
and swapped in by `write_model_dir`, so a crash never leaves half a model.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from conflictclf.data.files import atomic_write_text
from conflictclf.data.errors import ModelError

META_FILE = "conflictclf.json"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def read_meta(path: Path) -> dict[str, Any]:
    """The metadata of the model directory `path`, checked for what every reader relies on."""
    meta_path = path / META_FILE
    if not path.is_dir():
        raise ModelError(f"{path}: no model here; train one with `conflictclf train` or pass --model DIR")
    for required in (CONFIG_FILE, WEIGHTS_FILE, META_FILE):
        if not (path / required).is_file():
            raise ModelError(f"{path}: not a conflictclf model directory ({required} is missing)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        labels = list(meta["labels"])
        [float(meta["thresholds"][lab]) for lab in labels]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{meta_path}: corrupt model metadata ({exc.__class__.__name__}: {exc})") from None
    return meta


def write_meta(path: Path, meta: Mapping[str, Any]) -> None:
    atomic_write_text(path / META_FILE, json.dumps(meta, indent=2) + "\n")


def update_meta(path: Path, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set top-level entries of a model's metadata (a value of None removes the entry)."""
    meta = read_meta(path)
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    write_meta(path, meta)
    return meta


def write_model_dir(out_dir: Path, fill: Callable[[Path], None], meta: Mapping[str, Any]) -> Path:
    """Build a model directory beside `out_dir` (`fill` writes weights, config and tokenizer
    into the folder it is given; the metadata comes last), then swap it in.

    An existing `out_dir` is replaced only if it is a conflictclf model or empty.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if out_dir.exists() and not (out_dir / META_FILE).is_file() and any(out_dir.iterdir()):
        raise ModelError(f"{out_dir}: exists and is not a conflictclf model; refusing to overwrite")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        fill(tmp)
        write_meta(tmp, meta)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def copy_model_files(src: Path, dst: Path) -> None:
    """Everything of model directory `src` but its metadata and hidden caches, into `dst`."""
    for item in src.iterdir():
        if item.name == META_FILE or item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, dst / item.name)
        else:
            shutil.copy2(item, dst / item.name)
