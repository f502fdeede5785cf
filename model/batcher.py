"""A micro-batcher: requests that arrive within a few milliseconds of each other run as one call.

A model's forward pass over 32 sentences costs little more than over one, so a service
that ran each request on its own would spend most of its time on passes that are nearly
empty. One worker thread takes the first waiting request, keeps collecting for at most
`max_wait_s` (or until `max_size` is reached), and hands the whole batch to `run`. While
`run` works, new requests queue up, so under load the next batch is full at once and
the wait costs nothing; a lone request waits `max_wait_s` at most.

Everything `run` does happens on that one thread: the model is never called from two
threads at once, and the caller's event loop (or threads) only wait on futures.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_CLOSE = object()  # the sentinel that ends the worker, queued behind everything submitted before it


@dataclass
class BatcherStats:
    """What the batcher has done so far: how many submissions, in how many calls of `run`."""

    submitted: int = 0
    calls: int = 0
    largest_batch: int = 0  # submissions in the largest single call


class MicroBatcher(Generic[T, R]):
    """Collects submissions for up to `max_wait_s` and runs them together.

    `run(items)` returns one result per item, in order; a result that is an exception is
    raised to that item's caller alone (one bad request does not fail its batch-mates).
    If `run` itself raises, every item of the batch gets that exception.
    `size(item)` is what an item counts toward `max_size` (default 1).
    """

    def __init__(self, run: Callable[[list[T]], Sequence[R | BaseException]], max_wait_s: float, max_size: int,
                 size: Callable[[T], int] | None = None, name: str = "conflictclf-batcher") -> None:
        if max_wait_s < 0 or max_size < 1:
            raise ValueError(f"max_wait_s must be >= 0 and max_size >= 1 (got {max_wait_s}, {max_size})")
        self._run, self.max_wait_s, self.max_size = run, max_wait_s, max_size
        self._size = size or (lambda _item: 1)
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self.stats = BatcherStats()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> Future[R]:
        """Queue `item`; the future holds its result once its batch has run."""
        fut: Future[R] = Future()
        with self._lock:  # a submission never lands behind the close sentinel
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self.stats.submitted += 1
            self._queue.put((item, fut))
        return fut

    def close(self, timeout: float | None = None) -> None:
        """Run what was submitted so far, then stop the worker."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_CLOSE)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _CLOSE:
                return
            batch, closing = self._collect(first)
            self._call(batch)
            if closing:
                return

    def _collect(self, first: tuple[T, Future]) -> tuple[list[tuple[T, Future]], bool]:
        """`first` and whatever else arrives before its deadline, up to `max_size`."""
        batch, filled = [first], self._size(first[0])
        deadline = time.monotonic() + self.max_wait_s
        while filled < self.max_size:
            try:
                nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if nxt is _CLOSE:
                return batch, True
            batch.append(nxt)
            filled += self._size(nxt[0])
        return batch, False

    def _call(self, batch: list[tuple[T, Future]]) -> None:
        # a caller that gave up (a cancelled future) is not worth a forward pass
        live = [(item, fut) for item, fut in batch if fut.set_running_or_notify_cancel()]
        if not live:
            return
        self.stats.calls += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(live))
        try:
            results = list(self._run([item for item, _ in live]))
            if len(results) != len(live):
                raise RuntimeError(f"batch function returned {len(results)} results for {len(live)} items")
        except BaseException as exc:  # noqa: BLE001 - handed to the callers, who re-raise it
            for _, fut in live:
                fut.set_exception(exc)
            return
        for (_, fut), res in zip(live, results):
            if isinstance(res, BaseException):
                fut.set_exception(res)
            else:
                fut.set_result(res)
