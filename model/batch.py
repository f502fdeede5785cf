"""`batch`: classify record files far larger than memory, resumably, accounting for every row.

Work goes chunk by chunk into a hidden parts folder next to OUTPUT; each finished
chunk is renamed into place and then recorded in `state.json`, so a killed run
resumes at the first unfinished chunk. Only a complete run is assembled under the
final name (written to a temporary name, then renamed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conflictclf.data import parquet_fit, tabular
from conflictclf.data.files import atomic_write_text
from conflictclf.data.segment import segment as split_sentences
from conflictclf.model.classifier import DEFAULT_BATCH_SIZE, WEIGHTS_FILE, EventClassifier, package_version
from conflictclf.model.errors import InputError

HASH_CACHE_FILE = ".weights.sha256.json"
# Rows per resumable unit: large enough to amortise a part file, small enough to lose little on a crash.
DEFAULT_CHUNK_SIZE = 4096
# Bytes of input per Ray unit (a line-aligned byte range, or Parquet row groups): the unit of
# retry and of --resume. A task streams its unit in chunks, so this bounds lost work, not memory.
DEFAULT_BLOCK_BYTES = 32 << 20


@dataclass
class BatchOptions:
    text_field: str = "text"
    id_field: str = "id"
    segment: bool = False  # each record is an article: one output row per sentence
    batch_size: int = DEFAULT_BATCH_SIZE
    chunk_size: int = DEFAULT_CHUNK_SIZE
    backend: str = "auto"
    threshold: float | None = None
    resume: bool = False
    threads: int | None = None  # CPU threads for the ONNX backends; None: every CPU available
    # field holding each record's preceding sentence; only a model trained with context reads it
    context_field: str | None = None
    block_bytes: int = DEFAULT_BLOCK_BYTES  # Ray engine only


@dataclass
class BatchSummary:
    read: int = 0
    classified: int = 0
    rejected: int = 0
    output_rows: int = 0
    seconds: float = 0.0
    output: str = ""
    rejects: str = ""
    manifest: str = ""
    resumed_chunks: int = 0
    inputs: list[str] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


def classify_rows(clf: EventClassifier, rows: list[tuple[str, int, dict[str, Any]]], opts: BatchOptions,
                  where: list[tuple[str, int]] | None = None
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Classify (file, row number, record) rows; returns (output rows, rejects, rows classified).

    Shared by the local and the Ray engine so both give the same rows, labels and scores.
    `where`, when given, receives the (file, row number) each output row came from.
    """
    units: list[tuple[dict[str, Any], str, dict[str, Any]]] = []  # (record, text, extra columns)
    origin: list[tuple[str, int]] = []
    rejects: list[dict[str, Any]] = []
    classified = 0
    for file, n, rec in rows:
        text = rec.get(opts.text_field)
        reason = _text_problem(text, opts.text_field)
        if reason is None and opts.segment:
            sentences = split_sentences(text)
            if not sentences:
                reason = "no sentences left after segmentation"
            else:
                base = {k: v for k, v in rec.items() if k != opts.text_field}
                units.extend((base, s.text, {"sentence_index": s.index, "start": s.start, "end": s.end})
                             for s in sentences)
                origin.extend([(file, n)] * len(sentences))
        elif reason is None:
            units.append((rec, text, {}))
            origin.append((file, n))
        if reason is not None:
            rejects.append(reject(file, n, reason, rec.get(opts.id_field)))
        else:
            classified += 1
    preds = clf.predict([t for _, t, _ in units], threshold=opts.threshold, batch_size=opts.batch_size)
    out = [rec | extra | ({opts.text_field: t} if extra else {}) | {"labels": p.labels, "scores": p.scores}
           for (rec, t, extra), p in zip(units, preds)]
    if where is not None:
        where.extend(origin)
    return out, rejects, classified


def reject(file: str, line: int, reason: str, rid: Any = None) -> dict[str, Any]:
    return {"file": file, "line": line, "id": rid, "reason": reason}


def _text_problem(text: Any, name: str) -> str | None:
    if text is None:
        return f"missing text field {name!r}"
    if not isinstance(text, str):
        return f"text field {name!r} is not a string ({type(text).__name__})"
    if not text.strip():
        return f"empty text in field {name!r}"
    return None


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
    jsonl = [f for f in files if tabular.file_format(f) == "jsonl"]
    if jsonl:
        sample = [rec for f in jsonl for _, rec, _ in _take(tabular.read_rows(f), 200) if rec is not None]
        if sample and not any(text_field in r for r in sample):
            raise InputError(f"{jsonl[0]}: no record has field {text_field!r} "
                             f"(fields: {', '.join(sorted(sample[0]))}); set --text-field")
    return files, total


def _take(it: Iterator, n: int) -> Iterator:
    for i, x in enumerate(it):
        if i >= n:
            return
        yield x


def iter_chunks(files: list[Path], size: int) -> Iterator[tuple[list[tuple[str, int, dict]], list[dict]]]:
    """Chunks of `size` input rows (good and bad together, so chunk k is the same on every run)."""
    good: list[tuple[str, int, dict]] = []
    bad: list[dict] = []
    for f in files:
        for n, rec, reason in tabular.read_rows(f):
            if rec is None:
                bad.append(reject(str(f), n, reason or "unreadable row"))
            else:
                good.append((str(f), n, rec))
            if len(good) + len(bad) >= size:
                yield good, bad
                good, bad = [], []
    if good or bad:
        yield good, bad


def run_batch(input_path: str | Path, output: str | Path, model: str | Path | None = None,
              opts: BatchOptions | None = None, on_progress: Callable[[int, int], None] | None = None) -> BatchSummary:
    """Classify every row of INPUT into OUTPUT (+ OUTPUT.rejects.jsonl and OUTPUT.manifest.json)."""
    opts = opts or BatchOptions()
    start = time.time()
    input_path, output = Path(input_path), Path(output)
    out_fmt = tabular.file_format(output)
    files, total = plan_inputs(input_path, opts.text_field)
    clf = EventClassifier.from_pretrained(model, backend=opts.backend, threads=opts.threads)
    work = output.parent / f".{output.name}.parts"
    key = _run_key(files, opts, clf)
    state = _load_state(work, key, opts.resume)
    summary = BatchSummary(**{k: state[k] for k in ("read", "classified", "rejected", "output_rows")},
                           resumed_chunks=state["chunks"], inputs=[str(f) for f in files])
    if on_progress:
        on_progress(summary.read, total)
    for k, (good, bad) in enumerate(iter_chunks(files, opts.chunk_size)):
        if k < state["chunks"]:
            continue  # finished before the interruption
        rows, rejects, classified, n_out = classify_part(clf, good, opts, out_fmt)
        rejects = sorted(bad + rejects, key=lambda r: (r["file"], r["line"]))
        write_part(work / f"part-{k:06d}.{out_fmt}", out_fmt, clf.labels, rows)
        atomic_write_text(work / f"rejects-{k:06d}.jsonl", jsonl_text(rejects))
        summary.read += len(good) + len(bad)
        summary.classified += classified
        summary.rejected += len(rejects)
        summary.output_rows += n_out
        _save_state(work, key, k + 1, summary)
        if on_progress:
            on_progress(summary.read, total)
    n_chunks = _load_state(work, key, True)["chunks"]
    summary.output, summary.rejects = str(output), str(rejects_path(output))
    late = _assemble(work, n_chunks, out_fmt, clf.labels, output, opts.id_field)
    _adjust(summary, late)
    summary.seconds = time.time() - start
    summary.manifest = str(write_manifest(output, clf, opts, summary, engine="local"))
    shutil.rmtree(work, ignore_errors=True)
    return summary


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
                   extra: dict[str, Any] | None = None) -> Path:
    manifest = {
        "output": str(output),
        "rejects": str(rejects_path(output)),
        "engine": engine,
        "model": {"path": str(clf.path), "sha256": weights_hash(clf.path), "backend": clf.backend.name,
                  "labels": clf.labels, "thresholds": dict(zip(clf.labels, map(float, clf.thresholds)))},
        "threshold_override": opts.threshold,
        "context": {"field": opts.context_field, "used": bool(opts.context_field) and clf.uses_context},
        "package_version": package_version(),
        "options": asdict(opts),
        "inputs": [{"path": f, "bytes": os.path.getsize(f)} for f in summary.inputs],
        "counts": {"read": summary.read, "classified": summary.classified, "rejected": summary.rejected,
                   "output_rows": summary.output_rows},
        "seconds": round(summary.seconds, 2),
        "rows_per_second": round(summary.rows_per_second, 1),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    } | (extra or {})
    path = manifest_path(output)
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
    return path


def _run_key(files: list[Path], opts: BatchOptions, clf: EventClassifier) -> dict:
    """What must not change between a run and its resume."""
    return {"inputs": [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files],
            "chunk_size": opts.chunk_size, "text_field": opts.text_field, "segment": opts.segment,
            "threshold": opts.threshold, "model": str(clf.path), "backend": clf.backend.name}


def _load_state(work: Path, key: dict, resume: bool) -> dict:
    state_file = work / "state.json"
    empty = {"chunks": 0, "read": 0, "classified": 0, "rejected": 0, "output_rows": 0}
    if not state_file.exists():
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        return empty
    if not resume:
        raise InputError(f"{work}: an interrupted run left its work here; pass --resume to continue it, "
                         "or delete the folder to start over")
    state = json.loads(state_file.read_text())
    if state.get("key") != key:
        raise InputError("cannot resume: the input, model or options differ from the interrupted run")
    return state


def _save_state(work: Path, key: dict, chunks: int, s: BatchSummary) -> None:
    atomic_write_text(work / "state.json", json.dumps({"key": key, "chunks": chunks, "read": s.read,
                                                  "classified": s.classified, "rejected": s.rejected,
                                                  "output_rows": s.output_rows}))


def classify_part(clf: EventClassifier, good: list[tuple[str, int, dict[str, Any]]], opts: BatchOptions,
                  out_fmt: str) -> tuple[Any, list[dict[str, Any]], int, int]:
    """`classify_rows`, plus for Parquet the fitting of the rows into one schema (see `parquet_fit`).

    Returns (rows, or a Parquet table, rejects, records classified, output rows).
    """
    where: list[tuple[str, int]] = []
    rows, rejects, classified = classify_rows(clf, good, opts, where)
    if out_fmt != "parquet":
        return rows, rejects, classified, len(rows)
    tables, misfits = parquet_fit.rows_to_tables(rows, where, opts.id_field)
    return tables, rejects + misfits, classified - len(misfits), sum(t.num_rows for t in tables)


def write_part(part: Path, fmt: str, labels: list[str], rows: Any) -> None:
    """One part, atomically: a retried or resumed unit overwrites it whole, never adds to it.

    For Parquet, `rows` are tables (runs that fit one schema each), written as one file per run.
    """
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for table, path in zip(rows, parquet_fit.run_files(part, len(rows))):
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        return
    tmp = part.with_name(f"{part.name}.{os.getpid()}.tmp")
    w = tabular.Writer(tmp, fmt, labels)
    w.write(rows)
    w.close()
    os.replace(tmp, part)


def jsonl_text(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)


def _adjust(summary: BatchSummary, late: tuple[list[dict[str, Any]], int]) -> None:
    """Rows that assembly turned into rejects (Parquet schema drift across parts) leave the output counts."""
    rejects, rows_dropped = late
    summary.rejected += len(rejects)
    summary.classified -= len(rejects)
    summary.output_rows -= rows_dropped


def _assemble(work: Path, n_chunks: int, fmt: str, labels: list[str], output: Path, id_field: str
              ) -> tuple[list[dict[str, Any]], int]:
    """Join the parts in order under a temporary name, then rename: the final name is all or nothing."""
    tmp = output.with_name(f".{output.name}.tmp")
    parts = [work / f"part-{k:06d}.{fmt}" for k in range(n_chunks)]
    late: list[dict[str, Any]] = []
    dropped = 0
    if fmt == "parquet":
        parts = sorted(work.glob("part-*.parquet"))  # one file per run of rows with one schema
        import pyarrow.parquet as pq

        writer: list[Any] = []
        written = [0]

        def sink(_: int, table: Any) -> None:
            if not writer:
                writer.append(pq.ParquetWriter(tmp, table.schema))
            writer[0].write_table(table)
            written[0] += table.num_rows

        late = parquet_fit.assemble(parts, sink, id_field)
        dropped = sum(pq.read_metadata(p).num_rows for p in parts) - written[0]
        if writer:
            writer[0].close()
        else:
            tabular.Writer(tmp, fmt, labels).close()
    else:
        with tmp.open("wb") as dst:
            header_done = False
            for p in parts:
                with p.open("rb") as src:
                    if fmt == "csv" and header_done:
                        src.readline()  # every part carries the header; keep the first only
                    header_done = header_done or p.stat().st_size > 0
                    shutil.copyfileobj(src, dst)
    os.replace(tmp, output)
    rtmp = output.with_name(f".{output.name}.rejects.tmp")
    with rtmp.open("wb") as dst:
        for k in range(n_chunks):
            with (work / f"rejects-{k:06d}.jsonl").open("rb") as src:
                shutil.copyfileobj(src, dst)
        dst.write(jsonl_text(late).encode("utf-8"))
    os.replace(rtmp, rejects_path(output))
    return late, dropped
