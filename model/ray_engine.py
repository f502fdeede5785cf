"""`batch --engine ray`: the same classification on a Ray cluster, in committed units.

The driver splits the inputs into units (`data.ranges`: line-aligned byte ranges of
about `block_bytes`, or Parquet row groups) in one streaming pass that also fixes
each unit's first line number, so rejects keep their file and line. A pool of
`--workers` actors (one model each, loaded once) takes units as they come free; a
task streams its unit in chunks, so a worker's memory does not grow with the file
or the block size. Each unit commits its part files and then a done file
(`model.units`), atomically under names fixed by the plan:

- a worker that dies (process killed, node lost) is restarted by Ray and its
  unfinished units are retried on it; a retry overwrites the unit's own parts, so
  no row is doubled or lost;
- a driver that dies leaves the work folder; `--resume` re-plans (one read of the
  inputs), checks the plan matches, and runs only the units without a done file.

OUTPUT is then a folder of the parts (empty ones left out), in unit order; rejects a
folder at OUTPUT.rejects.jsonl. Every node must see the model directory, the inputs
and the output's parent at the same path (shared or object storage).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from conflictclf.data import parquet_fit, tabular
from conflictclf.data.files import atomic_write_text
from conflictclf.data.ranges import Unit, plan_units
from conflictclf.model.batch import (
    BatchOptions,
    BatchSummary,
    jsonl_text,
    plan_inputs,
    rejects_path,
    write_manifest,
)
from conflictclf.model.errors import ConflictClfError, InputError
from conflictclf.model.paths import default_model_dir
from conflictclf.model.units import COUNTS, done_name, open_work, part_name, rejects_name, run_unit

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
    start = time.time()
    input_path, output = Path(input_path), Path(output)
    fmt = tabular.file_format(output)
    if fmt == "csv":
        raise InputError(f"{output}: the ray engine writes .jsonl or .parquet output")
    files, _ = plan_inputs(input_path, opts.text_field, count=False)  # the unit plan counts rows
    model_dir = str(Path(model).expanduser().resolve() if model else default_model_dir())
    from conflictclf.model.classifier import EventClassifier

    clf = EventClassifier.from_pretrained(model_dir, backend=opts.backend)  # fail fast, and for the manifest
    units = plan_units([f.resolve() for f in files], opts.block_bytes)
    total = sum(u["rows"] for u in units)
    if total == 0:
        raise InputError(f"{input_path}: the input holds no records")
    work = output.parent.resolve() / f".{output.name}.parts"
    done = open_work(work, _run_key(files, opts, model_dir, fmt), units, opts.resume)
    summary = BatchSummary(resumed_chunks=len(done), inputs=[str(f) for f in files])
    for counts in done.values():
        _add(summary, counts)
    if on_progress:
        on_progress(summary.read, total)
    todo = [u for u in units if u["k"] not in done]
    n_workers = 0
    if todo:
        n_workers = _run_units(todo, work, model_dir, opts, fmt, address, workers, done, summary,
                               lambda: on_progress(summary.read, total) if on_progress else None)
    late = _assemble(work, units, done, output, fmt, opts.id_field)
    summary.rejected += len(late[0])
    summary.classified -= len(late[0])
    summary.output_rows -= late[1]
    summary.output, summary.rejects = str(output), str(rejects_path(output))
    summary.seconds = time.time() - start
    extra = {"ray": {"units": len(units), "resumed_units": len(done) - len(todo), "block_bytes": opts.block_bytes,
                     # per unit, in unit order: a worker's memory after it (peak so far, and now)
                     "unit_peak_rss_mb": [done[u["k"]].get("peak_rss_mb") for u in units],
                     "unit_rss_mb": [done[u["k"]].get("rss_mb") for u in units],
                     "unit_worker_pid": [done[u["k"]].get("pid") for u in units]}}
    summary.manifest = str(write_manifest(output, clf, opts, summary, engine=f"ray ({n_workers} workers)",
                                          extra=extra))
    shutil.rmtree(work, ignore_errors=True)
    return summary


def _run_key(files: list[Path], opts: BatchOptions, model_dir: str, fmt: str) -> dict[str, Any]:
    """What must not change between a run and its resume."""
    return {"inputs": [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files],
            "block_bytes": opts.block_bytes, "chunk_size": opts.chunk_size, "text_field": opts.text_field,
            "id_field": opts.id_field, "segment": opts.segment, "threshold": opts.threshold,
            "model": model_dir, "backend": opts.backend, "output_format": fmt}


def _add(summary: BatchSummary, counts: dict[str, Any]) -> None:
    for c in COUNTS:
        setattr(summary, c, getattr(summary, c) + counts[c])


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
                _add(summary, counts)
                progress()
    finally:
        for actor in actors:
            ray.kill(actor)  # free the CPUs now, not when the driver exits
    return workers


def _where(unit: Unit) -> str:
    if unit["fmt"] == "parquet":
        return f"{unit['file']} (row groups {unit['row_groups'][0]}-{unit['row_groups'][-1]})"
    return f"{unit['file']} (bytes {unit['start']}-{unit['end']}, from line {unit['first_line']})"


def _assemble(work: Path, units: list[Unit], done: dict[int, dict[str, Any]], output: Path, fmt: str,
              id_field: str) -> tuple[list[dict[str, Any]], int]:
    """Parts -> OUTPUT folder in unit order, renamed into place whole; returns (late rejects, rows dropped)."""
    parts = [work / part_name(u["k"], j, fmt) for u in units for j in range(done[u["k"]]["parts"])]
    if fmt == "parquet":  # each part is one file per run of rows with one schema
        parts = sorted(work.glob("part-*.parquet"))
    out_tmp = _fresh(output.with_name(f".{output.name}.tmp"))
    late: list[dict[str, Any]] = []
    dropped = 0
    if fmt == "parquet":
        import pyarrow.parquet as pq

        def sink(i: int, table: Any) -> None:
            if table.num_rows:
                pq.write_table(table, out_tmp / parts[i].name)

        late = parquet_fit.assemble(parts, sink, id_field)
        dropped = sum(pq.read_metadata(p).num_rows for p in parts) - sum(
            pq.read_metadata(p).num_rows for p in out_tmp.iterdir())
    else:
        for p in parts:
            if p.stat().st_size:
                _link(p, out_tmp / p.name)
    rej_tmp = _fresh(output.with_name(f".{output.name}.rejects.tmp"))
    for u in units:
        for j in range(done[u["k"]]["parts"]):
            p = work / rejects_name(u["k"], j)
            if p.stat().st_size:
                _link(p, rej_tmp / p.name)
    if late:
        atomic_write_text(rej_tmp / "rejects-schema.jsonl", jsonl_text(late))
    _replace(out_tmp, output)
    _replace(rej_tmp, rejects_path(output))
    assert all((work / done_name(u["k"])).exists() for u in units)
    return late, dropped


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _link(src: Path, dst: Path) -> None:
    """Hard link where the file system allows (no copy of archive-sized output), else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _replace(tmp: Path, target: Path) -> None:
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    os.replace(tmp, target)
