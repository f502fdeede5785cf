"""Parquet output under schema drift: widen where safe, else reject the row with its reason; never stop."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conflictclf.data.parquet_fit import assemble, rows_to_tables
from conflictclf.model.engines import BatchOptions, run_batch


def make_drifting(path, n=60):
    """Records whose passthrough fields change type and grow as the file goes on."""
    lines = []
    for i in range(n):
        rec = {"id": i, "text": f"army shelled the village {i % 10}"}
        if 20 <= i < 30 or i == 35:
            rec["id"] = f"s{i}"              # string where the output so far has integers: reject
        if i >= 40:
            rec["source"] = "wire"            # a new field: widens, earlier rows get null
        if i == 45:
            rec["source"] = 5                 # int where the column holds strings: reject
        if i == 50:
            rec["meta"] = {"k": 1.5}          # a new nested field: widens
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    return path


EXPECTED_REJECT_LINES = [*range(21, 31), 36, 46]


def check_drift_output(table, rejects, n=60):
    ids = table.column("id").to_pylist()
    assert sorted(ids) == sorted(set(range(n)) - {x - 1 for x in EXPECTED_REJECT_LINES})
    assert sorted(r["line"] for r in rejects) == EXPECTED_REJECT_LINES          # each exactly once
    by_line = {r["line"]: r["reason"] for r in rejects}
    assert "field 'id' holds string" in by_line[21] and "int64" in by_line[21]
    assert "field 'source' holds int64" in by_line[46]
    assert table.schema.field("id").type == pa.int64() and table.schema.field("source").type == pa.string()
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows[0]["source"] is None and rows[41]["source"] == "wire" and rows[50]["meta"] == {"k": 1.5}
    assert not any(c.startswith("__") for c in table.column_names)


@pytest.mark.parametrize("chunk_size", [7, 1000])
def test_local_engine_parquet_schema_drift(tiny_model, tmp_path, chunk_size):
    src = make_drifting(tmp_path / "in.jsonl")
    out = tmp_path / "out.parquet"
    s = run_batch(src, out, tiny_model, BatchOptions(backend="torch", chunk_size=chunk_size))
    rejects = [json.loads(x) for x in (tmp_path / "out.parquet.rejects.jsonl").read_text().splitlines()]
    check_drift_output(pq.read_table(out), rejects)
    assert (s.read, s.rejected, s.classified, s.output_rows) == (60, 12, 48, 48)


def test_runs_split_where_rows_stop_fitting_and_assembly_judges_in_order(tmp_path):
    rows = [{"id": "a"}, {"id": 1}, {"id": 2, "x": None}, {"id": 3, "x": [1, "b"]}]
    where = [("f", n) for n in range(1, 5)]
    tables, rejects = rows_to_tables(rows, where, "id")
    assert [t.num_rows for t in tables] == [1, 2] and [r["line"] for r in rejects] == [4]
    parts = []
    for i, t in enumerate(tables):
        parts.append(tmp_path / f"p{i}.parquet")
        pq.write_table(t, parts[-1])
    written = []
    late = assemble(parts, lambda i, t: written.append(t), "id")
    assert [t.column("id").to_pylist() for t in written] == [["a"], []]  # the first row set id to string
    assert [(r["line"], r["id"]) for r in late] == [(2, 1), (3, 2)]
    assert all(t.schema == written[0].schema for t in written)
