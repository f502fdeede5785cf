"""A classifier shared by many callers at once: what `conflictclf serve` runs on.

Each caller submits articles (or single texts) and gets back exactly what
`classify_texts` would give it alone. Requests that arrive together are cut into
sentences, predicted in ONE `predict` call over all their sentences, and each request's
records are then built from its share of the predictions by the same code `classify`
uses (`label_segmented`). Rationales are computed per request that asks for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from conflictclf.data.errors import ConflictClfError
from conflictclf.model.articles import ArticlesResult, label_segmented, segment_articles
from conflictclf.model.batcher import MicroBatcher
from conflictclf.model.classifier import DEFAULT_BATCH_SIZE, EventClassifier

# Long enough for requests sent at the same moment by many clients to meet in one pass,
# short enough to add nothing a person or a pipeline would notice to a lone request.
DEFAULT_BATCH_WAIT_MS = 5.0


@dataclass(frozen=True)
class Job:
    articles: list[tuple[str, str]]  # (source, text), as `classify_texts` takes them
    explain: bool = False


@dataclass
class ServiceStats:
    requests: int  # jobs submitted
    batches: int  # `predict` calls made for them: fewer than requests when batching works
    largest_batch: int  # jobs in the largest single call
    sentences: int  # sentences predicted


class ClassifierService:
    """`classify_texts` for concurrent callers, their requests batched into shared forward passes.

    >>> service = ClassifierService(EventClassifier.from_pretrained())
    >>> service.classify([("a", "Rebels shelled the town.")]).records[0].labels
    ['attack']

    `max_batch_texts`: texts (articles) that close a batch early; default DEFAULT_BATCH_SIZE
    per backend worker, so that a full batch gives every worker one full forward pass.
    """

    def __init__(self, clf: EventClassifier, batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
                 max_batch_texts: int | None = None) -> None:
        self.clf = clf
        self.sentences = 0
        size = max_batch_texts or DEFAULT_BATCH_SIZE * max(1, getattr(clf.backend, "workers", 1))
        self._batcher: MicroBatcher[Job, ArticlesResult] = MicroBatcher(
            self._run, batch_wait_ms / 1000, size, size=lambda job: len(job.articles))

    def submit(self, articles: Sequence[tuple[str, str]], explain: bool = False) -> Future[ArticlesResult]:
        """Queue (source, text) pairs; the future holds their `ArticlesResult`."""
        return self._batcher.submit(Job(list(articles), explain))

    def classify(self, articles: Sequence[tuple[str, str]], explain: bool = False) -> ArticlesResult:
        return self.submit(articles, explain).result()

    @property
    def stats(self) -> ServiceStats:
        s = self._batcher.stats
        return ServiceStats(s.submitted, s.calls, s.largest_batch, self.sentences)

    def close(self) -> None:
        """Finish what was submitted, then stop."""
        self._batcher.close()

    def _run(self, jobs: list[Job]) -> list[ArticlesResult | BaseException]:
        segs = [segment_articles(job.articles) for job in jobs]
        texts = [t for seg in segs for t in seg.texts]
        preds = self.clf.predict(texts)  # the one forward pass every job of this batch shares
        self.sentences += len(texts)
        results: list[ArticlesResult | BaseException] = []
        start = 0
        for job, seg in zip(jobs, segs):
            share = preds[start:start + len(seg.units)]
            start += len(seg.units)
            try:
                results.append(label_segmented(self.clf, seg, share, explain=job.explain))
            except ConflictClfError as exc:  # this job's own problem (its explain, say): its caller's alone
                results.append(exc)
        return results
