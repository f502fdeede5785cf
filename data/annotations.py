"""Annotation tool exports back into corpus records (`conflictclf data import`).

Reads what the tasks of conflictclf.data.tasks become once labelled:
- Label Studio 1.x "JSON" export: a list of tasks, each with "data" and "annotations"; an
  annotation has "completed_by", "was_cancelled", "ground_truth" and a "result" list whose
  choices items carry {"value": {"choices": [...]}}.
- doccano 1.x text-classification "JSONL" export: {"id", "text", "label": [...], ...metadata}
  per line; one file for a collaborative project, or one `<user>.jsonl` per annotator (a
  folder or the zip doccano downloads), which is how disagreements between annotators show.
Every task that cannot become a record is reported as one line and left out: tasks nobody
labelled, annotators who disagree, labels the model does not know.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conflictclf.data.files import atomic_write_text
from conflictclf.data.tasks import NONE_LABEL
from conflictclf.data.errors import DataError

SOURCES = ("label-studio", "doccano")
# Documents, not sentences, go to dev and test, so no article is split across them. A user
# set is small (tens of articles), so dev and test take a fifth each rather than the bundled
# corpus's tenth: fewer than a handful of dev articles would make threshold tuning a lottery.
DEV_SHARE = 0.2
TEST_SHARE = 0.2
RECORD_SOURCE = "annotated"


@dataclass
class Task:
    key: str  # where it is in the export, for messages
    text: str
    data: dict[str, Any]
    votes: dict[str, list[str] | None] = field(default_factory=dict)  # annotator -> labels (None: skipped)
    ground_truth: list[str] | None = None


@dataclass
class ImportResult:
    records: list[dict]
    problems: list[str]  # one line per task left out, with the reason
    tasks: int


def detect_format(path: Path) -> str:
    if path.is_dir() or path.suffix.lower() in (".jsonl", ".zip"):
        return "doccano"
    if path.suffix.lower() == ".json":
        return "label-studio"
    raise DataError(f"{path}: cannot tell the export format from the name; pass --from label-studio or doccano")


def read_label_studio(path: Path) -> list[Task]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a Label Studio JSON export ({exc})") from None
    if not isinstance(doc, list):
        raise DataError(f"{path}: a Label Studio JSON export is a list of tasks")
    tasks = []
    for n, t in enumerate(doc):
        key = f"{path.name}: task {t.get('id', n + 1) if isinstance(t, dict) else n + 1}"
        if not isinstance(t, dict) or not isinstance(t.get("data"), dict) or not isinstance(t["data"].get("text"), str):
            raise DataError(f"{key}: no data.text (export the project as JSON, not JSON-MIN or CSV)")
        task = Task(key, t["data"]["text"], t["data"])
        annotations = t.get("annotations") or []
        if not isinstance(annotations, list):
            raise DataError(f"{key}: `annotations` must be a list (export the project as JSON)")
        for k, a in enumerate(annotations, 1):
            _add_vote(task, a, f"{key}: annotation {k}")
        tasks.append(task)
    return tasks


def _add_vote(task: Task, a: Any, where: str) -> None:
    """One Label Studio annotation as its annotator's vote; a malformed one is a DataError
    (an export edited by hand or by a script), never a crash half-way through an import."""
    if not isinstance(a, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(a).__name__}")
    who = a.get("completed_by")
    who = str(who.get("email", who.get("id")) if isinstance(who, dict) else who)
    if a.get("was_cancelled"):
        task.votes.setdefault(who, None)
        return
    result = a.get("result") or []
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        raise DataError(f"{where}: `result` must be a list of objects")
    chosen: list[str] = []
    for r in result:
        if r.get("type") != "choices":
            continue
        value = r.get("value") or {}
        choices = (value.get("choices") or []) if isinstance(value, dict) else None
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise DataError(f"{where}: a choices result needs value.choices, a list of label names")
        chosen += choices
    task.votes[who] = chosen or None
    if a.get("ground_truth") and chosen:
        task.ground_truth = chosen


def read_doccano(path: Path) -> list[Task]:
    """One JSONL file, a folder of per-user JSONL files, or doccano's zip of them."""
    members: list[tuple[str, str]] = []  # (annotator, file text)
    try:
        if path.is_dir():
            members = [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(path.glob("*.jsonl"))]
        elif path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as z:
                members = [(Path(i.filename).stem, z.read(i).decode("utf-8")) for i in z.infolist()
                           if i.filename.endswith(".jsonl")]
        else:
            members = [("annotator", path.read_text(encoding="utf-8"))]
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a doccano JSONL export ({exc})") from None
    if not members:
        raise DataError(f"{path}: no .jsonl files in this doccano export")
    tasks: dict[str, Task] = {}
    for who, text in members:
        for n, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: {who}.jsonl:{n}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or "label" not in row:
                raise DataError(f"{path}: {who}.jsonl:{n}: expected doccano text-classification rows with text and label")
            meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
            data = {k: v for k, v in row.items() if k not in ("label", "meta", "Comments")} | meta
            key = str(data.get("ref") or row.get("id") or row["text"])
            task = tasks.setdefault(key, Task(f"{path.name}: example {row.get('id', key)}", row["text"], data))
            labels = [str(x) for x in row["label"]] if isinstance(row["label"], list) else [str(row["label"])]
            task.votes[who] = labels or None
    return list(tasks.values())


def import_export(paths: Sequence[str | Path], labels: Sequence[str], fmt: str | None = None) -> ImportResult:
    """Corpus records from one or more exports; see the module docstring for what is left out."""
    tasks: list[Task] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        kind = fmt or detect_format(path)
        if kind not in SOURCES:
            raise DataError(f"unknown export format {kind!r} (choose from {', '.join(SOURCES)})")
        found = read_label_studio(path) if kind == "label-studio" else read_doccano(path)
        if not found:
            raise DataError(f"{path}: holds no tasks")
        tasks.extend(found)
    records, problems, seen = [], [], set()
    for task in tasks:
        labels_or_reason = _resolve(task, labels)
        if isinstance(labels_or_reason, str):
            problems.append(f"{task.key}: {labels_or_reason}: {_short(task.text)}")
            continue
        rec = _record(task, labels_or_reason)
        if rec["id"] in seen:
            problems.append(f"{task.key}: same sentence ({rec['id']}) imported twice; kept the first")
            continue
        seen.add(rec["id"])
        records.append(rec)
    assign_splits(records)
    return ImportResult(records, problems, len(tasks))


def _resolve(task: Task, known: Sequence[str]) -> list[str] | str:
    """The task's labels, or the reason it cannot be imported."""
    if task.ground_truth is not None:
        chosen = {"ground truth": task.ground_truth}
    else:
        chosen = {who: v for who, v in task.votes.items() if v is not None}
    if not chosen:
        return "unlabelled (no annotator chose a label; left out)"
    unknown = sorted({lab for v in chosen.values() for lab in v if lab not in known and lab != NONE_LABEL})
    if unknown:
        return f"unknown label {unknown[0]!r} (known: {', '.join(known)}, {NONE_LABEL}; left out)"
    sets = {who: tuple(sorted(set(v) - {NONE_LABEL})) for who, v in chosen.items()}
    for who, v in chosen.items():
        if NONE_LABEL in v and sets[who]:
            return f"annotator {who} chose {NONE_LABEL} together with {'+'.join(sets[who])} (left out)"
    if len(set(sets.values())) > 1:
        votes = "; ".join(f"{who}: {'+'.join(s) or NONE_LABEL}" for who, s in sets.items())
        return f"annotators disagree ({votes}); left out (in Label Studio, a ground-truth annotation settles it)"
    return list(next(iter(sets.values())))


def _record(task: Task, labels: list[str]) -> dict:
    d = task.data
    doc = str(d.get("doc") or d.get("ref") or task.key)
    ref = str(d.get("ref") or f"{doc}-{hashlib.sha256(task.text.encode()).hexdigest()[:8]}")
    rec = {"id": ref, "text": task.text, "labels": labels, "source": RECORD_SOURCE, "doc": doc,
           "order": d.get("order"), "start": d.get("start"), "end": d.get("end"),
           "annotators": sorted(w for w, v in task.votes.items() if v is not None)}
    return {k: v for k, v in rec.items() if v is not None}


def assign_splits(records: list[dict], dev_share: float = DEV_SHARE, test_share: float = TEST_SHARE) -> None:
    """Whole documents to train/dev/test, in an order fixed by a hash of their ids (so the
    same export always splits the same way), at least one document each when there are three."""
    docs = sorted({r["doc"] for r in records}, key=lambda d: hashlib.sha256(d.encode()).hexdigest())
    n = len(docs)
    n_test = max(1 if n >= 3 else 0, round(test_share * n))
    n_dev = max(1 if n >= 3 else 0, round(dev_share * n))
    split = {d: "test" if i < n_test else "dev" if i < n_test + n_dev else "train" for i, d in enumerate(docs)}
    for r in records:
        r["split"] = split[r["doc"]]


def _short(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def write_records(records: list[dict], output: str | Path) -> Path:
    out = Path(output)
    try:
        atomic_write_text(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    except OSError as exc:
        raise DataError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return out
