"""`conflictclf report`: classify/batch JSONL results in, one self-contained HTML page out."""

from __future__ import annotations

from pathlib import Path

import typer

from conflictclf.cli._util import handle_errors, out


@handle_errors
def report_cli(
    results: Path = typer.Argument(..., help="JSONL written by `classify` (jsonl) or `batch` (.jsonl output)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="HTML file to write. Default: RESULTS with .html."),
    text_field: str = typer.Option("text", "--text-field", help="Field holding each row's sentence (batch: its --text-field)."),
    group_by: str | None = typer.Option(None, "--group-by", help="Field naming each row's article. Default: the first of doc, article, id, source, url, file that every row holds."),
    title: str = typer.Option("conflictclf report", "--title", help="Page title."),
) -> None:
    """Turn classify/batch results into one HTML page that works offline: labelled sentences,
    rationale words underlined, summaries, a chart, filtering and search.

    Example: conflictclf classify data/articles/*.txt --explain --format jsonl > r.jsonl && conflictclf report r.jsonl -o report.html
    """
    from conflictclf.cli.report_page import build_report, write_report
    from conflictclf.data.results import read_articles

    page = build_report(read_articles(results, text_field, group_by), title=title, source=str(results))
    path = write_report(page, output or results.with_suffix(".html"))
    out.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", markup=False)
