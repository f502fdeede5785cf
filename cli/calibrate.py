"""`conflictclf calibrate`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from conflictclf.cli._util import handle_errors, out


@handle_errors
def calibrate_cli(
    model: Path | None = typer.Argument(None, help="Model directory. Default: $CONFLICTCLF_MODEL_DIR or the per-user model."),
    data: list[Path] | None = typer.Option(None, "--data", "-d", help="Annotated JSONL the model was tuned on (repeatable). Default: the bundled corpus."),
    split: str = typer.Option("dev", "--split", help="Held-out split to fit on: dev (default), test or all."),
    method: str = typer.Option("platt", "--method", help="platt (scale and shift per label) or temperature (scale only)."),
    backend: str = typer.Option("torch", "--backend", help="Backend whose scores are fitted; torch is the fp32 reference."),
) -> None:
    """Fit per-label score calibration on held-out data and store it in the model's conflictclf.json.

    Decisions do not change; scores become probabilities. Models trained by this version are
    calibrated already; use this for older models or to refit on your own dev data.
    Example: conflictclf calibrate ~/.local/share/conflictclf/models/default
    """
    from conflictclf.train.calibration import calibrate_model

    if split not in ("train", "dev", "test", "all"):
        raise typer.BadParameter("must be train, dev, test or all", param_hint="--split")
    res = calibrate_model(model, data, split=split, method=method, backend=backend)
    t = Table(title=f"expected calibration error on {split} ({res.sentences} sentences)", title_justify="left")
    for col in ("label", "scale", "bias", "ECE before", "ECE after"):
        t.add_column(col, justify="left" if col == "label" else "right")
    for j, lab in enumerate(res.labels):
        t.add_row(lab, f"{res.calibration.scale[j]:.3f}", f"{res.calibration.bias[j]:+.3f}",
                  f"{res.ece['before'][lab]:.4f}", f"{res.ece['after'][lab]:.4f}")
    t.add_section()
    t.add_row("mean", "", "", f"{res.ece['before']['mean']:.4f}", f"{res.ece['after']['mean']:.4f}", style="bold")
    out.print(t)
    out.print(f"saved calibration to {res.model_dir / 'conflictclf.json'}", markup=False)
