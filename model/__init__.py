"""The trained classifier and how it runs. `EventClassifier` is imported lazily so that
`conflictclf.data.errors` and `.paths` stay cheap to import (no torch)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conflictclf.model.classifier import EventClassifier, Prediction

__all__ = ["EventClassifier", "Prediction"]


def __getattr__(name: str):
    if name in __all__:
        from conflictclf.model import classifier

        return getattr(classifier, name)
    raise AttributeError(name)
