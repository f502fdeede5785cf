"""`batch`: classify record files far larger than memory, resumably, accounting for every row.

Work goes chunk by chunk into a hidden parts folder next to OUTPUT; each chunk is one
unit (`units.py`): its parts are renamed into place and then its done file written, so a
killed run resumes at the first unfinished chunk. Only a complete run is assembled under
the final name (written to a temporary name, then renamed).

The next chunk is read and parsed in a background thread while the current one is
tokenized and classified (`prefetched`): the backends run outside the GIL (ONNX Runtime,
torch, and the Rust tokenizer release it), so reading costs almost no wall time.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from conflictclf.data import tabular
from conflictclf.data.errors import InputError
from conflictclf.data.files import ensure_output_folder
from conflictclf.data.records import reject
from conflictclf.model.classifier import EventClassifier
from conflictclf.model.engines.assemble import finish
from conflictclf.model.engines.common import (
    BatchOptions,
    BatchSummary,
    commit_unit,
    new_counts,
    open_work,
    plan_inputs,
    run_key,
)
from conflictclf.model.engines.rows import Row, check_fields
from conflictclf.model.engines.units import flush

T = TypeVar("T")
_END = object()  # the producer's last item: the source is exhausted


def prefetched(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """`items`, produced up to `depth` ahead in a background thread.

    An error in the producer is raised here, at the item it replaces. A consumer that stops
    early (an error while classifying) stops the producer at its next item, so no thread
    is left reading a large file.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((_END, exc))

    thread = threading.Thread(target=produce, name="conflictclf-read", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = ready.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def iter_chunks(files: list[Path], size: int) -> Iterator[tuple[list[Row], list[dict]]]:
    """Chunks of `size` input rows (good and bad together, so chunk k is the same on every run)."""
    good: list[Row] = []
    bad: list[dict] = []
    for f in files:
        for n, rec, reason in tabular.read_rows(f):
            if rec is None:
                bad.append(reject(str(f), n, reason or "unreadable row"))
            else:
                good.append((str(f), n, rec))
            if len(good) + len(bad) >= size:
                yield good, bad
                good, bad = [], []
    if good or bad:
        yield good, bad


def run_batch(input_path: str | Path, output: str | Path, model: str | Path | None = None,
              opts: BatchOptions | None = None, on_progress: Callable[[int, int], None] | None = None) -> BatchSummary:
    """Classify every row of INPUT into OUTPUT (+ OUTPUT.rejects.jsonl and OUTPUT.manifest.json)."""
    opts = opts or BatchOptions()
    opts.check()
    if opts.gpus_per_worker:
        raise InputError("--gpus-per-worker is for --engine ray; the local engine's `auto` uses a visible GPU "
                         "by itself")
    start = time.time()
    input_path, output = Path(input_path), Path(output)
    out_fmt = tabular.file_format(output)
    files, total = plan_inputs(input_path, opts.text_field)
    clf = EventClassifier.from_pretrained(model, backend=opts.backend, threads=opts.threads)
    if opts.roles:
        from conflictclf.model.events.tagger import cached_tagger

        cached_tagger(clf.path)  # a model without a role tagger fails here, before any output
    check_fields(files, opts, out_fmt, clf.labels)
    ensure_output_folder(output)
    work = output.parent / f".{output.name}.parts"
    done = open_work(work, run_key(files, opts, clf, out_fmt), opts.resume)
    summary = BatchSummary(resumed_chunks=len(done), inputs=[str(f) for f in files])
    for counts in done.values():
        summary.add(counts)
    if on_progress:
        on_progress(summary.read, total)
    for k, (good, bad) in enumerate(prefetched(iter_chunks(files, opts.chunk_size))):
        if k in done:
            continue  # finished before the interruption
        counts = new_counts()
        flush(clf, k, good, bad, opts, work, out_fmt, counts)
        commit_unit(work, k, counts)
        done[k] = counts
        summary.add(counts)
        if on_progress:
            on_progress(summary.read, total)
    return finish(work, done, output, clf, opts, summary, start, engine="local", folder=False)
