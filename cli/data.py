"""`conflictclf data validate|stats`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from conflictclf.cli._util import err, handle_errors, out
from conflictclf.data.corpus import SPEC_LABELS
from conflictclf.data.validate import Stats, validate
from conflictclf.data.errors import DataError

app = typer.Typer(help="Check and describe annotated corpora.", no_args_is_help=True)


def _labels(spec: str | None) -> list[str]:
    return [x.strip() for x in spec.split(",") if x.strip()] if spec else list(SPEC_LABELS)


@app.command("validate")
@handle_errors
def validate_cli(
    paths: list[Path] | None = typer.Argument(None, help="JSONL files or folders. Default: the bundled corpus."),
    labels: str | None = typer.Option(None, "--labels", help="Allowed labels, comma-separated. Default: attack,retaliation,claim,threat."),
) -> None:
    """Check schema, labels, ids, empty texts and duplicates across splits; print stats if clean.

    Every problem is printed as file:line: reason (a single one as the error line), and the exit code is 1.
    Example: conflictclf data validate data/corpus
    """
    problems, st = validate(paths, _labels(labels))
    if len(problems) == 1:
        raise DataError(problems[0])
    if problems:
        for p in problems:
            err.print(p, markup=False, soft_wrap=True)
        raise DataError(f"{len(problems)} problems (listed above)")
    _require_records(st)
    print_stats(st, _labels(labels))
    out.print("ok: no problems found")


@app.command("stats")
@handle_errors
def stats_cli(
    paths: list[Path] | None = typer.Argument(None, help="JSONL files or folders. Default: the bundled corpus."),
    labels: str | None = typer.Option(None, "--labels", help="Labels to show, comma-separated."),
) -> None:
    """Counts per label and split, the no-label share, and label combinations."""
    problems, st = validate(paths, _labels(labels))
    if problems:
        # counts of what could be read would hide what could not (and unknown labels go uncounted)
        more = f" and {len(problems) - 1} more (`conflictclf data validate` lists them)" if len(problems) > 1 else ""
        raise DataError(f"{problems[0]}{more}")
    _require_records(st)
    print_stats(st, _labels(labels))


def _require_records(st: Stats) -> None:
    if not st.n:
        raise DataError("the data holds no records (an empty file, or a folder without .jsonl files)")


def print_stats(st: Stats, labels: list[str]) -> None:
    t = Table(title=f"{st.n} sentences ({', '.join(f'{k} {v}' for k, v in sorted(st.sources.items()))})",
              title_justify="left")
    t.add_column("split")
    for col in (*labels, "none", "sentences"):
        t.add_column(col, justify="right")
    total = {k: 0 for k in (*labels, "none", "_n")}
    for split, c in st.by_split.items():
        t.add_row(split, *(str(c[k]) for k in (*labels, "none", "_n")))
        for k in total:
            total[k] += c[k]
    t.add_section()
    t.add_row("all", *(str(total[k]) for k in (*labels, "none", "_n")), style="bold")
    out.print(t)
    out.print(f"no-label share: {st.none_share:.1%}")
    c = Table(title="label combinations", title_justify="left")
    c.add_column("labels")
    c.add_column("sentences", justify="right")
    for combo, n in st.combos.most_common():
        c.add_row(combo, str(n))
    out.print(c)


@app.command("import")
@handle_errors
def import_cli(
    exports: list[Path] = typer.Argument(..., help="Label Studio JSON export, or doccano JSONL export (a file, a folder of per-user files, or the zip)."),
    output: Path = typer.Option(..., "--output", "-o", help="Corpus JSONL to write (text, labels, doc, order, split by document)."),
    source: str | None = typer.Option(None, "--from", help="label-studio or doccano. Default: .json is Label Studio, .jsonl/.zip/folder is doccano."),
    labels: str | None = typer.Option(None, "--labels", help="Labels to accept, comma-separated. Default: attack,retaliation,claim,threat."),
) -> None:
    """Turn an annotation tool's export into corpus records that `data validate` and `train` read.

    Tasks left unlabelled, annotators who disagree and unknown labels are each reported as
    one line on stderr and left out. Example:
    conflictclf data import project-3-at-2026-11-30.json --from label-studio -o mine.jsonl
    """
    from conflictclf.data.annotations import import_export, write_records

    allowed = _labels(labels)
    res = import_export(exports, allowed, source)
    for p in res.problems:
        err.print(p, markup=False, soft_wrap=True)
    if not res.records:
        raise typer.Exit(_fail_none(res.tasks))
    path = write_records(res.records, output)
    splits = {s: sum(r["split"] == s for r in res.records) for s in ("train", "dev", "test")}
    docs = len({r["doc"] for r in res.records})
    out.print(f"imported {len(res.records)} of {res.tasks} tasks from {docs} documents "
              f"({', '.join(f'{k} {v}' for k, v in splits.items())}); left out {len(res.problems)} -> {path}",
              markup=False)


def _fail_none(tasks: int) -> int:
    err.print(f"error: none of the {tasks} tasks could be imported (see the lines above)", markup=False)
    return 1
