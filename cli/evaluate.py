"""`conflictclf evaluate`."""

from __future__ import annotations

from pathlib import Path

import typer

from conflictclf.cli._util import BACKEND_HELP, handle_errors, out
from conflictclf.cli.render import calibration_table, compare_table, metrics_table


@handle_errors
def evaluate_cli(
    data: list[Path] = typer.Argument(..., help="Annotated JSONL files or folders."),
    model: list[Path] | None = typer.Option(None, "--model", "-m", help="Model directory. Default: the per-user model location. Give it twice (OLD then NEW) to compare two models per label."),
    split: str | None = typer.Option(None, "--split", help="train, dev, test or all. Default: test when the data has splits, else all."),
    threshold: float | None = typer.Option(None, "--threshold", min=0.0, max=1.0, help="One threshold for every label instead of the tuned ones."),
    baseline: str | None = typer.Option(None, "--baseline", help="Also train and score a baseline on the data's train split: tfidf."),
    output: Path = typer.Option(Path("evaluation"), "--output", "-o", help="Folder for metrics.json, pr_<label>.png and reliability.png."),
    backend: str = typer.Option("auto", "--backend", help=BACKEND_HELP),
) -> None:
    """Per-label precision, recall, F1 and support; micro/macro F1; exact match; calibration error.

    Example: conflictclf evaluate data/corpus --split test --baseline tfidf
    Two models side by side: conflictclf evaluate mine.jsonl --model OLD --model NEW
    """
    from conflictclf.train.evaluate import compare, evaluate

    if split is not None and split not in ("train", "dev", "test", "all"):
        raise typer.BadParameter("must be train, dev, test or all", param_hint="--split")
    models = list(model or [])
    if len(models) > 1:
        if baseline:
            raise typer.BadParameter("compare models or a baseline, not both", param_hint="--baseline")
        results = compare(models, data, output, split=split, threshold=threshold, backend=backend)
        out.print(compare_table([r.report for r in results], [f"{m} ({r.backend})" for m, r in zip(models, results)],
                                title=f"{results[0].split} ({results[0].report['n']} sentences)"))
        out.print(calibration_table([r.calibration for r in results], [str(m) for m in models]))
        out.print(f"wrote metrics.json, precision-recall curves and reliability.png under {output}/", markup=False)
        return
    res = evaluate(models[0] if models else None, data, output, split=split, threshold=threshold, baseline=baseline,
                   backend=backend)
    title = f"{res.split} ({res.report['n']} sentences, backend {res.backend})"
    out.print(metrics_table(res.report, title=title, other=res.baseline, other_name="tfidf"))
    out.print(calibration_table([res.calibration], ["model"]))
    if res.baseline:
        delta = res.report["macro_f1"] - res.baseline["macro_f1"]
        out.print(f"macro-F1: model {res.report['macro_f1']:.3f} vs tfidf {res.baseline['macro_f1']:.3f} ({delta:+.3f})")
    out.print(f"wrote {res.output_dir / 'metrics.json'}, precision-recall curves and reliability.png", markup=False)
