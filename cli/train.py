"""`conflictclf train`."""

from __future__ import annotations

from pathlib import Path

import typer

from conflictclf.cli._util import err, handle_errors, out
from conflictclf.cli.render import metrics_table
from conflictclf.train.config import PRESETS, TrainConfig, parse_overrides


def overrides_epilog() -> str:
    lines = ["Config keys (set in a --config TOML file or as --key value):\n\n"]
    defaults = TrainConfig().to_dict()
    for key, help_ in TrainConfig.field_help().items():
        fast = f"; fast preset {PRESETS['fast'][key]}" if key in PRESETS["fast"] else ""
        lines.append(f"--{key.replace('_', '-')} (default {defaults[key]}{fast}): {help_}\n\n")
    return "".join(lines)


@handle_errors
def train_cli(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML file with config keys (top level or a train table)."),
    data: list[Path] | None = typer.Option(None, "--data", "-d", help="Annotated JSONL file or folder (repeatable). Default: the bundled corpus."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Model directory to write. Default: the per-user model location ($CONFLICTCLF_MODEL_DIR overrides)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-epoch lines."),
    init_from: Path | None = typer.Option(None, "--init-from", help="Continue training this model directory on --data, mixed with a share of the bundled corpus (--bundled-share)."),
) -> None:
    """Fine-tune the classifier, tune one threshold per label on dev, calibrate its scores, and save the model.

    Example: conflictclf train --epochs 6 --learning-rate 5e-5 --output models/run1
    Continue from a model on your own annotations:
    conflictclf train --init-from ~/models/default --data mine.jsonl --output models/mine
    """
    from conflictclf.train.trainer import train

    cfg = TrainConfig.load(config, parse_overrides(list(ctx.args)))
    result = train(cfg, data, output, log=lambda m: err.print(m, markup=False), progress=not quiet,
                   init_from=init_from)
    for split in ("dev", "test"):
        rep = result.metrics.get(split)
        if rep:
            out.print(metrics_table(rep, title=f"{split} split ({rep['n']} sentences, tuned thresholds)"))
    out.print(f"thresholds: {', '.join(f'{k} {v:.2f}' for k, v in result.thresholds.items())}")
    out.print(f"saved model to {result.output_dir} in {result.seconds:.0f}s", markup=False)
