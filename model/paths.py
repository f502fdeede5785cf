"""Where trained models live by default."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

# Overrides the default model directory for `train`, `classify`, `batch` and the API.
MODEL_DIR_ENV = "CONFLICTCLF_MODEL_DIR"


def default_model_dir() -> Path:
    """The model `train` writes and `classify` reads when no directory is given."""
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        return Path(env).expanduser()
    # Trained models are user data, kept outside any repository or site-packages.
    return Path(platformdirs.user_data_dir("conflictclf")) / "models" / "default"
