"""`batch --engine ray`: the same classification on a Ray cluster, through Ray Data.

Files are read with Ray's `read_binary_files` and parsed by the project's own
readers inside the tasks, rather than with `read_json`/`read_csv`: those fail the
whole job on one malformed line, and the local engine's contract is that a bad row
becomes a reject with its file and line. Classification runs in an actor pool
(`--workers` actors, one model each, loaded once per actor); the output is written
with Ray's writers as a folder of part files at OUTPUT. Every node must see the
model directory and the input paths at the same path (shared or object storage).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from conflictclf.data import tabular
from conflictclf.model.batch import (
    BatchOptions,
    BatchSummary,
    classify_rows,
    plan_inputs,
    reject,
    rejects_path,
    write_manifest,
)
from conflictclf.model.errors import InputError
from conflictclf.model.paths import default_model_dir

IO_CPUS = 0  # reading and parsing files is light next to the model; zero keeps them schedulable
BLOCK_BYTES = 1 << 20
INSTALL_HINT = "the ray engine needs Ray: pip install 'conflictclf[ray]'"


def _parse_file(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One input file (bytes) -> one row per record, as JSON text so blocks share one schema."""
    path = Path(row["path"])
    with tempfile.NamedTemporaryFile(suffix=path.suffix) as tmp:
        tmp.write(row["bytes"])
        tmp.flush()
        out = []
        for n, rec, reason in tabular.read_rows(Path(tmp.name)):
            out.append({"file": row["path"], "line": n, "record": None if rec is None else json.dumps(rec, default=str),
                        "reason": reason})
    return out


class _Classifier:
    """Ray actor: loads the model once, then classifies batches of parsed rows."""

    def __init__(self, model_dir: str, opts: dict[str, Any], threads: int) -> None:
        import torch

        from conflictclf.model.classifier import EventClassifier

        torch.set_num_threads(threads)
        self.opts = BatchOptions(**opts)
        self.clf = EventClassifier.from_pretrained(model_dir, backend=self.opts.backend, threads=threads)

    def __call__(self, batch):
        import pandas as pd

        good, kinds, payloads = [], [], []
        for f, n, rec, reason in zip(batch["file"], batch["line"], batch["record"], batch["reason"]):
            if not isinstance(rec, str):  # None arrives as a pandas NA
                kinds.append("reject")
                payloads.append(json.dumps(reject(f, int(n), reason if isinstance(reason, str) else "unreadable row")))
            else:
                good.append((f, int(n), json.loads(rec)))
        rows, rejects, _ = classify_rows(self.clf, good, self.opts)
        # one "read" row per batch carries its input count, so the driver need not re-read the inputs
        kinds += ["read"] + ["row"] * len(rows) + ["reject"] * len(rejects)
        payloads.append(str(len(batch["file"])))
        payloads += [json.dumps(r, ensure_ascii=False, default=str) for r in rows]
        payloads += [json.dumps(r, default=str) for r in rejects]
        return pd.DataFrame({"kind": kinds, "payload": payloads})


def _expand(batch):
    import pandas as pd

    return pd.DataFrame([json.loads(p) for p in batch["payload"]])


def _write_folder(ds, n_rows: int, target: Path, fmt: str) -> None:
    """Ray writes a folder of part files; write it under a temporary name and rename when complete."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if n_rows:
        expanded = ds.map_batches(_expand, batch_format="pandas")
        (expanded.write_parquet if fmt == "parquet" else expanded.write_json)(str(tmp))
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    os.replace(tmp, target)


def run_batch_ray(input_path: str | Path, output: str | Path, model: str | Path | None = None,
                  opts: BatchOptions | None = None, address: str | None = None,
                  workers: int | None = None) -> BatchSummary:
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    opts = opts or BatchOptions()
    start = time.time()
    input_path, output = Path(input_path), Path(output)
    fmt = tabular.file_format(output)
    if fmt == "csv":
        raise InputError(f"{output}: the ray engine writes .jsonl or .parquet output")
    files, _ = plan_inputs(input_path, opts.text_field)
    model_dir = str(Path(model).expanduser().resolve() if model else default_model_dir())
    from conflictclf.model.classifier import EventClassifier

    clf = EventClassifier.from_pretrained(model_dir, backend=opts.backend)  # fail fast, and for the manifest

    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else os.cpu_count(), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # output rows in input order, as the local engine does
    # Small blocks, so that even one large file is spread over the whole actor pool
    # (a repartition would need CPUs that the actors already hold).
    ctx.target_max_block_size = BLOCK_BYTES
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = workers or max(1, cpus // 2)
    threads = max(1, cpus // workers)
    # Read and parse tasks ask for no CPU: with CPUs on them, the actor pool could hold every
    # CPU while the reads it waits on cannot start.
    actor_cpus = max(0.1, cpus / workers)

    parsed = ray.data.read_binary_files([str(f.resolve()) for f in files], include_paths=True,
                                        num_cpus=IO_CPUS).flat_map(_parse_file, num_cpus=IO_CPUS)
    results = parsed.map_batches(
        _Classifier, batch_size=max(opts.batch_size * 8, 256), batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=actor_cpus,
        fn_constructor_kwargs={"model_dir": model_dir, "opts": asdict(opts), "threads": threads},
    ).materialize()
    rows = results.filter(expr="kind == 'row'")
    rejects = results.filter(expr="kind == 'reject'")
    n_read = sum(int(r["payload"]) for r in results.filter(expr="kind == 'read'").take_all())
    n_rows, n_rejects = rows.count(), rejects.count()
    _write_folder(rows, n_rows, output, fmt)
    _write_folder(rejects, n_rejects, rejects_path(output), "jsonl")
    summary = BatchSummary(read=n_read, rejected=n_rejects, classified=n_read - n_rejects, output_rows=n_rows,
                           output=str(output), rejects=str(rejects_path(output)), inputs=[str(f) for f in files])
    summary.seconds = time.time() - start
    summary.manifest = str(write_manifest(output, clf, opts, summary, engine=f"ray ({workers} workers)"))
    return summary
