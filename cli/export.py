"""`conflictclf export`."""

from __future__ import annotations

from pathlib import Path

import typer

from conflictclf.cli._util import handle_errors, out
from conflictclf.model.paths import default_model_dir


@handle_errors
def export_cli(
    model: Path | None = typer.Option(None, "--model", "-m", help="Model directory. Default: the per-user model."),
    onnx: bool = typer.Option(True, "--onnx/--no-onnx", help="Export to ONNX (the only format so far)."),
    int8: bool = typer.Option(False, "--int8", help="Also write an int8 dynamically quantized copy."),
) -> None:
    """Export the model to ONNX inside its directory, for the onnx/onnx-int8 backends.

    Example: conflictclf export --onnx --int8   (then: conflictclf batch in.jsonl out.jsonl --backend onnx-int8)
    """
    from conflictclf.model.export import export_onnx

    if not onnx:
        raise typer.BadParameter("nothing to export: pass --onnx", param_hint="--onnx")
    for p in export_onnx(model or default_model_dir(), int8=int8):
        out.print(f"wrote {p}", markup=False)
