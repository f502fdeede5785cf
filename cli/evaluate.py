"""`conflictclf evaluate`."""

from __future__ import annotations

from pathlib import Path

import typer

from conflictclf.cli._util import handle_errors, out
from conflictclf.cli.render import metrics_table


@handle_errors
def evaluate_cli(
    data: list[Path] = typer.Argument(..., help="Annotated JSONL files or folders."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model directory. Default: the per-user model location."),
    split: str | None = typer.Option(None, "--split", help="train, dev, test or all. Default: test when the data has splits, else all."),
    threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0, help="One threshold for every label instead of the tuned ones."),
    baseline: str | None = typer.Option(None, "--baseline", help="Also train and score a baseline on the data's train split: tfidf."),
    output: Path = typer.Option(Path("evaluation"), "--output", "-o", help="Folder for metrics.json and pr_<label>.png."),
) -> None:
    """Per-label precision, recall, F1 and support; micro/macro F1; exact match.

    Example: conflictclf evaluate data/corpus --split test --baseline tfidf
    """
    from conflictclf.train.evaluate import evaluate

    if split is not None and split not in ("train", "dev", "test", "all"):
        raise typer.BadParameter("must be train, dev, test or all", param_hint="--split")
    res = evaluate(model, data, output, split=split, threshold=threshold, baseline=baseline)
    title = f"{res.split} ({res.report['n']} sentences)"
    out.print(metrics_table(res.report, title=title, other=res.baseline, other_name="tfidf"))
    if res.baseline:
        delta = res.report["macro_f1"] - res.baseline["macro_f1"]
        out.print(f"macro-F1: model {res.report['macro_f1']:.3f} vs tfidf {res.baseline['macro_f1']:.3f} ({delta:+.3f})")
    out.print(f"wrote {res.output_dir / 'metrics.json'} and precision-recall curves", markup=False)
