import json

import pytest

from conflictclf.data.corpus import by_split, fingerprint, label_set, load_records
from conflictclf.data.errors import DataError


def write(tmp_path, lines, name="d.jsonl"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def rec(i, text="Rebels shelled the town.", labels=("attack",), **kw):
    return json.dumps({"id": str(i), "text": text, "labels": list(labels), **kw})


@pytest.mark.parametrize("line, reason", [
    ("{not json", "invalid JSON"),
    ('["a list"]', "expected a JSON object"),
    ('{"id": "1", "labels": []}', "missing field(s) text"),
    ('{"id": "1", "text": "   ", "labels": []}', "empty or whitespace-only text"),
    ('{"id": "1", "text": "x", "labels": "attack"}', "'labels' must be a list"),
    ('{"id": "1", "text": "x", "labels": [], "split": "valid"}', "unknown split 'valid'"),
])
def test_bad_line_reports_file_and_line(tmp_path, line, reason):
    p = write(tmp_path, [rec(0), line])
    with pytest.raises(DataError) as exc:
        load_records([p])
    assert str(exc.value).startswith(f"{p}:2: ")
    assert reason in str(exc.value)


def test_duplicate_ids(tmp_path):
    p = write(tmp_path, [rec(1), rec(1, "Another sentence.")])
    with pytest.raises(DataError, match="duplicate id '1'"):
        load_records([p])


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_records([tmp_path / "nope.jsonl"])
    with pytest.raises(DataError, match="holds no .jsonl"):
        load_records([tmp_path])


def test_unsplit_records_are_assigned_by_doc(tmp_path):
    p = write(tmp_path, [rec(i, f"Sentence {i}.", doc=f"d{i % 7}") for i in range(200)])
    records = load_records([p])
    groups = by_split(records)
    assert sum(map(len, groups.values())) == 200
    for split in groups.values():  # a doc never straddles splits
        docs = {r.doc for r in split}
        assert not any(docs & {r.doc for r in other} for other in groups.values() if other is not split)


def test_label_set_and_fingerprint(tmp_path):
    p = write(tmp_path, [rec(1, labels=("threat",)), rec(2, "Other.", labels=("attack", "claim"))])
    records = load_records([p])
    assert label_set(records) == ["attack", "claim", "threat"]
    assert fingerprint(records) == fingerprint(list(reversed(records)))


def test_bundled_corpus_loads():
    records = load_records()
    assert len(records) > 2500
    assert set(label_set(records)) == {"attack", "retaliation", "claim", "threat"}
