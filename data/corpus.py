"""Reading annotated sentence records (JSONL) with errors that point at `file:line`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from conflictclf.data.errors import DataError

SPLITS = ("train", "dev", "test")
# The label set of the shipped corpus (labels.md v1.1). Models carry their own set;
# this is only what `data validate` checks against when no other set is given.
SPEC_LABELS = ("attack", "retaliation", "claim", "threat")
REQUIRED_FIELDS = ("id", "text", "labels")


@dataclass(frozen=True)
class Record:
    id: str
    text: str
    labels: tuple[str, ...]
    split: str | None = None
    doc: str | None = None
    source: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    # Where the record came from, for error messages.
    path: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def bundled_corpus_dir() -> Path:
    """The corpus shipped inside the package (`data/corpus/*.jsonl` in the repository)."""
    return Path(str(files("conflictclf.data") / "corpus"))


def bundled_corpus_files() -> list[Path]:
    return sorted(bundled_corpus_dir().glob("*.jsonl"))


def bundled_probe_files() -> list[Path]:
    """The held-out real-register probes shipped with the package (`data/probe/*.jsonl`)."""
    return sorted(Path(str(files("conflictclf.data") / "probe")).glob("*.jsonl"))


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their `*.jsonl` files; missing paths are an error."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(p.glob("*.jsonl"))
            if not found:
                raise DataError(f"{p}: folder holds no .jsonl files")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"{p}: no such file or folder")
    if not out:
        raise DataError("no data files given")
    return out


def parse_line(raw: str, path: str, line: int) -> Record:
    """One JSONL line to a Record; raises DataError('file:line: reason')."""
    where = f"{path}:{line}"
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: invalid JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object")
    missing = [k for k in REQUIRED_FIELDS if k not in obj]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
    if not isinstance(obj["id"], (str, int)) or isinstance(obj["id"], bool):
        raise DataError(f"{where}: 'id' must be a string")
    text = obj["text"]
    if not isinstance(text, str):
        raise DataError(f"{where}: 'text' must be a string")
    if not text.strip():
        raise DataError(f"{where}: empty or whitespace-only text")
    labels = obj["labels"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise DataError(f"{where}: 'labels' must be a list of strings")
    if len(set(labels)) != len(labels):
        raise DataError(f"{where}: repeated label in {labels}")
    split = obj.get("split")
    if split is not None and split not in SPLITS:
        raise DataError(f"{where}: unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    known = {"id", "text", "labels", "split", "doc", "source"}
    return Record(
        id=str(obj["id"]),
        text=text,
        labels=tuple(labels),
        split=split,
        doc=None if obj.get("doc") is None else str(obj["doc"]),
        source=obj.get("source"),
        extra={k: v for k, v in obj.items() if k not in known},
        path=path,
        line=line,
    )


def read_jsonl(path: Path) -> list[Record]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 text") from None
    records = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            records.append(parse_line(raw, str(path), n))
    return records


def load_records(paths: Iterable[str | Path] | None = None) -> list[Record]:
    """Read every record from `paths` (default: the bundled corpus); ids must be unique."""
    files_ = expand_paths(paths) if paths else bundled_corpus_files()
    records: list[Record] = []
    seen: dict[str, str] = {}
    for path in files_:
        for rec in read_jsonl(path):
            if rec.id in seen:
                raise DataError(f"{rec.where}: duplicate id {rec.id!r} (first at {seen[rec.id]})")
            seen[rec.id] = rec.where
            records.append(rec)
    if not records:
        raise DataError(f"no records in {', '.join(map(str, files_))}")
    return records


def check_labels(records: Iterable[Record], allowed: Sequence[str]) -> None:
    allowed_set = set(allowed)
    for rec in records:
        unknown = [x for x in rec.labels if x not in allowed_set]
        if unknown:
            raise DataError(
                f"{rec.where}: unknown label {unknown[0]!r} (known: {', '.join(allowed)})"
            )


def label_set(records: Iterable[Record]) -> list[str]:
    """The labels found in the data, sorted so that every run agrees on the column order."""
    return sorted({lab for rec in records for lab in rec.labels})


def by_split(records: Sequence[Record]) -> dict[str, list[Record]]:
    """Group by split; records without one are assigned by a stable hash of their doc (80/10/10)."""
    groups: dict[str, list[Record]] = {s: [] for s in SPLITS}
    for rec in records:
        groups[rec.split or _hash_split(rec.doc or rec.id)].append(rec)
    return groups


def _hash_split(key: str) -> str:
    bucket = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def fingerprint(records: Iterable[Record]) -> str:
    """A hash of what training sees (ids, texts, labels, splits), independent of file layout."""
    h = hashlib.sha256()
    for rec in sorted(records, key=lambda r: r.id):
        h.update(json.dumps([rec.id, rec.text, sorted(rec.labels), rec.split]).encode())
    return h.hexdigest()[:16]
