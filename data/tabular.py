"""Streaming readers and writers for JSONL, CSV and Parquet record files.

Readers yield `(row_number, record_or_None, reason)` so that a bad row is reported
with its position instead of stopping the stream; nothing is read whole into memory.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from conflictclf.data.errors import InputError

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
Row = tuple[int, dict[str, Any] | None, str | None]  # (row number, record, reject reason)

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # article-length cells


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown extension {path.suffix or '(none)'!r} (use .jsonl, .csv or .parquet)")
    return fmt


def input_files(path: Path) -> list[Path]:
    """A file, or every supported file in a folder (sorted, so runs and resumes agree)."""
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
        if not found:
            raise InputError(f"{path}: folder holds no .jsonl, .csv or .parquet files")
        return found
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    file_format(path)
    return [path]


def check_readable(path: Path) -> None:
    """Refuse unreadable and binary files up front, before any output exists."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    fmt = file_format(path)
    if fmt == "parquet":
        if not head.startswith(b"PAR1"):
            raise InputError(f"{path}: not a Parquet file")
    elif b"\x00" in head:
        raise InputError(f"{path}: looks like a binary file, not {fmt.upper()} text")


def count_rows(path: Path) -> int:
    if file_format(path) == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    n = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


def fields(path: Path) -> list[str] | None:
    """Column names where the format declares them (CSV header, Parquet schema); None for JSONL."""
    fmt = file_format(path)
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            return next(csv.reader(fh), [])
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    return None


def read_rows(path: Path) -> Iterator[Row]:
    fmt = file_format(path)
    if fmt == "jsonl":
        yield from _read_jsonl(path)
    elif fmt == "csv":
        yield from _read_csv(path)
    else:
        yield from _read_parquet(path)


def _read_jsonl(path: Path) -> Iterator[Row]:
    with path.open("rb") as fh:
        yield from parse_jsonl_lines(fh, first_line=1)


def parse_jsonl_lines(lines: Iterable[bytes], first_line: int) -> Iterator[Row]:
    """Raw JSONL lines -> rows; `first_line` numbers the first one (a byte range starts mid-file)."""
    for n, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            yield n, None, "line is not UTF-8"
            continue
        except json.JSONDecodeError as exc:
            yield n, None, f"invalid JSON ({exc.msg})"
            continue
        yield (n, obj, None) if isinstance(obj, dict) else (n, None, "not a JSON object")


def _read_csv(path: Path) -> Iterator[Row]:
    with path.open("rb") as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
        yield from parse_csv_lines(fh, path, header=None, first_line=1)


def parse_csv_lines(lines: Iterable[str], path: Path, header: list[str] | None, first_line: int) -> Iterator[Row]:
    """Text lines -> rows numbered by physical line; `header` is given when the lines start past it."""
    reader = csv.DictReader(lines, fieldnames=header)
    offset = first_line - 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text (near line {offset + reader.line_num + 1})") from None
        except csv.Error as exc:
            yield offset + reader.line_num, None, f"malformed CSV ({exc})"
            continue
        if None in row:  # more cells than header columns
            yield offset + reader.line_num, None, "more cells than header columns"
            continue
        yield offset + reader.line_num, row, None


def _read_parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for rec in batch.to_pylist():
            n += 1
            yield n, rec, None


def output_columns(labels: list[str]) -> list[str]:
    """The columns batch adds to a CSV row (JSONL and Parquet keep `labels` and `scores` whole)."""
    return ["labels"] + [f"score_{lab}" for lab in labels]


def write_records(path: Path, fmt: str, labels: list[str], rows: list[dict[str, Any]]) -> None:
    """One whole JSONL or CSV file of output rows (an empty list gives an empty file).

    A CSV's header is every field of every row, in first-seen order, so a row with a
    field the first row lacks keeps it; cells a row has no value for stay empty.
    """
    with path.open("w", encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            fh.writelines(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
            return
        flat = [_flatten(r, labels) for r in rows]
        if not flat:
            return
        columns = list(dict.fromkeys(k for r in flat for k in r))
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(flat)


def _flatten(r: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    out = {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
           for k, v in r.items() if k not in ("labels", "scores")}
    out["labels"] = ";".join(r["labels"])
    out.update({f"score_{lab}": r["scores"][lab] for lab in labels})
    return out


def csv_header(path: Path) -> list[str]:
    """The header of a CSV written by `write_records` ([] for an empty file)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh), [])


def joined_columns(headers: list[list[str]], labels: list[str]) -> list[str]:
    """One header for parts whose headers differ: input fields in first-seen order, output columns last."""
    ours = output_columns(labels)
    seen = list(dict.fromkeys(c for h in headers for c in h))
    return [c for c in seen if c not in ours] + [c for c in ours if c in seen]


def copy_csv_rows(src: Path, columns: list[str], dst: Any) -> None:
    """Append `src`'s rows (not its header) to the open text file `dst`, each cell under its own column."""
    writer = csv.writer(dst)
    with src.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        where = [header.index(c) if c in header else None for c in columns]
        for row in reader:
            writer.writerow(["" if i is None else row[i] for i in where])
