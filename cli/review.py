"""`conflictclf review`."""

from __future__ import annotations

from pathlib import Path

import typer

from conflictclf.cli._util import err, handle_errors, out
from conflictclf.model.errors import InputError


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
    from conflictclf.data.review import STRATEGIES, read_results, select_disagree, select_random, select_uncertain
    from conflictclf.data.tasks import FORMATS, write_tasks
    from conflictclf.model.review_models import model_labels, predict_labels, results_thresholds

    if strategy not in STRATEGIES:
        raise typer.BadParameter(f"must be one of {', '.join(STRATEGIES)}", param_hint="--strategy")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    models = list(model or [])
    cands = read_results(results, text_field)
    if strategy == "uncertain":
        if len(models) > 1:
            raise InputError("--strategy uncertain takes at most one --model")
        thresholds, version = results_thresholds(results, models[0] if models else None)
        picked = select_uncertain(cands, thresholds, n)
        labels = list(thresholds)
    elif strategy == "disagree":
        if len(models) != 2:
            raise InputError("--strategy disagree needs two models: --model A --model B")
        texts = [c.text for c in cands]
        a, labels = predict_labels(models[0], texts)
        b, _ = predict_labels(models[1], texts)
        for c, la in zip(cands, a):
            c.labels = la  # pre-annotate with model A's labels; B's go in the task as labels_b
        picked = select_disagree(cands, b, n, names=(str(models[0]), str(models[1])))
        version = f"A={models[0]} B={models[1]}"
    else:
        picked = select_random(cands, n, seed)
        labels, version = model_labels(results, models[0] if models else None)
    if not picked:
        raise InputError(f"no sentences to review in {results} with --strategy {strategy}")
    paths = write_tasks(picked, fmt, output, labels, model_version=version)
    if len(picked) < n:
        err.print(f"only {len(picked)} sentences qualified (asked for {n})", markup=False)
    out.print(f"wrote {len(picked)} {strategy} sentences from {len(cands)} -> {', '.join(map(str, paths))}", markup=False)
