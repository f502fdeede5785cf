"""`conflictclf classify`: articles in, labelled sentences out."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from conflictclf.cli._util import handle_errors, out
from conflictclf.cli.colours import TERMINAL_COLOURS as COLOURS
from conflictclf.model.errors import InputError

FORMATS = ("table", "json", "jsonl", "csv", "html")


@handle_errors
def classify_cli(
    files: list[str] | None = typer.Argument(None, help="Article files (text or HTML); '-' reads stdin."),
    text: str | None = typer.Option(None, "--text", "-t", help="Classify this text instead of files."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model directory. Default: $CONFLICTCLF_MODEL_DIR or the per-user model."),
    fmt: str | None = typer.Option(None, "--format", "-f", help="table, json, jsonl, csv or html (one self-contained page). Default: table on a terminal, else jsonl."),
    threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0, help="One threshold for all labels instead of the tuned ones."),
    labels: str | None = typer.Option(None, "--labels", help="Comma-separated labels to report (default: all)."),
    backend: str = typer.Option("auto", "--backend", help="auto, torch, bf16, onnx or onnx-int8."),
    explain: bool = typer.Option(False, "--explain", help="Also give, for each label, the words that drove it (json/jsonl: `rationales`; table and html: underlined)."),
) -> None:
    """Split articles into sentences and label each one.

    Example: conflictclf classify article.txt   |   echo "Rebels shelled the town." | conflictclf classify -
    |   conflictclf classify data/articles/*.txt --explain --format html > report.html
    """
    from conflictclf.model.articles import classify_articles, decode_article, read_article
    from conflictclf.model.classifier import EventClassifier

    fmt = fmt or ("table" if sys.stdout.isatty() else "jsonl")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    if explain and fmt == "csv":
        raise InputError("--explain gives spans per label, which csv cannot hold: use json, jsonl, html or table")
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
    clf = EventClassifier.from_pretrained(model, backend=backend)
    keep = _parse_labels(labels, clf.labels)
    rows = classify_articles(clf, articles, threshold)
    records = [r.to_dict() | {"labels": [x for x in r.labels if x in keep],
                              "scores": {k: v for k, v in r.scores.items() if k in keep}} for r in rows]
    if explain:
        from conflictclf.model.explain import explain_labels

        found = explain_labels(clf, [r["text"] for r in records], [r["labels"] for r in records], threshold)
        for r, rats in zip(records, found):
            r["rationales"] = {lab: [x.to_dict() for x in spans] for lab, spans in rats.items()}
    if fmt == "html":
        from conflictclf.cli.report_page import build_report
        from conflictclf.data.results import group_articles, rows_from_records

        page = build_report(group_articles(rows_from_records(records)), source=", ".join(src for src, _ in articles[:3])
                            + (f" and {len(articles) - 3} more" if len(articles) > 3 else ""), labels=keep)
        sys.stdout.write(page)
    elif fmt == "table":
        _print_table(records, keep, [src for src, _ in articles])
    elif fmt == "json":
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
    elif fmt == "jsonl":
        for r in records:
            typer.echo(json.dumps(r, ensure_ascii=False))
    else:
        w = csv.writer(sys.stdout)
        w.writerow(["source", "index", "start", "end", "text", "labels", *[f"score_{x}" for x in keep]])
        for r in records:
            w.writerow([r["source"], r["index"], r["start"], r["end"], r["text"], ";".join(r["labels"]),
                        *[f"{r['scores'][x]:.4f}" for x in keep]])


def _parse_labels(spec: str | None, known: list[str]) -> list[str]:
    if not spec:
        return known
    wanted = [x.strip() for x in spec.split(",") if x.strip()]
    unknown = [x for x in wanted if x not in known]
    if unknown:
        raise InputError(f"unknown label {unknown[0]!r} (this model knows: {', '.join(known)})")
    return wanted


def _emphasised(record: dict) -> Text:
    """The sentence with each label's rationale words underlined in the label's colour."""
    text = Text(record["text"])
    for lab, spans in record.get("rationales", {}).items():
        for r in spans:
            text.stylize(f"underline bold {COLOURS.get(lab, 'green')}", r["start"], r["end"])
    return text


def _print_table(records: list[dict], labels: list[str], sources: list[str]) -> None:
    for src in dict.fromkeys(sources):
        rows = [r for r in records if r["source"] == src]
        t = Table(title=f"{src}: {len(rows)} sentences", title_justify="left", show_lines=False, expand=True)
        t.add_column("#", justify="right", width=3)
        t.add_column("sentence", ratio=1)
        t.add_column("labels", width=22)
        t.add_column("scores", width=26)
        for r in rows:
            tags = Text(", ".join(r["labels"]) or "-")
            for lab in r["labels"]:
                start = tags.plain.find(lab)
                tags.stylize(f"bold {COLOURS.get(lab, 'green')}", start, start + len(lab))
            scores = " ".join(f"{lab[:3]} {r['scores'][lab]:.2f}" for lab in labels)
            t.add_row(str(r["index"]), _emphasised(r), tags, scores)
        out.print(t)
        counts = Counter(lab for r in rows for lab in r["labels"])
        none = sum(not r["labels"] for r in rows)
        summary = "  ".join(f"[{COLOURS.get(lab, 'green')}]{lab}[/] {counts.get(lab, 0)}" for lab in labels)
        out.print(f"summary: {summary}  none {none}\n")
