"""Split record files into independent units that tasks read alone: byte ranges, or Parquet row groups.

A JSONL unit starts at a line start; a CSV unit at a record start (a newline outside
quotes: the count of `"` before it is even, which holds for RFC 4180 files, where a
literal quote inside a field is doubled). The planner finds these points and the line
number of each in one streaming pass, so a task numbers its rows (and its rejects)
exactly as the whole-file readers in `tabular` do, without reading anything before
its own range. A unit is about `block_bytes` long; one line longer than that makes
a longer unit, never a split line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conflictclf.data import tabular

SCAN_BYTES = 1 << 20  # the planner's read size; memory for planning stays at this
Unit = dict[str, Any]  # plain JSON, so it can sit in a plan file and travel to Ray tasks


def plan_units(files: list[Path], block_bytes: int) -> list[Unit]:
    """Every unit of every file, numbered `k` in file order (the order outputs are assembled in)."""
    units: list[Unit] = []
    for f in files:
        fmt = tabular.file_format(f)
        units += _plan_parquet(f, block_bytes) if fmt == "parquet" else _plan_text(f, fmt, block_bytes)
    for k, u in enumerate(units):
        u["k"] = k
    return units


def _plan_text(path: Path, fmt: str, block_bytes: int) -> list[Unit]:
    size = path.stat().st_size
    is_csv = fmt == "csv"
    # unit starts as (byte offset, line number); a CSV's first unit starts after its header record
    starts: list[tuple[int, int]] = [] if is_csv else [(0, 1)]
    target = 1 if is_csv else block_bytes
    pos = lines = quotes = 0  # offset of `buf` in the file; newlines and quotes before it
    last = b"\n"
    with path.open("rb") as fh:
        for buf in iter(lambda: fh.read(SCAN_BYTES), b""):
            last = buf[-1:]
            i, counted, nl, q = max(0, target - 1 - pos), 0, lines, quotes
            while i < len(buf):
                j = buf.find(b"\n", i)
                if j < 0:
                    break
                nl += buf.count(b"\n", counted, j)
                if is_csv:
                    q += buf.count(b'"', counted, j)
                counted = j
                if q % 2:  # inside a quoted CSV field: not a record end
                    i = j + 1
                    continue
                boundary = pos + j + 1
                if boundary < size:
                    starts.append((boundary, nl + 2))  # nl newlines before j, one at j; lines count from 1
                target = boundary + block_bytes
                i = max(j + 1, target - 1 - pos)
            lines += buf.count(b"\n")
            quotes += buf.count(b'"') if is_csv else 0
            pos += len(buf)
    header = tabular.fields(path) if is_csv else None
    ends = [s for s, _ in starts[1:]] + [size]
    next_lines = [n for _, n in starts[1:]] + [lines + (last != b"\n") + 1]
    # "rows": the lines in the range, what progress counts against (blank lines and quoted newlines included)
    return [{"file": str(path), "fmt": fmt, "start": s, "end": e, "first_line": n, "header": header, "rows": nn - n}
            for (s, n), e, nn in zip(starts, ends, next_lines)]


def _plan_parquet(path: Path, block_bytes: int) -> list[Unit]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    units: list[Unit] = []
    groups: list[int] = []
    size = rows = first = 0
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        groups.append(g)
        size += rg.total_byte_size
        rows += rg.num_rows
        if size >= block_bytes or g == meta.num_row_groups - 1:
            units.append({"file": str(path), "fmt": "parquet", "row_groups": groups, "first_line": first + 1,
                          "rows": rows})
            first += rows
            groups, size, rows = [], 0, 0
    return units


def read_unit(unit: Unit) -> Iterator[tabular.Row]:
    """The rows of one unit, numbered as the whole-file reader numbers them; reads only the unit."""
    path = Path(unit["file"])
    if unit["fmt"] == "parquet":
        import pyarrow.parquet as pq

        n = unit["first_line"]
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096, row_groups=unit["row_groups"]):
            for rec in batch.to_pylist():
                yield n, rec, None
                n += 1
        return
    with path.open("rb") as fh:
        fh.seek(unit["start"])
        lines = _lines_until(fh, unit["end"])
        if unit["fmt"] == "jsonl":
            yield from tabular.parse_jsonl_lines(lines, unit["first_line"])
        else:
            text = (raw.decode("utf-8") for raw in lines)
            yield from tabular.parse_csv_lines(text, path, unit["header"], unit["first_line"])


def _lines_until(fh, end: int) -> Iterator[bytes]:
    pos = fh.tell()
    while pos < end:
        raw = fh.readline()
        if not raw:
            return
        pos += len(raw)
        yield raw
