"""`conflictclf batch`: record files in, labelled records out."""

from __future__ import annotations

from pathlib import Path

import typer

from conflictclf.cli._util import BACKEND_HELP, err, handle_errors, out
from conflictclf.model.engines.common import DEFAULT_BLOCK_BYTES, DEFAULT_CHUNK_SIZE, BatchOptions
from conflictclf.model.classifier import DEFAULT_BATCH_SIZE
from conflictclf.data.errors import InputError

_DEFAULT_BLOCK = f"{DEFAULT_BLOCK_BYTES >> 20}M"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _bytes(text: str) -> int:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    try:
        n = int(float(t[:len(t) - len(unit)]) * _UNITS[unit])
    except (ValueError, OverflowError):  # "x", "nan"; "inf"
        n = 0
    if n < 1:
        raise InputError(f"--block-size {text!r}: give a size such as 4096, 512K or 32M")
    return n


@handle_errors
def batch_cli(
    input: Path = typer.Argument(..., help="JSONL, CSV or Parquet file (by extension), or a folder of them."),
    output: Path = typer.Argument(..., help="Output file; its extension (.jsonl, .csv, .parquet) sets the format."),
    text_field: str = typer.Option("text", "--text-field", help="Field holding the text to classify."),
    id_field: str = typer.Option("id", "--id-field", help="Field identifying a record (reported with rejects)."),
    segment: bool = typer.Option(False, "--segment", help="Records are articles: output one row per sentence with index and offsets."),
    long: str = typer.Option("segment", "--long", help="A record longer than the model reads (max_length tokens): segment (classify each sentence; the row gets any sentence's labels and the highest scores), truncate (its start only) or reject. Truncated rows are counted either way."),
    batch_size: int = typer.Option(DEFAULT_BATCH_SIZE, "--batch-size", min=1, help="Sentences per forward pass."),
    chunk_size: int = typer.Option(DEFAULT_CHUNK_SIZE, "--chunk-size", min=1, help="Input rows per resumable chunk."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from its last finished chunk (ray: unit)."),
    block_size: str = typer.Option(_DEFAULT_BLOCK, "--block-size", help="Ray engine: input bytes per unit of work, retry and resume (e.g. 4096, 512K, 32M)."),
    backend: str = typer.Option("auto", "--backend", help=BACKEND_HELP),
    threads: int | None = typer.Option(None, "--threads", min=1, help="CPU threads for the ONNX backends (default: all this process may use; local engine)."),
    engine: str = typer.Option("local", "--engine", help="local, or ray (a Ray cluster; pip install 'conflictclf\\[ray]')."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Join this Ray cluster; default: start a local Ray."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Ray actors, each holding one model copy (default: CPUs / 2, or with --gpus-per-worker as many as the GPUs hold)."),
    gpus_per_worker: float = typer.Option(0.0, "--gpus-per-worker", help="Ray engine: GPUs each actor asks for (0.5: two share a card); the actors then run auto on their GPU. Default 0: CPUs only."),
    threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0, help="One threshold for all labels."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model directory. Default: $CONFLICTCLF_MODEL_DIR or the per-user model."),
    roles: bool = typer.Option(False, "--roles", help="Also write `roles`: who did what to whom, where, when and how many, in each labelled text (offsets into the text field)."),
    date: str | None = typer.Option(None, "--date", help="With --roles: the records' publication date (YYYY-MM-DD), to resolve 'on Tuesday' or 'last week'."),
    date_field: str | None = typer.Option(None, "--date-field", help="With --roles: the field holding each record's publication date."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Classify every record of INPUT into OUTPUT; bad rows go to OUTPUT.rejects.jsonl with a reason.

    Also writes OUTPUT.manifest.json (model hash, thresholds, counts). Example:
    conflictclf batch news.jsonl labelled.parquet --text-field body --segment

    On Ray: conflictclf batch /shared/news/ /shared/out/labelled.parquet --engine ray --ray-address auto

    On Ray with GPUs: conflictclf batch /shared/news/ /shared/out/labelled.parquet --engine ray --ray-address auto --gpus-per-worker 0.5
    """
    if engine not in ("local", "ray"):
        raise InputError(f"--engine {engine!r}: choose local or ray")
    opts = BatchOptions(text_field=text_field, id_field=id_field, segment=segment, long=long, batch_size=batch_size,
                        chunk_size=chunk_size, backend=backend, threshold=threshold, resume=resume,
                        threads=threads, block_bytes=_bytes(block_size), gpus_per_worker=gpus_per_worker,
                        roles=roles, date=date, date_field=date_field)
    if engine == "ray":
        from conflictclf.model.engines.ray import run_batch_ray

        with _progress(quiet) as update:
            summary = run_batch_ray(input, output, model, opts, address=ray_address, workers=workers,
                                    on_progress=update)
    else:
        from conflictclf.model.engines.local import run_batch

        with _progress(quiet) as update:
            summary = run_batch(input, output, model, opts, on_progress=update)
    if summary.rejected and not summary.output_rows and not summary.resumed_chunks:
        raise InputError(_all_rejected(summary))
    split = f" ({summary.split} long records classified sentence by sentence)" if summary.split else ""
    split += f", {summary.markup} pieces of markup stripped" if summary.markup else ""
    out.print(f"read {summary.read}, classified {summary.classified}, rejected {summary.rejected}, "
              f"truncated {summary.truncated}{split} -> {summary.output_rows} output rows in {summary.seconds:.1f}s "
              f"({summary.rows_per_second:.0f} rows/s)", markup=False)
    out.print(f"output {summary.output}\nrejects {summary.rejects}\nmanifest {summary.manifest}", markup=False)


def _all_rejected(summary) -> str:
    """Every row rejected means the input, not some rows, is wrong (a JSON array in a .jsonl,
    another encoding, broken CSV quoting): say so as an error, with the first reason, and take
    away the empty output and its manifest so that nothing looks like a result. The rejects stay."""
    import json

    from conflictclf.model.engines.assemble import remove_path

    for name in (summary.output, summary.manifest):
        remove_path(Path(name))  # a file, or the Ray engine's folder of parts
    try:
        first = json.loads(Path(summary.rejects).read_text(encoding="utf-8").splitlines()[0])
        reason = f"; the first, {first.get('file')}:{first.get('line')}: {first.get('reason')}"
    except (OSError, ValueError, IndexError, AttributeError):
        reason = ""
    return f"all {summary.rejected} rows were rejected{reason} (every reason: {summary.rejects})"


class _progress:
    """Rich progress bar on stderr with rows/s and ETA; a no-op when quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None

    def __enter__(self):
        if self.quiet:
            return lambda done, total: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("classifying"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]} rows/s"),
                            TextColumn("eta"), TimeRemainingColumn(), console=err, transient=True)
        self.bar.start()
        task = self.bar.add_task("batch", total=None, rate="-")

        def update(done: int, total: int) -> None:
            self.bar.update(task, completed=done, total=total)
            speed = self.bar.tasks[0].speed
            self.bar.update(task, rate=f"{speed:,.0f}" if speed else "-")

        return update

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
