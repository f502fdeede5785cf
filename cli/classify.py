"""`conflictclf classify`: articles in, labelled sentences out."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from conflictclf.cli._util import BACKEND_HELP, err, handle_errors, out
from conflictclf.data.errors import InputError

if TYPE_CHECKING:
    from conflictclf.model.articles import ArticlesResult

FORMATS = ("table", "json", "jsonl", "csv", "html")


@handle_errors
def classify_cli(
    files: list[str] | None = typer.Argument(None, help="Article files (text or HTML); '-' reads stdin."),
    text: str | None = typer.Option(None, "--text", "-t", help="Classify this text instead of files."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model directory. Default: $CONFLICTCLF_MODEL_DIR or the per-user model."),
    fmt: str | None = typer.Option(None, "--format", "-f", help="table, json, jsonl, csv or html (one self-contained page). Default: table on a terminal, else jsonl."),
    threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0, help="One threshold for all labels instead of the tuned ones."),
    labels: str | None = typer.Option(None, "--labels", help="Comma-separated labels to report (default: all)."),
    backend: str = typer.Option("auto", "--backend", help=BACKEND_HELP),
    explain: bool = typer.Option(False, "--explain", help="Also give, for each label, the words that drove it (json/jsonl: `rationales`; table and html: underlined)."),
    roles: bool = typer.Option(False, "--roles", help="Also give who did what to whom, where, when and how many, inside each labelled sentence (json/jsonl: `roles`; table: under the sentence)."),
    date: str | None = typer.Option(None, "--date", help="The articles' publication date (YYYY-MM-DD), to resolve 'on Tuesday' or 'last week' with --roles. Default: each article's dateline, if it has one."),
) -> None:
    """Split articles into sentences and label each one.

    Markup pasted into text (tags, scripts) is stripped and the prose kept; what was
    stripped or left out is counted in the table's summary line (other formats: on stderr).

    Example: conflictclf classify article.txt   |   echo "Rebels shelled the town." | conflictclf classify -
    |   conflictclf classify data/articles/*.txt --explain --format html > report.html
    """
    from conflictclf.model.articles import classify_texts
    from conflictclf.model.classifier import EventClassifier

    fmt = fmt or ("table" if sys.stdout.isatty() else "jsonl")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    if explain and fmt == "csv":
        raise InputError("--explain gives spans per label, which csv cannot hold: use json, jsonl, html or table")
    if roles and fmt == "csv":
        raise InputError("--roles gives spans per sentence, which csv cannot hold: use json, jsonl, html or table")
    if date is not None and not roles:
        raise InputError("--date is used to resolve times in roles: add --roles")
    articles = _read_inputs(files, text)
    clf = EventClassifier.from_pretrained(model, backend=backend)
    tagger, dates = None, None
    if roles:
        from conflictclf.model.events.dates import parse_article_date
        from conflictclf.model.events.tagger import RoleTagger

        tagger = RoleTagger.from_pretrained(clf.path or model)
        if date is not None:
            day = parse_article_date(date)
            dates = {src: day for src, _ in articles}
    wanted = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    result = classify_texts(clf, articles, threshold, wanted, explain=explain, roles=tagger, dates=dates)
    if fmt == "table":
        from conflictclf.cli.render import print_articles

        print_articles(out, result)
        return
    write_records(result, fmt)
    if result.left_out():
        err.print(f"note: {result.left_out()}", markup=False)


def _read_inputs(files: list[str] | None, text: str | None) -> list[tuple[str, str]]:
    """(source, text) pairs from --text, files or stdin ('-')."""
    from conflictclf.data.records import surrogate_problem
    from conflictclf.model.articles import decode_article, read_article

    if text is not None and files:
        raise InputError("give either --text or files, not both")
    if text is not None:
        articles = [("text", text)]
    elif files:
        articles = [("stdin", decode_article(sys.stdin.buffer.read(), "stdin")) if f == "-" else (f, read_article(f))
                    for f in files]
    else:
        raise InputError("nothing to classify: give files, '-' for stdin, or --text")
    if not any(t.strip() for _, t in articles):
        raise InputError("the input holds no text")
    for src, t in articles:
        bad = surrogate_problem(t)
        if bad:
            raise InputError(f"{src}: {bad}")
    return articles


def write_records(result: ArticlesResult, fmt: str) -> None:
    """The records of a `classify_texts` result on stdout as json, jsonl, csv or one HTML page."""
    records = [r.to_dict() for r in result.records]
    if fmt == "html":
        from conflictclf.cli.report_page import build_report
        from conflictclf.data.results import group_articles, rows_from_records

        srcs = result.sources
        source = ", ".join(srcs[:3]) + (f" and {len(srcs) - 3} more" if len(srcs) > 3 else "")
        sys.stdout.write(build_report(group_articles(rows_from_records(records)), source=source, labels=result.labels))
    elif fmt == "json":
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
    elif fmt == "jsonl":
        for r in records:
            typer.echo(json.dumps(r, ensure_ascii=False))
    else:
        w = csv.writer(sys.stdout)
        w.writerow(["source", "index", "start", "end", "text", "labels", *[f"score_{x}" for x in result.labels]])
        for r in result.records:
            w.writerow([r.source, r.index, r.start, r.end, r.text, ";".join(r.labels),
                        *[f"{r.scores[x]:.4f}" for x in result.labels]])
