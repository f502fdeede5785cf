"""Parquet output whose passthrough fields drift: widen the schema where that is safe, else reject the row.

Input records do not promise one schema: `id` may be an int in one file and a
string in the next, a field may appear half-way. Parquet needs one schema per
file (and per folder, to read it as one dataset). The rule, the same for both
engines and for every run of the same input, so a resumed run gives the same output:

- a new field widens the schema (earlier rows get null); so do null -> any type,
  int -> float, and new keys inside a nested object (pyarrow's permissive promotion,
  kept only where the old column casts to the new type);
- any other mismatch (say a string where the column so far holds integers) makes the
  record a reject, with the field named in its reason; the run goes on.

"So far" is input order. A worker cannot know what came before its part, so it
only cuts its part into runs of rows that fit one schema; assembly then takes the
runs in input order, widening or, for a field that clashes, rejecting the run's
rows that hold a value there. For top-level fields this judges each row exactly as
a row-by-row pass would, whatever the chunk or block size. Each run carries each
row's file and line in hidden columns, so a row dropped at assembly is reported
where it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from conflictclf.data.records import reject

FILE_COL, LINE_COL = "__conflictclf_file", "__conflictclf_line"  # dropped at assembly


def widen(schema: pa.Schema, other: pa.Schema) -> pa.Schema | None:
    """`schema` widened to also hold `other`, or None where some field cannot widen safely."""
    try:
        merged = pa.unify_schemas([schema, other], promote_options="permissive")
        for f in schema:
            new = merged.field(f.name).type
            if new != f.type:
                pa.array([], type=f.type).cast(new)  # raises where the old column would not cast
    except (pa.ArrowException, KeyError):
        return None
    return merged


def _conflicts(schema: pa.Schema, other: pa.Schema) -> list[str]:
    return [f.name for f in other if f.name in schema.names
            and widen(pa.schema([schema.field(f.name)]), pa.schema([f])) is None]


def _reason(schema: pa.Schema, other: pa.Schema, names: list[str]) -> str:
    name = names[0] if names else "?"
    have = schema.field(name).type if name in schema.names else "?"
    got = other.field(name).type if name in other.names else "?"
    return f"field {name!r} holds {got}, but the Parquet output so far has {have} there"


def rows_to_tables(rows: list[dict[str, Any]], where: list[tuple[str, int]], id_field: str
                   ) -> tuple[list[pa.Table], list[dict[str, Any]]]:
    """One part as runs of rows that fit one schema (each with hidden file/line columns).

    A row that does not fit the run so far starts the next run rather than being judged
    here: only assembly knows the schema of everything before this part. Rows Parquet
    cannot store at all (say a list mixing numbers and text) are rejected at once.
    """
    table = _fast_table(rows)
    if table is not None:
        return [_with_origin(table, where)], []
    runs: list[tuple[list[pa.Schema], list[dict[str, Any]], list[tuple[str, int]]]] = []  # ([schema], rows, where)
    rejects: list[dict[str, Any]] = []
    for row, (f, n) in zip(rows, where):
        try:
            rs = pa.Table.from_pylist([row]).schema
        except pa.ArrowException as exc:
            if not rejects or (rejects[-1]["file"], rejects[-1]["line"]) != (f, n):
                rejects.append(reject(f, n, f"a field Parquet cannot store ({exc})", row.get(id_field)))
            continue
        merged = widen(runs[-1][0][0], rs) if runs else None
        if merged is None:
            runs.append(([rs], [], []))
        else:
            runs[-1][0][0] = merged
        runs[-1][1].append(row)
        runs[-1][2].append((f, n))
    return [_with_origin(pa.Table.from_pylist(rs_, schema=sc[0]), wh) for sc, rs_, wh in runs], rejects


def _with_origin(table: pa.Table, where: list[tuple[str, int]]) -> pa.Table:
    table = table.append_column(FILE_COL, pa.array([f for f, _ in where], pa.string()))
    return table.append_column(LINE_COL, pa.array([n for _, n in where], pa.int64()))


def run_files(part: Path, n: int) -> list[Path]:
    """The files of a part's runs: `part-K-s000.parquet`, `part-K-s001.parquet`... (sorted = input order)."""
    return [part.with_name(f"{part.stem}-s{i:03d}{part.suffix}") for i in range(n)]


def _fast_table(rows: list[dict[str, Any]]) -> pa.Table | None:
    keys = list(rows[0]) if rows else []
    if any(list(r) != keys for r in rows):  # from_pylist would silently drop keys the first row lacks
        return None
    try:
        return pa.Table.from_pylist(rows)
    except pa.ArrowException:
        return None


def assemble(parts: list[Path], write: Callable[[int, pa.Table], None], id_field: str) -> list[dict[str, Any]]:
    """Write every part (in order) in one schema that holds them all; returns the rows rejected here.

    Two passes: schemas first (Parquet footers only), then the data, part by part,
    so memory stays at one part.
    """
    final: pa.Schema | None = None
    dropped: list[list[str]] = []  # per part: columns whose values cannot join the output
    for p in parts:
        s = _visible(pq.read_schema(p))
        merged = s if final is None else widen(final, s)
        bad: list[str] = []
        if merged is None:
            assert final is not None
            bad = _conflicts(final, s)
            merged = widen(final, pa.schema([f for f in s if f.name not in bad]))
            if merged is None:  # no single field to blame: every shared field goes
                bad = [n for n in s.names if n in final.names]
                merged = widen(final, pa.schema([f for f in s if f.name not in bad])) or final
        final = merged
        dropped.append(bad)
    rejects = []
    for i, p in enumerate(parts):
        t = pq.read_table(p)
        files, lines = t.column(FILE_COL).to_pylist(), t.column(LINE_COL).to_pylist()
        t = t.drop_columns([FILE_COL, LINE_COL])
        if dropped[i]:
            assert final is not None
            valid = {c: t.column(c).is_valid().to_pylist() for c in dropped[i]}
            clash = [any(v[j] for v in valid.values()) for j in range(t.num_rows)]
            ids = t.column(id_field).to_pylist() if id_field in t.column_names else [None] * t.num_rows
            for j in (j for j, c in enumerate(clash) if c):
                if not rejects or (rejects[-1]["file"], rejects[-1]["line"]) != (files[j], lines[j]):
                    cols = [c for c in dropped[i] if valid[c][j]]
                    rejects.append(reject(files[j], lines[j], _reason(final, t.schema, cols), ids[j]))
            t = t.filter(pa.array([not c for c in clash])).drop_columns(dropped[i])
        assert final is not None
        write(i, conform(t, final))
    return rejects


def _visible(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f for f in schema if f.name not in (FILE_COL, LINE_COL)])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` in `schema`: missing columns become nulls, narrower ones are cast up."""
    extra = set(table.column_names) - set(schema.names)
    if extra:  # never drop data silently
        raise ValueError(f"columns {sorted(extra)} are not in the output schema")
    cols = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
            for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)
