"""Parquet output under schema drift: widen where safe, else reject the row with its reason; never stop."""

import json

import pyarrow.parquet as pq
import pytest

from conflictclf.data.parquet_fit import assemble, rows_to_tables
from conflictclf.model.engines import BatchOptions, run_batch
from tests.conftest import check_drift_output, make_drifting




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
