"""`conflictclf incidents`: many articles in, one record per real-world incident out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from conflictclf.cli._util import BACKEND_HELP, err, handle_errors, out
from conflictclf.data.errors import InputError

OUTPUT_FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".html": "html", ".htm": "html"}
ARTICLE_SUFFIXES = (".txt", ".text", ".md", ".html", ".htm")


@handle_errors
def incidents_cli(
    inputs: list[Path] = typer.Argument(..., help="Article files (text or HTML); or one JSONL/CSV/Parquet file or folder of articles (one record each) or of `batch --segment --roles` output."),
    output: list[Path] = typer.Option(..., "--output", "-o", help="Where to write; the extension sets the format: .jsonl (PLOVER-shaped records), .csv (one flat row per incident), .html (the incidents view). Repeat for several."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model directory (with its role tagger). Default: $CONFLICTCLF_MODEL_DIR or the per-user model."),
    date: str | None = typer.Option(None, "--date", help="Article files: their publication date (YYYY-MM-DD). Default: each one's dateline."),
    id_field: str = typer.Option("id", "--id-field", help="Record files: the field naming each article."),
    text_field: str = typer.Option("text", "--text-field", help="Record files: the field holding the article (or, in batch output, the sentence)."),
    date_field: str = typer.Option("date", "--date-field", help="Record files: the field holding each article's publication date (used when present)."),
    outlet_field: str = typer.Option("outlet", "--outlet-field", help="Record files: the field naming each article's outlet (used when present)."),
    resume: bool = typer.Option(False, "--resume", help="Articles records: continue an interrupted classification from its last finished chunk."),
    engine: str = typer.Option("local", "--engine", help="Articles records: classify with the local engine, or ray (pip install 'conflictclf\\[ray]')."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="With --engine ray: join this cluster; default: start a local Ray."),
    backend: str = typer.Option("auto", "--backend", help=BACKEND_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Group the labelled sentences of many articles into incidents: one record per act, with its date, place, actor, recipient, dead and injured, who claimed it, what it answered, and every source's sentences as evidence.

    Article files are classified here. Records of articles (JSONL, CSV, Parquet) are classified first as a resumable `batch --segment --roles` job, its rows kept in OUTPUT.sentences.jsonl; the output of such a job can also be given directly.

    Example: conflictclf incidents news/*.txt -o incidents.jsonl -o incidents.html

    Archive: conflictclf incidents archive.jsonl --date-field published -o incidents.csv --resume
    """
    from conflictclf.model.events.pipeline import build_incidents

    formats = _formats(output)
    rejects: list[dict[str, Any]] = []
    with _progress(quiet) as tick:
        articles = _articles(inputs, output[0], model, date, id_field, text_field, date_field, outlet_field,
                             resume, engine, ray_address, backend, quiet, rejects)
        result = build_incidents(articles, on_article=tick)
    try:
        if not result.articles:
            raise InputError("no article could be read" + (f" ({len(rejects)} rows rejected)" if rejects else ""))
        for path, fmt in formats:
            _write(path, fmt, result, inputs)
    finally:
        result.close()
    out.print(f"{_n(result.articles, 'article')}, {_n(result.sentences, 'labelled sentence')} -> "
              f"{_n(result.events, 'event')} -> {_n(result.incidents, 'incident')} "
              f"({result.several_sources} reported by several articles)", markup=False)
    if rejects:
        path = _write_rejects(output[0], rejects)
        err.print(f"note: {len(rejects)} rows rejected, each with its reason in {path}", markup=False)
    for path, _ in formats:
        out.print(f"wrote {path}", markup=False)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _formats(outputs: list[Path]) -> list[tuple[Path, str]]:
    found = []
    for p in outputs:
        fmt = OUTPUT_FORMATS.get(p.suffix.lower())
        if fmt is None:
            raise InputError(f"--output {p}: unknown extension {p.suffix or '(none)'!r} (use .jsonl, .csv or .html)")
        found.append((p, fmt))
    return found


def _articles(inputs: list[Path], first_out: Path, model: Path | None, date: str | None, id_field: str,
              text_field: str, date_field: str, outlet_field: str, resume: bool, engine: str,
              ray_address: str | None, backend: str, quiet: bool, rejects: list[dict[str, Any]]):
    """The input as articles with labelled sentences and roles (an iterator for record files)."""
    from conflictclf.data import tabular
    from conflictclf.data.incident_input import RowFields, looks_like_results, read_articles
    from conflictclf.model.events.dates import parse_article_date

    if all(p.suffix.lower() in ARTICLE_SUFFIXES or str(p) == "-" for p in inputs):
        return _article_files(inputs, model, date, backend)
    if len(inputs) != 1:
        raise InputError("give article files (.txt, .html), or one record file or folder")
    if date is not None:
        raise InputError("--date is for article files; record files give theirs in --date-field")
    files = tabular.input_files(inputs[0])
    fields = RowFields(id_field, date_field, outlet_field, text_field)
    if not looks_like_results(files[0]):
        # the Ray engine writes a folder of parts, in input order
        files = tabular.input_files(_classify_records(inputs[0], first_out, model, fields, resume, engine,
                                                      ray_address, backend, quiet))

    def reject(file: str, line: int, reason: str, rid: Any) -> None:
        rejects.append({"file": file, "line": line, "id": rid, "reason": reason})

    return read_articles(files, fields, reject, parse_article_date)


def _article_files(inputs: list[Path], model: Path | None, date: str | None, backend: str):
    from conflictclf.cli.classify import _read_inputs
    from conflictclf.model.classifier import EventClassifier
    from conflictclf.model.events.dates import parse_article_date
    from conflictclf.model.events.pipeline import classify_for_incidents

    articles = _read_inputs([str(p) for p in inputs], None)
    clf = EventClassifier.from_pretrained(model, backend=backend)
    day = parse_article_date(date) if date else None
    return classify_for_incidents(clf, articles, {src: day for src, _ in articles} if day else None)


def _classify_records(source: Path, first_out: Path, model: Path | None, fields, resume: bool, engine: str,
                      ray_address: str | None, backend: str, quiet: bool) -> Path:
    """Run the batch job (segment, roles) into OUTPUT.sentences.jsonl and return its path."""
    from conflictclf.cli.batch import _progress as batch_progress
    from conflictclf.model.engines.common import BatchOptions

    work = first_out.with_name(first_out.stem + ".sentences.jsonl")
    opts = BatchOptions(text_field=fields.text, id_field=fields.id, segment=True, backend=backend, resume=resume,
                        roles=True, date_field=fields.date if _has_field(source, fields.date) else None)
    with batch_progress(quiet) as update:
        if engine == "ray":
            from conflictclf.model.engines.ray import run_batch_ray

            summary = run_batch_ray(source, work, model, opts, address=ray_address, on_progress=update)
        elif engine == "local":
            from conflictclf.model.engines.local import run_batch

            summary = run_batch(source, work, model, opts, on_progress=update)
        else:
            raise InputError(f"--engine {engine!r}: choose local or ray")
    if summary.rejected and not summary.output_rows and not summary.resumed_chunks:
        from conflictclf.cli.batch import _all_rejected

        raise InputError(_all_rejected(summary))
    err.print(f"classified {summary.classified} articles, rejected {summary.rejected} (reasons: {summary.rejects}) "
              f"-> {work}", markup=False)
    return work


def _has_field(source: Path, name: str) -> bool:
    from conflictclf.data import tabular
    from conflictclf.model.engines.common import sample_records

    files = tabular.input_files(source)
    declared = tabular.fields(files[0])
    if declared is not None:
        return name in declared
    return any(name in r for r in sample_records(files, 50))


def _write(path: Path, fmt: str, result, inputs: list[Path]) -> None:
    """One output, streamed from the records on disk (the HTML page is built whole)."""
    import csv

    from conflictclf.data.files import atomic_writer
    from conflictclf.model.events.records import FLAT_COLUMNS, flat_row

    try:
        with atomic_writer(path) as f:
            if fmt == "jsonl":
                for r in result.records():
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            elif fmt == "csv":
                w = csv.DictWriter(f, fieldnames=list(FLAT_COLUMNS))
                w.writeheader()
                for r in result.records():
                    w.writerow(flat_row(r))
            else:
                from conflictclf.cli.incidents_page import build_incidents_page

                f.write(build_incidents_page(list(result.records()), source=", ".join(str(p) for p in inputs[:3]),
                                             articles=result.articles))
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror})") from None


def _write_rejects(first_out: Path, rejects: list[dict[str, Any]]) -> Path:
    from conflictclf.data.files import atomic_write_text

    path = first_out.with_name(first_out.stem + ".rejects.jsonl")
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects))
    return path


class _progress:
    """Articles grouped so far, on stderr; a no-op when quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar = quiet, None

    def __enter__(self):
        if self.quiet:
            return lambda: None
        from rich.progress import Progress, SpinnerColumn, TextColumn

        self.bar = Progress(SpinnerColumn(), TextColumn("grouping articles: {task.completed}"), console=err,
                            transient=True)
        self.bar.start()
        task = self.bar.add_task("incidents", total=None)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
