"""`conflictclf demo`: the whole path on bundled defaults."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import typer

from conflictclf.cli._util import err, handle_errors, out
from conflictclf.data.errors import InputError
from conflictclf.model.paths import default_model_dir
from conflictclf.train.config import TrainConfig

# A seed article from the held-out test split, so the demo shows unseen text.
EXAMPLE_ARTICLE = "002_6de1bcf2359c4b2d.txt"


@handle_errors
def demo_cli(
    model: Path | None = typer.Option(None, "--model", "-m", help="Model directory. Default: the per-user model."),
    retrain: bool = typer.Option(False, "--retrain", help="Train even if the model exists."),
    preset: str = typer.Option(TrainConfig.preset, "--preset", help="Model to train if there is none: accurate (all-mpnet-base-v2; training and export took 687 s on 2 CPU cores) or fast (all-MiniLM-L6-v2; 630-805 s)."),
) -> None:
    """Train the default model if there is none, then classify the bundled example article.

    Example: conflictclf demo
    """
    from conflictclf.cli.render import print_articles
    from conflictclf.model.articles import classify_texts, read_article
    from conflictclf.model.classifier import EventClassifier
    from conflictclf.model.modeldir import META_FILE
    from conflictclf.train.trainer import train

    target = model or default_model_dir()
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: is a file, not a model folder")
    if retrain or not (target / META_FILE).is_file():
        cfg = TrainConfig.for_preset(preset)  # a bad preset is refused before the notice below
        err.print(f"no model at {target}: training the {preset} preset on the bundled corpus "
                  "(minutes on a GPU, 10-20 on a 2-core CPU)", markup=False)
        train(cfg, None, target, log=lambda m: err.print(m, markup=False))
    article = str(files("conflictclf.data") / "articles" / EXAMPLE_ARTICLE)
    clf = EventClassifier.from_pretrained(target)
    print_articles(out, classify_texts(clf, [(article, read_article(article))]))
