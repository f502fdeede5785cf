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
    int8: bool = typer.Option(False, "--int8", help="Also write an int8 dynamically quantized copy, check it against fp32 on the bundled sentences, and record whether `auto` may use it."),
) -> None:
    """Export the model to ONNX inside its directory, for the onnx/onnx-int8 backends.

    With --int8, the int8 copy's decisions (rechecked in fp32 near the thresholds) are compared
    with fp32's on the bundled corpus and probes; `auto` uses it only if they agree.

    Example: conflictclf export --onnx --int8   (then: conflictclf batch in.jsonl out.jsonl)
    """
    from conflictclf.model.backends import ONNX_FILE, ONNX_INT8_FILE
    from conflictclf.model.export import bundled_export_check, export_onnx

    if not onnx:
        raise typer.BadParameter("nothing to export: pass --onnx", param_hint="--onnx")
    model_dir = model or default_model_dir()
    if not int8:
        for p in export_onnx(model_dir):
            out.print(f"wrote {p}", markup=False)
        return
    check = bundled_export_check(model_dir)
    for name in (ONNX_FILE, ONNX_INT8_FILE):
        out.print(f"wrote {model_dir / name}", markup=False)
    out.print(check.summary(), markup=False)
