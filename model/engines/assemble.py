"""The one assembly of finished parts into OUTPUT, for both engines: all or nothing under the final name.

The local engine joins the parts into one file; the Ray engine, whose parts may sit
on many nodes' shared storage, links them into a folder. Either way the parts are
taken in unit order, everything is written under a temporary name and renamed into
place, and rows that only assembly can judge (Parquet schema drift across parts)
become rejects with their file and line. CSV parts each carry the header of their
own rows; assembly gives every part one header holding every part's columns, so no
field is dropped and none lands under another's column.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from pathlib import Path
from typing import Any

from conflictclf.data import tabular
from conflictclf.data.files import atomic_write_text
from conflictclf.data.records import jsonl_text
from conflictclf.model.classifier import EventClassifier
from conflictclf.model.engines.common import (
    BatchOptions,
    BatchSummary,
    part_name,
    rejects_name,
    rejects_path,
    write_manifest,
)

SCHEMA_REJECTS = "rejects-schema.jsonl"


def finish(work: Path, done: dict[int, dict[str, Any]], output: Path, clf: EventClassifier, opts: BatchOptions,
           summary: BatchSummary, start: float, engine: str, folder: bool,
           extra: dict[str, Any] | None = None, backend: str | None = None) -> BatchSummary:
    """Assemble, move the rows assembly rejected out of the counts, write the manifest, drop the work folder.

    `backend`: the backend the rows were classified with, where not `clf`'s (see write_manifest)."""
    fmt = tabular.file_format(output)
    late, dropped = assemble(work, done, fmt, clf.labels, output, opts.id_field, folder)
    summary.rejected += len(late)
    summary.classified -= len(late)
    summary.output_rows -= dropped
    summary.output, summary.rejects = str(output), str(rejects_path(output))
    summary.seconds = time.time() - start
    summary.manifest = str(write_manifest(output, clf, opts, summary, engine=engine, extra=extra, backend=backend))
    shutil.rmtree(work, ignore_errors=True)
    return summary


def assemble(work: Path, done: dict[int, dict[str, Any]], fmt: str, labels: list[str], output: Path,
             id_field: str, folder: bool) -> tuple[list[dict[str, Any]], int]:
    """Parts -> OUTPUT and OUTPUT.rejects.jsonl (files, or folders); returns (late rejects, rows dropped)."""
    keys = [(k, j) for k in sorted(done) for j in range(done[k]["parts"])]
    parts = [work / part_name(k, j, fmt) for k, j in keys]
    tmp = _fresh(output.with_name(f".{output.name}.tmp"), folder)
    late: list[dict[str, Any]] = []
    dropped = 0
    if fmt == "parquet":
        late, dropped = _parquet(parts, tmp, id_field, folder)
    elif fmt == "csv":
        _csv(parts, tmp, labels, folder)
    else:
        _concat(parts, tmp, folder)
    rejects = [work / rejects_name(k, j) for k, j in keys]
    if late:
        atomic_write_text(work / SCHEMA_REJECTS, jsonl_text(late))
        rejects.append(work / SCHEMA_REJECTS)
    rtmp = _fresh(output.with_name(f".{output.name}.rejects.tmp"), folder)
    _concat(rejects, rtmp, folder)
    _replace(tmp, output)
    _replace(rtmp, rejects_path(output))
    return late, dropped


def _parquet(parts: list[Path], tmp: Path, id_field: str, folder: bool) -> tuple[list[dict[str, Any]], int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = [f for p in parts for f in sorted(p.parent.glob(f"{p.stem}-s*.parquet"))]  # runs, in order
    writer: list[Any] = []
    written = [0]

    def sink(i: int, table: Any) -> None:
        written[0] += table.num_rows
        if folder:
            if table.num_rows:
                pq.write_table(table, tmp / files[i].name)
            return
        if not writer:
            writer.append(pq.ParquetWriter(tmp, table.schema))
        writer[0].write_table(table)

    from conflictclf.data import parquet_fit  # pyarrow: only for Parquet output, not at start-up
    late = parquet_fit.assemble(files, sink, id_field)
    if writer:
        writer[0].close()
    elif not folder:
        pq.write_table(pa.table({}), tmp)  # no rows at all: still a Parquet file
    return late, sum(pq.read_metadata(f).num_rows for f in files) - written[0]


def _csv(parts: list[Path], tmp: Path, labels: list[str], folder: bool) -> None:
    headers = [tabular.csv_header(p) for p in parts]
    columns = tabular.joined_columns(headers, labels)
    if not columns:  # no rows at all: an empty file, as for JSONL
        return
    targets = [(p, tmp / p.name) for p, h in zip(parts, headers) if h] if folder else [(p, tmp) for p in parts]
    started: set[Path] = set()
    for part, target in targets:
        with target.open("a", encoding="utf-8", newline="") as fh:
            if target not in started:
                csv.writer(fh).writerow(columns)
                started.add(target)
            tabular.copy_csv_rows(part, columns, fh)


def _concat(files: list[Path], tmp: Path, folder: bool) -> None:
    """Files in order: appended into one file, or linked into a folder (empty ones left out)."""
    if folder:
        for f in files:
            if f.stat().st_size:
                _link(f, tmp / f.name)
        return
    with tmp.open("ab") as dst:
        for f in files:
            with f.open("rb") as src:
                shutil.copyfileobj(src, dst)


def remove_path(path: Path) -> None:
    """Remove a file, or a folder of parts (the Ray engine's output), if there is one."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _fresh(path: Path, folder: bool) -> Path:
    remove_path(path)
    if folder:
        path.mkdir(parents=True)
    else:
        path.touch()
    return path


def _link(src: Path, dst: Path) -> None:
    """Hard link where the file system allows (no copy of archive-sized output), else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _replace(tmp: Path, target: Path) -> None:
    remove_path(target)
    os.replace(tmp, target)
