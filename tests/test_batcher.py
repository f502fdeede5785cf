"""The micro-batcher under `conflictclf serve`, with a fake batch function that records its calls."""

from __future__ import annotations

import pytest

from conflictclf.data.errors import InputError
from conflictclf.model.batcher import MicroBatcher


def test_batcher_runs_concurrent_submissions_in_fewer_calls():
    sizes: list[int] = []

    def run(items):
        sizes.append(len(items))
        return [x * 10 for x in items]

    batcher = MicroBatcher(run, max_wait_s=0.2, max_size=4)
    try:
        futures = [batcher.submit(i) for i in range(10)]
        assert [f.result(10) for f in futures] == [i * 10 for i in range(10)]
    finally:
        batcher.close()
    # submitted together: batches of at most max_size, each full but the last
    assert sizes == [4, 4, 2]
    assert batcher.stats.submitted == 10 and batcher.stats.calls == 3 and batcher.stats.largest_batch == 4


def test_batcher_errors_go_to_their_callers():
    def run(items):
        if "all" in items:
            raise InputError("the whole batch failed")
        return [ValueError(f"bad {x}") if x == "bad" else x.upper() for x in items]

    batcher = MicroBatcher(run, max_wait_s=0.2, max_size=8)
    try:
        good, bad = batcher.submit("ok"), batcher.submit("bad")
        assert good.result(10) == "OK"
        with pytest.raises(ValueError, match="bad bad"):
            bad.result(10)
        first, second = batcher.submit("x"), batcher.submit("all")
        for f in (first, second):
            with pytest.raises(InputError, match="whole batch"):
                f.result(10)
    finally:
        batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit("late")


def test_batcher_close_answers_what_was_submitted():
    batcher = MicroBatcher(lambda items: [x + 1 for x in items], max_wait_s=5.0, max_size=100)
    futures = [batcher.submit(i) for i in range(3)]
    batcher.close(timeout=10)  # the 5 s wait is cut short: close does not wait for more to arrive
    assert [f.result(0) for f in futures] == [1, 2, 3]


def test_batcher_size_counts_toward_max_size():
    sizes: list[list[int]] = []

    def run(items):
        sizes.append(list(items))
        return items

    batcher = MicroBatcher(run, max_wait_s=0.2, max_size=5, size=lambda x: x)
    try:
        futures = [batcher.submit(x) for x in (3, 3, 1)]
        [f.result(10) for f in futures]
    finally:
        batcher.close()
    assert sizes == [[3, 3], [1]]  # 3 + 3 reaches 5: the batch closes without waiting
