"""TF-IDF + logistic regression: the yardstick a fine-tuned model has to beat."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class TfidfBaseline:
    """One balanced logistic regression per label over word 1-2-gram TF-IDF."""

    def __init__(self, labels: Sequence[str], seed: int = 0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline

        self.labels = list(labels)
        self.pipeline_ = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
            OneVsRestClassifier(LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000, random_state=seed)),
        )

    def fit(self, texts: Sequence[str], y: np.ndarray) -> TfidfBaseline:
        self.pipeline_.fit(list(texts), y)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.pipeline_.predict_proba(list(texts)), dtype=np.float32)
