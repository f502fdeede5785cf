"""`batch --engine ray`: the same classification on a Ray cluster, in committed units.

The driver splits the inputs into units (`data.ranges`: line-aligned byte ranges of
about `block_bytes`, or Parquet row groups) in one streaming pass that also fixes
each unit's first line number, so rejects keep their file and line. A pool of
`--workers` actors (one model each, loaded once) takes units as they come free; a
task streams its unit in chunks, so a worker's memory does not grow with the file
or the block size. Each unit commits its part files and then a done file
(`units.py`), atomically under names fixed by the plan:

- a worker that dies (process killed, node lost) is restarted by Ray and its
  unfinished units are retried on it; a retry overwrites the unit's own parts, so
  no row is doubled or lost;
- a driver that dies leaves the work folder; `--resume` re-plans (one read of the
  inputs), checks the plan matches, and runs only the units without a done file.

OUTPUT is then a folder of the parts (empty ones left out), in unit order (`assemble.py`;
CSV parts all get one header); rejects a folder at OUTPUT.rejects.jsonl. Every node must see the model directory, the inputs
and the output's parent at the same path (shared or object storage).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from conflictclf.data import tabular
from conflictclf.data.ranges import Unit, plan_units
from conflictclf.model.engines.assemble import finish
from conflictclf.model.engines.common import BatchOptions, BatchSummary, open_work, plan_inputs, run_key
from conflictclf.model.engines.rows import check_fields
from conflictclf.model.engines.units import run_unit
from conflictclf.data.errors import ConflictClfError, InputError
from conflictclf.model.paths import default_model_dir

INSTALL_HINT = "the ray engine needs Ray: pip install 'conflictclf[ray]'"
# A lost worker is restarted and its units retried this many times before the job gives up
# (keeping every finished unit for --resume): enough for pre-emptions, not a loop on a unit
# that kills its worker every time.
MAX_RESTARTS = 3
MAX_TASK_RETRIES = 3
IN_FLIGHT = 2  # units queued per actor, so a worker never waits on the driver between units


class _UnitWorker:
    """Ray actor: loads the model once, then runs whole units."""

    def __init__(self, model_dir: str, opts: dict[str, Any], threads: int, work: str, out_fmt: str) -> None:
        import torch

        from conflictclf.model.classifier import EventClassifier

        torch.set_num_threads(threads)
        self.opts = BatchOptions(**opts)
        self.work, self.out_fmt = Path(work), out_fmt
        self.clf = EventClassifier.from_pretrained(model_dir, backend=self.opts.backend, threads=threads)

    def run(self, unit: Unit) -> dict[str, Any]:
        return run_unit(self.clf, unit, self.opts, self.work, self.out_fmt)


def run_batch_ray(input_path: str | Path, output: str | Path, model: str | Path | None = None,
                  opts: BatchOptions | None = None, address: str | None = None,
                  workers: int | None = None, on_progress: Callable[[int, int], None] | None = None
                  ) -> BatchSummary:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    opts = opts or BatchOptions()
    opts.check()
    start = time.time()
    input_path, output = Path(input_path), Path(output)
    fmt = tabular.file_format(output)
    files, _ = plan_inputs(input_path, opts.text_field, count=False)  # the unit plan counts rows
    model_dir = str(Path(model).expanduser().resolve() if model else default_model_dir())
    from conflictclf.model.classifier import EventClassifier

    clf = EventClassifier.from_pretrained(model_dir, backend=opts.backend)  # fail fast, and for the manifest
    check_fields(files, opts, fmt, clf.labels)
    units = plan_units([f.resolve() for f in files], opts.block_bytes)
    total = sum(u["rows"] for u in units)
    if total == 0:
        raise InputError(f"{input_path}: the input holds no records")
    work = output.parent.resolve() / f".{output.name}.parts"
    done = open_work(work, run_key(files, opts, clf, fmt) | {"block_bytes": opts.block_bytes}, opts.resume, units)
    summary = BatchSummary(resumed_chunks=len(done), inputs=[str(f) for f in files])
    for counts in done.values():
        summary.add(counts)
    if on_progress:
        on_progress(summary.read, total)
    todo = [u for u in units if u["k"] not in done]
    n_workers = 0
    if todo:
        n_workers = _run_units(todo, work, model_dir, opts, fmt, address, workers, done, summary,
                               lambda: on_progress(summary.read, total) if on_progress else None)
    extra = {"ray": {"units": len(units), "resumed_units": len(done) - len(todo), "block_bytes": opts.block_bytes,
                     "workers": n_workers,
                     # per unit, in unit order: a worker's memory after it (peak so far, and now)
                     "unit_peak_rss_mb": [done[u["k"]].get("peak_rss_mb") for u in units],
                     "unit_rss_mb": [done[u["k"]].get("rss_mb") for u in units],
                     "unit_worker_pid": [done[u["k"]].get("pid") for u in units]}}
    return finish(work, done, output, clf, opts, summary, start, engine=f"ray ({n_workers} workers)",
                  folder=True, extra=extra)


def _run_units(todo: list[Unit], work: Path, model_dir: str, opts: BatchOptions, fmt: str, address: str | None,
               workers: int | None, done: dict[int, dict[str, Any]], summary: BatchSummary,
               progress: Callable[[], None]) -> int:
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else os.cpu_count(), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = min(workers or max(1, cpus // 2), len(todo))
    threads = max(1, cpus // workers)
    remote = ray.remote(_UnitWorker).options(num_cpus=max(0.1, cpus / workers), max_restarts=MAX_RESTARTS,
                                             max_task_retries=MAX_TASK_RETRIES)
    args = (model_dir, asdict(opts), threads, str(work), fmt)
    actors = [remote.remote(*args) for _ in range(workers)]
    queue = deque(todo)
    inflight: dict[Any, tuple[Any, Unit]] = {}
    load = dict.fromkeys(range(workers), 0)
    try:
        while queue or inflight:
            for i, actor in enumerate(actors):
                while queue and load[i] < IN_FLIGHT:
                    unit = queue.popleft()
                    inflight[actor.run.remote(unit)] = (i, unit)
                    load[i] += 1
            ready, _ = ray.wait(list(inflight), num_returns=1)
            for ref in ready:
                i, unit = inflight.pop(ref)
                load[i] -= 1
                try:
                    counts = ray.get(ref)
                except RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, ConflictClfError):
                        raise InputError(str(cause)) from None
                    raise ConflictClfError(f"{_where(unit)}: {type(cause).__name__}: {cause}; finished units are "
                                           "kept, rerun with --resume after fixing it") from None
                except RayActorError:
                    raise ConflictClfError(f"{_where(unit)}: a Ray worker died {MAX_RESTARTS + 1} times on this "
                                           "unit or job; finished units are kept, rerun with --resume") from None
                done[unit["k"]] = counts
                summary.add(counts)
                progress()
    finally:
        for actor in actors:
            ray.kill(actor)  # free the CPUs now, not when the driver exits
    return workers


def _where(unit: Unit) -> str:
    if unit["fmt"] == "parquet":
        return f"{unit['file']} (row groups {unit['row_groups'][0]}-{unit['row_groups'][-1]})"
    return f"{unit['file']} (bytes {unit['start']}-{unit['end']}, from line {unit['first_line']})"
