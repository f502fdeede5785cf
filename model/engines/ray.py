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

GPUs: with `--gpus-per-worker G` each actor asks Ray for G GPUs (0.5: two actors share a
card) and runs `auto` there, which picks torch on its GPU in bf16 or fp16 by the card; each
unit's done file says which ran, and the manifest names them. Without, the actors run the
CPU backend the driver resolves, even on GPU nodes: Ray gave them no GPU.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from conflictclf.data import tabular
from conflictclf.data.ranges import Unit, plan_units
from conflictclf.model.backends import BACKENDS, resolve_backend
from conflictclf.model.engines.assemble import finish
from conflictclf.model.engines.common import BatchOptions, BatchSummary, open_work, plan_inputs, run_key
from conflictclf.model.engines.rows import check_fields
from conflictclf.model.engines.units import run_unit
from conflictclf.data.errors import ConflictClfError, InputError, ModelError
from conflictclf.data.files import ensure_output_folder
from conflictclf.model.modeldir import read_meta
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
        # A load error is raised by run(), which the driver reports as one line; raised here, it
        # would only say that the actor died.
        self.problem: str | None = None
        try:
            self.clf = EventClassifier.from_pretrained(model_dir, backend=self.opts.backend, threads=threads)
        except ConflictClfError as exc:
            self.problem = str(exc)
            return
        if self.opts.gpus_per_worker and not self.clf.backend.name.startswith("cuda-"):
            self.problem = (f"a worker given {self.opts.gpus_per_worker:g} GPU by Ray would run {self.clf.backend.name} "
                            "on its CPU: torch sees no CUDA GPU there (a CUDA build of torch is needed on GPU nodes)")

    def run(self, unit: Unit) -> dict[str, Any]:
        if self.problem:
            raise ModelError(self.problem)
        return run_unit(self.clf, unit, self.opts, self.work, self.out_fmt)


def backends_for(opts: BatchOptions, model_dir: Path) -> tuple[str, str]:
    """(the driver's backend, the workers') for a Ray run.

    Without GPUs per worker both are `opts.backend` as resolved for the CPU, even where the
    driver or the nodes have GPUs: Ray gives the workers none. With GPUs, the workers resolve
    `auto` on their own card (bf16 or fp16); the driver, which may have no GPU, loads the
    model on the CPU only for its labels and an early check of the directory.
    """
    if opts.backend not in BACKENDS:
        return opts.backend, opts.backend  # from_pretrained refuses it, naming the choices
    gpus = opts.gpus_per_worker
    cpu_choice = resolve_backend("auto" if gpus else opts.backend, model_dir, read_meta(model_dir), gpu=False)
    if not gpus and cpu_choice.startswith("cuda-"):
        raise InputError(f"--backend {cpu_choice} runs on a GPU: give --gpus-per-worker (1, or 0.5 to share a card)")
    if gpus and opts.backend != "auto" and not opts.backend.startswith("cuda-"):
        raise InputError(f"--gpus-per-worker {gpus:g} with --backend {opts.backend}, which runs on the CPU: "
                         "use auto or a cuda- backend")
    return cpu_choice, (opts.backend if gpus else cpu_choice)


def plan_workers(requested: int | None, cpus: int, gpus: float, gpus_per_worker: float, units: int) -> int:
    """How many actors: as asked, by default one per two CPUs or, with GPUs per worker, as many
    as the cluster's GPUs hold; never more than there are units. More GPU workers than the GPUs
    hold is refused: an actor Ray cannot place would keep its queued units forever."""
    if not gpus_per_worker:
        return max(1, min(requested or max(1, cpus // 2), units))
    room = int(gpus / gpus_per_worker + 1e-9)  # 1 / 0.1 is 9.999...
    if room < 1 or (requested or 0) > room:
        asked = f"--workers {requested} with " if requested else ""
        raise InputError(f"{asked}--gpus-per-worker {gpus_per_worker:g}: the Ray cluster has {gpus:g} GPUs "
                         f"(room for {room} such workers)")
    return max(1, min(requested or room, units))


def actor_options(cpus: int, workers: int, gpus_per_worker: float) -> dict[str, Any]:
    """Ray resources and fault tolerance of each worker actor: the CPUs shared out, its GPUs."""
    return {"num_cpus": max(0.1, cpus / workers), "num_gpus": gpus_per_worker, "max_restarts": MAX_RESTARTS,
            "max_task_retries": MAX_TASK_RETRIES}


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

    driver_backend, worker_backend = backends_for(opts, Path(model_dir))
    clf = EventClassifier.from_pretrained(model_dir, backend=driver_backend)  # fail fast, and for the manifest
    if opts.roles:
        from conflictclf.model.events.tagger import has_roles

        if not has_roles(Path(model_dir)):
            raise InputError(f"{model_dir}: this model has no role tagger, so --roles cannot run")
    check_fields(files, opts, fmt, clf.labels)
    units = plan_units([f.resolve() for f in files], opts.block_bytes)
    total = sum(u["rows"] for u in units)
    if total == 0:
        raise InputError(f"{input_path}: the input holds no records")
    if opts.gpus_per_worker:  # refuse a cluster without room for one GPU worker before writing anything
        plan_workers(workers, 1, float(_connect(address).get("GPU", 0)), opts.gpus_per_worker, len(units))
    ensure_output_folder(output)
    work = output.parent.resolve() / f".{output.name}.parts"
    key = run_key(files, opts, clf, fmt) | {"block_bytes": opts.block_bytes}
    if opts.gpus_per_worker:  # what the workers' cards pick is known only once they run
        key["backend"] = f"{opts.backend} on workers with {opts.gpus_per_worker:g} GPU"
    done = open_work(work, key, opts.resume, units)
    summary = BatchSummary(resumed_chunks=len(done), inputs=[str(f) for f in files])
    for counts in done.values():
        summary.add(counts)
    if on_progress:
        on_progress(summary.read, total)
    todo = [u for u in units if u["k"] not in done]
    n_workers = 0
    if todo:
        n_workers = _run_units(todo, work, model_dir, replace(opts, backend=worker_backend), fmt, address, workers,
                               done, summary,
                               lambda: on_progress(summary.read, total) if on_progress else None)
    extra = {"ray": {"units": len(units), "resumed_units": len(done) - len(todo), "block_bytes": opts.block_bytes,
                     "workers": n_workers,
                     # per unit, in unit order: a worker's memory after it (peak so far, and now)
                     "unit_peak_rss_mb": [done[u["k"]].get("peak_rss_mb") for u in units],
                     "unit_rss_mb": [done[u["k"]].get("rss_mb") for u in units],
                     "unit_worker_pid": [done[u["k"]].get("pid") for u in units]}}
    ran = sorted({c["backend"] for c in done.values() if c.get("backend")})  # older done files lack it
    return finish(work, done, output, clf, opts, summary, start, engine=f"ray ({n_workers} workers)",
                  folder=True, extra=extra, backend=", ".join(ran) or None)


def _run_units(todo: list[Unit], work: Path, model_dir: str, opts: BatchOptions, fmt: str, address: str | None,
               workers: int | None, done: dict[int, dict[str, Any]], summary: BatchSummary,
               progress: Callable[[], None]) -> int:
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    resources = _connect(address)
    cpus = int(resources.get("CPU", 1))
    workers = plan_workers(workers, cpus, float(resources.get("GPU", 0)), opts.gpus_per_worker, len(todo))
    threads = max(1, cpus // workers)
    remote = ray.remote(_UnitWorker).options(**actor_options(cpus, workers, opts.gpus_per_worker))
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


def _connect(address: str | None) -> dict[str, float]:
    """Join the cluster at `address`, or start a local Ray, once; the cluster's resources."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else os.cpu_count(), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    return ray.cluster_resources()


def _where(unit: Unit) -> str:
    if unit["fmt"] == "parquet":
        return f"{unit['file']} (row groups {unit['row_groups'][0]}-{unit['row_groups'][-1]})"
    return f"{unit['file']} (bytes {unit['start']}-{unit['end']}, from line {unit['first_line']})"
