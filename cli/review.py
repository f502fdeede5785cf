"""`conflictclf review`."""

from __future__ import annotations

from pathlib import Path

import typer

from conflictclf.cli._util import err, handle_errors, out
from conflictclf.data.errors import InputError


@handle_errors
def review_cli(
    results: Path = typer.Argument(..., help="JSONL output of `classify --format jsonl` or `batch`."),
    output: Path = typer.Option(..., "--output", "-o", help="Task file to write (Label Studio: .json, plus a .label-config.xml next to it)."),
    n: int = typer.Option(200, "--n", min=1, help="Sentences to pick."),
    strategy: str = typer.Option("uncertain", "--strategy", help="uncertain (nearest a threshold, every label represented), disagree (two --model give different labels) or random."),
    fmt: str = typer.Option("label-studio", "--format", "-f", help="label-studio, doccano or jsonl."),
    model: list[Path] | None = typer.Option(None, "--model", "-m", help="uncertain: the model that wrote RESULTS (its thresholds; default: the batch manifest, else the per-user model). disagree: give two, A and B."),
    text_field: str = typer.Option("text", "--text-field", help="Field holding the sentence in RESULTS."),
    seed: int = typer.Option(0, "--seed", help="Seed for --strategy random."),
) -> None:
    """Pick the sentences of a classify/batch run most worth a human look, as annotation tasks.

    The model's labels go in as pre-annotations; each task keeps its article id and offsets.

    Example: conflictclf review labelled.jsonl --n 100 -o review.json   (then import review.json
    into Label Studio with review.label-config.xml as the labelling interface)
    """
    from conflictclf.data.tasks import FORMATS, write_tasks
    from conflictclf.train.review import STRATEGIES, review_queue

    if strategy not in STRATEGIES:
        raise typer.BadParameter(f"must be one of {', '.join(STRATEGIES)}", param_hint="--strategy")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    queue = review_queue(results, strategy, n, list(model or []), text_field, seed)
    if not queue.picked:
        raise InputError(f"no sentences to review in {results} with --strategy {strategy}")
    paths = write_tasks(queue.picked, fmt, output, queue.labels, model_version=queue.model_version)
    if len(queue.picked) < n:
        err.print(f"only {len(queue.picked)} sentences qualified (asked for {n})", markup=False)
    out.print(f"wrote {len(queue.picked)} {strategy} sentences from {queue.total} -> {', '.join(map(str, paths))}",
              markup=False)
