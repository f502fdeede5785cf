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

from conflictclf.model.errors import InputError

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


class Writer:
    """Appends record lists to one file in JSONL, CSV or Parquet; `close()` finishes it."""

    def __init__(self, path: Path, fmt: str, labels: list[str]) -> None:
        self.path, self.fmt, self.labels = path, fmt, labels
        self._fh = None
        self._csv = None
        self._pq = None

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.fmt == "jsonl":
            self._fh = self._fh or self.path.open("w", encoding="utf-8")
            self._fh.writelines(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
        elif self.fmt == "csv":
            self._write_csv(rows)
        else:
            self._write_parquet(rows)

    def _write_csv(self, rows: list[dict[str, Any]]) -> None:
        flat = [self._flatten(r) for r in rows]
        if self._csv is None:
            self._fh = self.path.open("w", encoding="utf-8", newline="")
            self._csv = csv.DictWriter(self._fh, fieldnames=list(flat[0]), extrasaction="ignore")
            self._csv.writeheader()
        self._csv.writerows(flat)

    def _flatten(self, r: dict[str, Any]) -> dict[str, Any]:
        out = {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
               for k, v in r.items() if k not in ("labels", "scores")}
        out["labels"] = ";".join(r["labels"])
        out.update({f"score_{lab}": r["scores"][lab] for lab in self.labels})
        return out

    def _write_parquet(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._pq is None:
            table = pa.Table.from_pylist(rows)
            self._pq = pq.ParquetWriter(self.path, table.schema)
        else:
            try:
                table = pa.Table.from_pylist(rows, schema=self._pq.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise InputError(f"{self.path}: rows do not fit the Parquet schema of the first chunk ({exc})") from None
        self._pq.write_table(table)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._fh is not None:
            self._fh.close()
        if self._pq is None and self._fh is None:
            self.path.touch()
