"""Byte-range and row-group units read, together, exactly the rows of the whole-file readers."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conflictclf.data import tabular
from conflictclf.data.ranges import plan_units, read_unit


def whole_and_units(path, block):
    units = plan_units([path], block)
    if path.suffix == ".parquet":
        lines = tabular.count_rows(path)
    else:  # every line, a last one without newline too, less a CSV header
        data = path.read_bytes()
        lines = data.count(b"\n") + (not data.endswith(b"\n")) - (path.suffix == ".csv")
    assert sum(u["rows"] for u in units) == lines  # what progress counts against
    return list(tabular.read_rows(path)), [row for u in units for row in read_unit(u)], units


@pytest.mark.parametrize("block", [1, 7, 64, 1000, 10**6])
def test_jsonl_ranges_keep_rows_and_line_numbers(tmp_path, block):
    lines = [json.dumps({"id": i, "text": "x" * (i % 13)}) for i in range(200)]
    lines[17], lines[150] = '{"id": 17, "text": ', "[1, 2]"  # a broken line in some middle range
    lines[90] = ""                                              # blank lines are skipped, still counted
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines))                            # no newline at the end
    whole, parts, units = whole_and_units(src, block)
    assert parts == whole and len(whole) == 199
    assert whole[17] == (18, None, "invalid JSON (Expecting value)")  # line 18, rejected with its reason
    assert whole[149] == (151, None, "not a JSON object")  # the array, after the skipped blank line 91
    assert len(units) == 1 if block == 10**6 else len(units) > 3
    assert all(u["end"] - u["start"] <= block + 40 for u in units)  # a unit is a block plus one line at most


@pytest.mark.parametrize("block", [1, 30, 10**6])
def test_csv_ranges_respect_quoted_newlines(tmp_path, block):
    src = tmp_path / "in.csv"
    rows = ["id,text"] + [f'{i},"line one\nline ""two"" of {i}"' if i % 3 == 0 else f"{i},plain {i}" for i in range(40)]
    rows[20] = '19,a,b'                                          # more cells than header columns
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    whole, parts, units = whole_and_units(src, block)
    assert parts == whole and len(whole) == 40
    assert whole[0] == (3, {"id": "0", "text": 'line one\nline "two" of 0'}, None)  # numbered by physical line
    assert [r for r in whole if r[1] is None][0][2] == "more cells than header columns"
    assert block > 100 or len(units) > 10


def test_parquet_units_are_row_groups(tmp_path):
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": list(range(100)), "text": [f"t{i}" for i in range(100)]}), src, row_group_size=10)
    whole, parts, units = whole_and_units(src, 1)
    assert parts == whole and len(units) == 10 and units[3]["first_line"] == 31


@pytest.mark.parametrize("text, n", [("4096", 4096), ("512K", 512 << 10), ("32M", 32 << 20), ("1GiB", 1 << 30),
                                     ("0.5m", 1 << 19)])
def test_block_size_option(text, n):
    from conflictclf.cli.batch import _bytes

    assert _bytes(text) == n


@pytest.mark.parametrize("text", ["", "0", "-1K", "lots"])
def test_block_size_option_rejects_nonsense(text):
    from conflictclf.cli.batch import _bytes
    from conflictclf.data.errors import InputError

    with pytest.raises(InputError, match="--block-size"):
        _bytes(text)
