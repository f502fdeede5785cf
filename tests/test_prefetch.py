"""The local engine reads the next chunk while the current one is classified (`prefetched`)."""

from __future__ import annotations

import threading

import pytest

from conflictclf.model.engines import BatchOptions, run_batch
from conflictclf.model.engines import local
from conflictclf.model.engines.local import prefetched
from tests.conftest import make_jsonl, read_jsonl


def test_the_next_item_is_read_while_the_current_one_is_used():
    second_started = threading.Event()

    def source():
        yield 1
        second_started.set()
        yield 2

    items = prefetched(source())
    assert next(items) == 1
    # the consumer is still "classifying" item 1; the producer must reach item 2 meanwhile
    assert second_started.wait(timeout=10)
    assert list(items) == [2]


def test_a_reading_error_is_raised_in_the_consumer_after_the_good_items():
    def source():
        yield "a"
        raise OSError("disk gone")

    items = prefetched(source())
    assert next(items) == "a"
    with pytest.raises(OSError, match="disk gone"):
        next(items)


def test_a_consumer_that_stops_early_stops_the_producer():
    produced = []

    def source():
        for i in range(1000):
            produced.append(i)
            yield i

    items = prefetched(source(), depth=1)
    assert next(items) == 0
    items.close()  # joins the producer thread
    assert len(produced) <= 3  # it stopped, one or two ahead at most, instead of reading on
    assert not any(t.name == "conflictclf-read" and t.is_alive() for t in threading.enumerate())


def test_batch_reads_through_the_prefetcher_and_keeps_chunk_order(tiny_model, tmp_path, monkeypatch):
    used = []
    real = local.prefetched

    def spy(items, depth=1):
        used.append(depth)
        return real(items, depth)

    monkeypatch.setattr(local, "prefetched", spy)
    src = make_jsonl(tmp_path / "in.jsonl", n=40, bad=False)
    s = run_batch(src, tmp_path / "out.jsonl", tiny_model, BatchOptions(chunk_size=7, backend="torch"))
    assert used == [1] and s.read == 40
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == list(range(40))
