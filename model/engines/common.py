"""What the local and the Ray engine share: options, counts, classifying rows, parts, the manifest.

Both engines cut the input into units (local: chunks of `chunk_size` rows; Ray: byte
ranges or row groups), write each unit's parts under names fixed by the plan
(`part-K-J.fmt`, `rejects-K-J.jsonl`) and then its done file, so one resume state
(`open_work`, here) and one assembly (`assemble.py`) serve both; `rows.py` classifies
the rows of a part the same way for both.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conflictclf.data import tabular
from conflictclf.data.files import atomic_write_text
from conflictclf.model.classifier import DEFAULT_BATCH_SIZE, WEIGHTS_FILE, EventClassifier, package_version
from conflictclf.data.errors import InputError

HASH_CACHE_FILE = ".weights.sha256.json"
# Rows per resumable unit: large enough to amortise a part file, small enough to lose little on a crash.
DEFAULT_CHUNK_SIZE = 4096
# Bytes of input per Ray unit (a line-aligned byte range, or Parquet row groups): the unit of
# retry and of --resume. A task streams its unit in chunks, so this bounds lost work, not memory.
DEFAULT_BLOCK_BYTES = 32 << 20
# What to do with a record longer than the model's max_length tokens (see `rows.py`).
LONG_POLICIES = ("segment", "truncate", "reject")
PLAN_FILE = "plan.json"
COUNTS = ("read", "classified", "rejected", "output_rows", "truncated", "split", "markup")


@dataclass
class BatchOptions:
    text_field: str = "text"
    id_field: str = "id"
    segment: bool = False  # each record is an article: one output row per sentence
    # a record over max_length tokens: "segment" classifies each of its sentences (the row gets
    # any sentence's labels and each label's highest score), "truncate" its start only, "reject" none
    long: str = "segment"
    batch_size: int = DEFAULT_BATCH_SIZE
    chunk_size: int = DEFAULT_CHUNK_SIZE
    backend: str = "auto"
    threshold: float | None = None
    resume: bool = False
    threads: int | None = None  # CPU threads for the ONNX backends; None: every CPU available
    block_bytes: int = DEFAULT_BLOCK_BYTES  # Ray engine only
    # Ray engine only: GPUs each worker actor asks Ray for (0.5: two workers share a card); with
    # any, workers run `auto` on their GPU. 0: workers run on CPUs, even on GPU nodes.
    gpus_per_worker: float = 0.0
    roles: bool = False  # add each labelled text's role spans and values (model/events)
    date: str | None = None  # every record's article date (or its field, below), for roles' times
    date_field: str | None = None

    def check(self) -> None:
        """Refuse option values the engines cannot use, before anything is read or written."""
        if self.long not in LONG_POLICIES:
            raise InputError(f"--long {self.long!r}: choose {', '.join(LONG_POLICIES)}")
        for name in ("batch_size", "chunk_size", "block_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} {value!r}: give a whole number of at least 1")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise InputError(f"threads {self.threads!r}: give a whole number of at least 1")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise InputError(f"threshold {self.threshold!r}: give a number from 0 to 1")
        if self.roles or self.date or self.date_field:
            from conflictclf.model.events.dates import check_date_options

            check_date_options(self.roles, self.date, self.date_field)
        gpus = self.gpus_per_worker
        # Ray takes fractions of one GPU, or whole GPUs: 1.5 is refused by Ray itself
        if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or not math.isfinite(gpus) or gpus < 0 \
                or (gpus > 1 and not float(gpus).is_integer()):
            raise InputError(f"--gpus-per-worker {gpus!r}: give 0, a fraction of one GPU (such as 0.5) "
                             "or a whole number")


@dataclass
class BatchSummary:
    read: int = 0
    classified: int = 0
    rejected: int = 0
    output_rows: int = 0
    truncated: int = 0  # records (or, with segment, articles) of which the model saw only the start
    split: int = 0  # records over max_length classified sentence by sentence (--long segment)
    markup: int = 0  # pieces of markup (tags, script/style blocks) segmentation stripped from the text
    seconds: float = 0.0
    output: str = ""
    rejects: str = ""
    manifest: str = ""
    resumed_chunks: int = 0
    inputs: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0

    def add(self, counts: dict[str, Any]) -> None:
        for c in COUNTS:
            setattr(self, c, getattr(self, c) + counts.get(c, 0))

    def counts(self) -> dict[str, int]:
        return {c: getattr(self, c) for c in COUNTS}


def new_counts() -> dict[str, Any]:
    return dict.fromkeys(COUNTS, 0) | {"parts": 0}


def plan_inputs(input_path: Path, text_field: str, count: bool = True) -> tuple[list[Path], int]:
    """Check inputs before anything is written (readable, known format, has the field); count rows.

    `count=False` skips the count (a read of each file) for a caller that counts as it plans.
    """
    files = tabular.input_files(input_path)
    total = 0
    for f in files:
        tabular.check_readable(f)
        cols = tabular.fields(f)
        if cols is not None and cols and text_field not in cols:
            raise InputError(f"{f}: no field {text_field!r} (fields: {', '.join(cols)}); set --text-field")
        total += tabular.count_rows(f) if count else 0
    if count and total == 0:
        raise InputError(f"{input_path}: the input holds no records")
    sample = sample_records(files)
    if sample and not any(text_field in r for r in sample):
        raise InputError(f"{files[0]}: no record has field {text_field!r} "
                         f"(fields: {', '.join(sorted(sample[0]))}); set --text-field")
    return files, total


def sample_records(files: list[Path], n: int = 200) -> list[dict[str, Any]]:
    """The first `n` good records of the JSONL inputs (the formats that declare no fields)."""
    out: list[dict[str, Any]] = []
    for f in files:
        if tabular.file_format(f) == "jsonl":
            out += [rec for _, rec, _ in _take(tabular.read_rows(f), n) if rec is not None]
    return out


def _take(it: Iterator, n: int) -> Iterator:
    for i, x in enumerate(it):
        if i >= n:
            return
        yield x


def reserved_fields(segment: bool, fmt: str, labels: list[str], roles: bool = False) -> frozenset[str]:
    """Names batch writes its own output under; an input field of the same name would be lost."""
    names = {"labels", "scores"} | ({"roles"} if roles else set())
    if segment:
        names |= {"sentence_index", "start", "end"}
    if fmt == "csv":
        names |= set(tabular.output_columns(labels))
    if fmt == "parquet":
        from conflictclf.data import parquet_fit  # pyarrow: only for Parquet output, not at start-up
        names |= {parquet_fit.FILE_COL, parquet_fit.LINE_COL}
    return frozenset(names)


def run_key(files: list[Path], opts: BatchOptions, clf: EventClassifier, fmt: str) -> dict[str, Any]:
    """What must not change between a run and its resume, or the output would mix two runs: the
    weights hash, not the path (a model retrained in place is another model); the batch size
    (int8 scores depend on which sentences share a batch)."""
    return {"inputs": [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files],
            "chunk_size": opts.chunk_size, "text_field": opts.text_field, "id_field": opts.id_field,
            "segment": opts.segment, "long": opts.long, "threshold": opts.threshold,
            "batch_size": opts.batch_size, "model_sha256": weights_hash(clf.path), "backend": clf.backend.name,
            "output_format": fmt, "roles": opts.roles, "date": opts.date, "date_field": opts.date_field}


def part_name(k: int, j: int, fmt: str) -> str:
    return f"part-{k:06d}-{j:04d}.{fmt}"  # a Parquet part is files part-K-J-sNNN.parquet (parquet_fit)


def rejects_name(k: int, j: int) -> str:
    return f"rejects-{k:06d}-{j:04d}.jsonl"


def done_name(k: int) -> str:
    return f"done-{k:06d}.json"


def open_work(work: Path, key: dict[str, Any], resume: bool, units: list[Any] | None = None
              ) -> dict[int, dict[str, Any]]:
    """Start a work folder, or reopen an interrupted one (with --resume); returns the finished units' counts.

    A unit is finished exactly when its done file exists (written last, atomically).
    `units`: the Ray engine's plan, which must also match; the local engine's units are
    its chunks, fixed by the key's chunk size.
    """
    plan = work / PLAN_FILE
    if not plan.exists():
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        atomic_write_text(plan, json.dumps({"key": key, "units": units}))
        return {}
    if not resume:
        raise InputError(f"{work}: an interrupted run left its work here; pass --resume to continue it, "
                         "or delete the folder to start over")
    saved = json.loads(plan.read_text(encoding="utf-8"))
    if saved.get("key") != key or saved.get("units") != units:
        raise InputError("cannot resume: the input, model or options differ from the interrupted run "
                         f"(delete {work} to start over)")
    done = {}
    for f in sorted(work.glob("done-*.json")):
        done[int(f.stem.split("-")[1])] = json.loads(f.read_text(encoding="utf-8"))
    return done


def commit_unit(work: Path, k: int, counts: dict[str, Any]) -> None:
    """The unit's done file, last: from here on a resume skips the unit."""
    atomic_write_text(work / done_name(k), json.dumps(counts))


def write_part(part: Path, fmt: str, labels: list[str], rows: Any) -> None:
    """One part, atomically: a retried or resumed unit overwrites it whole, never adds to it.

    For Parquet, `rows` are tables (runs that fit one schema each), written as one file per run.
    """
    if fmt == "parquet":
        import pyarrow.parquet as pq

        from conflictclf.data import parquet_fit  # pyarrow: only for Parquet output, not at start-up
        for table, path in zip(rows, parquet_fit.run_files(part, len(rows))):
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        return
    tmp = part.with_name(f"{part.name}.{os.getpid()}.tmp")
    tabular.write_records(tmp, fmt, labels, rows)
    os.replace(tmp, part)


def rejects_path(output: Path) -> Path:
    return output.with_name(output.name + ".rejects.jsonl")


def manifest_path(output: Path) -> Path:
    return output.with_name(output.name + ".manifest.json")


def weights_hash(model_dir: Path) -> str:
    """SHA-256 of the model weights, cached next to them under their size and mtime.

    Hashing 90 MB costs about 0.1 s, which a short batch run should not pay each time.
    A read-only model directory just goes without the cache.
    """
    weights, cache = model_dir / WEIGHTS_FILE, model_dir / HASH_CACHE_FILE
    st = weights.stat()
    stamp = [st.st_size, st.st_mtime_ns]
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached["stamp"] == stamp:
            return str(cached["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    h = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    try:
        atomic_write_text(cache, json.dumps({"stamp": stamp, "sha256": h.hexdigest()}))
    except OSError:
        pass
    return h.hexdigest()


def write_manifest(output: Path, clf: EventClassifier, opts: BatchOptions, summary: BatchSummary, engine: str,
                   extra: dict[str, Any] | None = None, backend: str | None = None) -> Path:
    """`backend`: what classified the rows, where that is not `clf`'s (Ray workers on GPUs)."""
    manifest = {
        "output": str(output),
        "rejects": str(rejects_path(output)),
        "engine": engine,
        "model": {"path": str(clf.path), "sha256": weights_hash(clf.path), "backend": backend or clf.backend.name,
                  "labels": clf.labels, "thresholds": dict(zip(clf.labels, map(float, clf.thresholds))),
                  "max_length": clf.max_length},
        "threshold_override": opts.threshold,
        "package_version": package_version(),
        "options": asdict(opts),
        "inputs": [{"path": f, "bytes": os.path.getsize(f)} for f in summary.inputs],
        "counts": summary.counts(),
        "seconds": round(summary.seconds, 2),
        "rows_per_second": round(summary.rows_per_second, 1),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    } | (extra or {})
    path = manifest_path(output)
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
    return path
